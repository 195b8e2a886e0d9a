"""What every wire renderer shares: the per-request context, ids, SSE framing, default usage.

A renderer is a `Wire`: plain functions that turn a `Reply` into a JSON body or a list of SSE
frames (already encoded, one per event, so the server can cut a stream after N events), and an
`HTTPError` into that provider's error body.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from llmproc.messages import Usage
from llmproc.testing.script import HTTPError, Reply, ToolUse

JSON = dict[str, Any]


@dataclass(slots=True)
class Context:
    """One request as a renderer sees it."""

    model: str
    body: Any
    body_size: int
    new_id: Callable[[str], str]  # prefix -> id unique within the server, e.g. "toolu_0003"
    request_id: str

    def tool_id(self, call: ToolUse, prefix: str) -> str:
        return call.id if call.id is not None else self.new_id(prefix)

    def signature(self, reply: Reply) -> str:
        # Base64 so that the same value is also a valid Gemini `thoughtSignature` (bytes).
        if reply.signature is not None:
            return reply.signature
        return base64.b64encode(self.new_id("fake-signature-").encode()).decode()


@dataclass(frozen=True, slots=True)
class Wire:
    name: str
    reply_json: Callable[[Reply, Context], JSON]
    reply_events: Callable[[Reply, Context], list[bytes]]
    stream_error: Callable[[str, str, Context, int], bytes]  # (type, message, ctx, position)
    error_body: Callable[[HTTPError, Context], JSON]
    request_id_header: str | None  # header that carries ctx.request_id, on success and error


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {dumps(data)}\n\n".encode()


def arguments_json(arguments: Mapping[str, Any]) -> str:
    return json.dumps(dict(arguments), ensure_ascii=False)


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


def usage_of(reply: Reply, ctx: Context) -> Usage:
    """The scripted usage, or a deterministic plausible one (about 4 characters a token)."""
    if reply.usage is not None:
        return reply.usage
    reasoning = estimate_tokens(reply.thinking or "")
    visible = estimate_tokens(reply.text or "") + sum(
        estimate_tokens(c.name + arguments_json(c.arguments)) for c in reply.tool_calls
    )
    return Usage(
        input_tokens=max(1, ctx.body_size // 4),
        output_tokens=max(1, visible + reasoning),
        reasoning_tokens=reasoning,
    )


# Stop reasons are written in any provider's vocabulary; each wire maps these kinds to its own.
_END = {"end_turn", "stop", "STOP", "completed"}
_TOOL = {"tool_use", "tool_calls"}
_LENGTH = {"max_tokens", "length", "MAX_TOKENS", "max_output_tokens", "incomplete"}


def stop_kind(reply: Reply) -> str:
    """ "end", "tool", "length", or the scripted value verbatim (e.g. "refusal")."""
    reason = reply.stop_reason
    if reason is None:
        return "tool" if reply.tool_calls else "end"
    if reason in _END:
        return "end"
    if reason in _TOOL:
        return "tool"
    if reason in _LENGTH:
        return "length"
    return reason


def error_type_for(err: HTTPError, table: dict[int, str], default_4xx: str, default_5xx: str) -> str:
    if err.error_type is not None:
        return err.error_type
    return table.get(err.status, default_4xx if err.status < 500 else default_5xx)


def chunks(text: str, size: int = 16) -> list[str]:
    """Split streamed text into several deltas, as real servers do."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
