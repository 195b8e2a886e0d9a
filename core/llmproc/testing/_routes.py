"""Which endpoint a request hits: provider wire, action, streaming, model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from llmproc.testing import anthropic_wire, gemini_wire, openai_chat_wire, openai_responses_wire
from llmproc.testing._wire import Wire

Action = Literal["reply", "count"]


@dataclass(frozen=True, slots=True)
class Route:
    endpoint: str  # "anthropic", "vertex", "openai_chat", "openai_responses", "gemini"
    wire: Wire
    action: Action
    stream: bool
    model: str | None


_VERTEX = re.compile(
    r"^(?:/v1)?/projects/[^/]+/locations/[^/]+/publishers/anthropic/models/"
    r"(?P<model>[^/:]+):(?P<verb>rawPredict|streamRawPredict)$"
)
_GEMINI = re.compile(
    r"^/v1(?:beta|alpha)?/models/(?P<model>[^/:]+):(?P<verb>generateContent|streamGenerateContent|countTokens)$"
)
# OpenAI-compatible clients are sometimes configured without the /v1 suffix: accept both.
_OPENAI = re.compile(r"^(?:/v1)?/(?P<what>chat/completions|responses|responses/input_tokens)$")


def route(path: str, body: Any) -> Route | None:
    fields = body if isinstance(body, dict) else {}
    body_model = fields.get("model") if isinstance(fields.get("model"), str) else None
    body_stream = fields.get("stream") is True
    if path == "/v1/messages":
        return Route("anthropic", anthropic_wire.WIRE, "reply", body_stream, body_model)
    if path == "/v1/messages/count_tokens":
        return Route("anthropic", anthropic_wire.WIRE, "count", False, body_model)
    if m := _VERTEX.match(path):
        model = m["model"]
        if model == "count-tokens":
            return Route("vertex", anthropic_wire.WIRE, "count", False, body_model)
        stream = m["verb"] == "streamRawPredict" or body_stream
        return Route("vertex", anthropic_wire.WIRE, "reply", stream, model)
    if m := _OPENAI.match(path):
        what = m["what"]
        if what == "chat/completions":
            return Route("openai_chat", openai_chat_wire.WIRE, "reply", body_stream, body_model)
        action: Action = "count" if what == "responses/input_tokens" else "reply"
        return Route("openai_responses", openai_responses_wire.WIRE, action, body_stream, body_model)
    if m := _GEMINI.match(path):
        verb = m["verb"]
        action = "count" if verb == "countTokens" else "reply"
        return Route("gemini", gemini_wire.WIRE, action, verb == "streamGenerateContent", m["model"])
    return None


def count_body(r: Route, ctx: Any) -> dict[str, Any]:
    if r.endpoint == "gemini":
        return gemini_wire.count_tokens(ctx)
    if r.endpoint == "openai_responses":
        return openai_responses_wire.input_tokens(ctx)
    return anthropic_wire.count_tokens(ctx)
