"""Our messages <-> Gemini `generateContent` shapes (dicts in the SDK's snake_case field names).

Thought signatures. Gemini puts an opaque `thought_signature` (bytes) on any part: thought
summaries, function calls (required back on the first call of a step, or the API rejects the
turn) and plain text. Our `ToolCall`/`TextPart` have no signature field, so a signature on a
non-thought part is kept as a *carrier*: a `ThinkingPart` with empty text, provider "gemini" and
`id == SIGNATURE_CARRIER`, placed just before the part it belongs to; on the way back it is
re-attached to that next part. Signatures are stored URL-safe base64, as the SDK writes them.

Function calls usually come without ids; we make local ones (prefix `LOCAL_ID_PREFIX`) so the
engine can match results, and never send those back. Function responses need the function
name, taken from `ToolResult.name` or, failing that, from the call with the same id.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from llmproc.messages import Message, Part, TextPart, ThinkingPart, ToolCall, ToolResult, Usage
from llmproc.providers.base import ModelRequest, StopReason, ToolSpec

PROVIDER = "gemini"
SIGNATURE_CARRIER = "gemini:signature-of-next-part"
LOCAL_ID_PREFIX = "gemini-call-"

_REFUSALS = frozenset({
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT", "MODEL_ARMOR", "LANGUAGE",
})

JSON = dict[str, Any]


# -- signatures ------------------------------------------------------------------------------


def encode_signature(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_signature(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_").encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None  # not ours (or corrupted): sending garbage would fail the whole request


# -- request ---------------------------------------------------------------------------------


def tools_param(tools: Sequence[ToolSpec]) -> list[JSON]:
    if not tools:
        return []
    declarations = [{"name": t.name, "description": t.description,
                     "parameters_json_schema": dict(t.parameters)} for t in tools]
    return [{"function_declarations": declarations}]


def _call_names(messages: Iterable[Message]) -> dict[str, str]:
    return {c.id: c.name for m in messages for c in m.tool_calls}


def _is_ours(part: ThinkingPart) -> bool:
    return part.provider in (None, PROVIDER)


def _model_parts(parts: Sequence[Part]) -> list[JSON]:
    out: list[JSON] = []
    pending: bytes | None = None  # a carried signature waiting for its part
    for part in parts:
        if isinstance(part, ThinkingPart):
            if not _is_ours(part) or part.redacted is not None:
                continue
            signature = decode_signature(part.signature) if part.signature else None
            if part.id == SIGNATURE_CARRIER:
                pending = signature
                continue
            if part.provider is None and signature is None:
                continue  # unsigned thinking of unknown origin: nothing the API can use
            wire: JSON = {"text": part.thinking, "thought": True}
        elif isinstance(part, TextPart):
            wire = {"text": part.text}
        elif isinstance(part, ToolCall):
            call: JSON = {"name": part.name, "args": dict(part.arguments)}
            if not part.id.startswith(LOCAL_ID_PREFIX):
                call["id"] = part.id
            wire = {"function_call": call}
        else:
            continue  # tool results never appear in a model turn
        if isinstance(part, ThinkingPart):
            signature_out = signature
        else:
            signature_out, pending = pending, None
        if signature_out:
            wire["thought_signature"] = signature_out
        out.append(wire)
    if pending:  # the signature of a final empty text part (dropped from our message)
        out.append({"text": "", "thought_signature": pending})
    return out


def _user_parts(parts: Sequence[Part], names: dict[str, str]) -> list[JSON]:
    out: list[JSON] = []
    for part in parts:
        if isinstance(part, TextPart):
            out.append({"text": part.text})
        elif isinstance(part, ToolResult):
            name = part.name or names.get(part.call_id) or "unknown_tool"
            response: JSON = {"function_response": {
                "name": name, "response": {"error" if part.is_error else "output": _result_text(part)}}}
            if not part.call_id.startswith(LOCAL_ID_PREFIX):
                response["function_response"]["id"] = part.call_id
            out.append(response)
    return out


def _result_text(result: ToolResult) -> str:
    # Images are described: not every Gemini model takes them in a function response.
    return "\n".join(filter(None, [result.content, *(i.describe() for i in result.images)]))


def contents_param(messages: Sequence[Message]) -> list[JSON]:
    names = _call_names(messages)
    contents: list[JSON] = []
    for message in messages:
        if message.role == "assistant":
            parts = _model_parts(message.parts)
        else:
            parts = _user_parts(message.parts, names)
        if parts:
            contents.append({"role": "model" if message.role == "assistant" else "user", "parts": parts})
    return contents


def config_param(request: ModelRequest) -> JSON:
    """`GenerateContentConfig` fields; `request.extra` is merged in (it names config fields)."""
    config: JSON = {
        # We run tools ourselves; never let the SDK call Python functions.
        "automatic_function_calling": {"disable": True},
    }
    if request.system:
        config["system_instruction"] = request.system
    tools = tools_param(request.tools)
    if tools:
        config["tools"] = tools
    if request.max_tokens is not None:
        config["max_output_tokens"] = request.max_tokens
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["top_p"] = request.top_p
    if request.thinking_budget:
        config["thinking_config"] = {"thinking_budget": request.thinking_budget, "include_thoughts": True}
    config.update(request.extra)
    return config


# -- response --------------------------------------------------------------------------------


@dataclass
class _Entry:
    kind: str  # "text" | "thought" | "call"
    text: str = ""
    signature: bytes | None = None
    call: Any = None


class PartsAccumulator:
    """Collects response parts, merging streamed text pieces back into whole parts.

    A non-streamed response goes through the same path, so both modes give the same message.
    """

    def __init__(self) -> None:
        self._entries: list[_Entry] = []

    def add(self, part: Any) -> _Entry | None:
        """Add one SDK `Part`; return the entry it started (None if merged or ignored)."""
        signature: bytes | None = getattr(part, "thought_signature", None)
        call = getattr(part, "function_call", None)
        if call is not None:
            entry = _Entry("call", signature=signature, call=call)
            self._entries.append(entry)
            return entry
        text = getattr(part, "text", None)
        if text is None:
            if signature and self._entries and self._entries[-1].signature is None:
                self._entries[-1].signature = signature  # a bare signature closes the last part
            return None
        kind = "thought" if getattr(part, "thought", None) else "text"
        last = self._entries[-1] if self._entries else None
        if last is not None and last.kind == kind and last.signature is None:
            last.text += text
            last.signature = signature
            return None
        entry = _Entry(kind, text, signature)
        self._entries.append(entry)
        return entry

    def parts(self) -> tuple[Part, ...]:
        out: list[Part] = []
        for entry in self._entries:
            signature = encode_signature(entry.signature) if entry.signature else None
            if entry.kind == "thought":
                out.append(ThinkingPart(entry.text, signature=signature, provider=PROVIDER))
                continue
            if signature:
                out.append(ThinkingPart("", signature=signature, provider=PROVIDER, id=SIGNATURE_CARRIER))
            if entry.kind == "text":
                out.append(TextPart(entry.text))
            else:
                out.append(self._tool_call(entry.call))
        return tuple(p for p in out if not (isinstance(p, TextPart) and not p.text))

    @staticmethod
    def _tool_call(call: Any) -> ToolCall:
        call_id = call.id or f"{LOCAL_ID_PREFIX}{uuid.uuid4().hex[:12]}"
        return ToolCall(call_id, call.name or "", dict(call.args or {}))


def usage_from(meta: Any) -> Usage:
    """Gemini counts cached tokens inside the prompt count and thoughts outside the candidates."""
    if meta is None:
        return Usage()
    prompt = (meta.prompt_token_count or 0) + (meta.tool_use_prompt_token_count or 0)
    cached = meta.cached_content_token_count or 0
    thoughts = meta.thoughts_token_count or 0
    return Usage(
        input_tokens=max(0, prompt - cached),
        output_tokens=(meta.candidates_token_count or 0) + thoughts,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
    )


def finish_name(reason: Any) -> str | None:
    if reason is None:
        return None
    return str(getattr(reason, "value", reason))


def stop_reason(raw: str | None, has_tool_calls: bool) -> StopReason:
    if raw == "STOP":
        return "tool_calls" if has_tool_calls else "end"
    if raw == "MAX_TOKENS":
        return "max_tokens"
    if raw in _REFUSALS:
        return "refusal"
    return "other"
