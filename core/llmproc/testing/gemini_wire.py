"""Gemini (Google AI `generateContent` / `streamGenerateContent?alt=sse`) wire.

Gemini counts cached tokens inside `promptTokenCount` and thoughts outside
`candidatesTokenCount`; a thought signature is bytes on the wire, sent base64-encoded.
"""

from __future__ import annotations

import base64
import binascii

from llmproc.messages import Usage
from llmproc.testing._wire import JSON, Context, Wire, chunks, sse, stop_kind, usage_of
from llmproc.testing.script import HTTPError, Reply

_FINISH = {"end": "STOP", "tool": "STOP", "length": "MAX_TOKENS"}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def usage_json(usage: Usage) -> JSON:
    prompt = usage.total_input_tokens
    candidates = max(0, usage.output_tokens - usage.reasoning_tokens)
    out: JSON = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + usage.output_tokens,
    }
    if usage.cache_read_tokens:
        out["cachedContentTokenCount"] = usage.cache_read_tokens
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    return out


def _signature(reply: Reply, ctx: Context) -> str:
    sig = ctx.signature(reply)
    try:  # already base64 (the generated ones are): send as is
        base64.b64decode(sig, validate=True)
        return sig
    except (binascii.Error, ValueError):
        return base64.b64encode(sig.encode()).decode()


def _parts(reply: Reply, ctx: Context) -> list[JSON]:
    parts: list[JSON] = []
    if reply.thinking is not None:
        parts.append({"text": reply.thinking, "thought": True, "thoughtSignature": _signature(reply, ctx)})
    if reply.text:
        parts.append({"text": reply.text})
    for call in reply.tool_calls:
        fc: JSON = {"name": call.name, "args": dict(call.arguments)}
        if call.id is not None:  # the Gemini API matches results by name; ids only when scripted
            fc["id"] = call.id
        parts.append({"functionCall": fc})
    return parts or [{"text": ""}]


def _finish(reply: Reply) -> str:
    kind = stop_kind(reply)
    return _FINISH.get(kind, kind)


def _response(ctx: Context, rid: str, parts: list[JSON], finish: str | None, usage: JSON | None) -> JSON:
    candidate: JSON = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    out: JSON = {"candidates": [candidate], "modelVersion": ctx.model, "responseId": rid}
    if usage is not None:
        out["usageMetadata"] = usage
    return out


def reply_json(reply: Reply, ctx: Context) -> JSON:
    return _response(
        ctx, ctx.new_id("resp-"), _parts(reply, ctx), _finish(reply), usage_json(usage_of(reply, ctx))
    )


def reply_events(reply: Reply, ctx: Context) -> list[bytes]:
    """Each frame is a whole response holding the next parts; the last one has finishReason + usage."""
    rid = ctx.new_id("resp-")
    pieces: list[JSON] = []
    for part in _parts(reply, ctx):
        if "text" in part and not part.get("thought"):
            pieces += [{"text": t} for t in chunks(part["text"])]
        else:
            pieces.append(part)
    last = len(pieces) - 1
    usage = usage_json(usage_of(reply, ctx))
    return [
        sse(_response(ctx, rid, [piece], _finish(reply) if i == last else None, usage if i == last else None))
        for i, piece in enumerate(pieces)
    ]


def _error(code: int, status: str, message: str) -> JSON:
    return {"error": {"code": code, "message": message, "status": status}}


# Error types named the Anthropic/OpenAI way, so one script can drive every provider.
_ALIASES = {
    "overloaded_error": 503,
    "rate_limit_error": 429,
    "api_error": 500,
    "server_error": 500,
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
}


def stream_error(error_type: str, message: str, ctx: Context, position: int = 0) -> bytes:
    # The SDK classifies an error by its numeric code; accept Google status names or aliases.
    code = next((c for c, s in _STATUS.items() if s == error_type), _ALIASES.get(error_type, 500))
    return sse(_error(code, _STATUS.get(code, error_type), message))


def error_body(err: HTTPError, ctx: Context) -> JSON:
    status = err.error_type or _STATUS.get(
        err.status, "UNKNOWN" if err.status >= 500 else "FAILED_PRECONDITION"
    )
    body = _error(err.status, status, err.message)
    if err.retry_after_s is not None:  # how the Gemini API says how long to wait
        body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                     "retryDelay": f"{err.retry_after_s:.3f}".rstrip("0").rstrip(".") + "s"}]
    return body


def count_tokens(ctx: Context) -> JSON:
    return {"totalTokens": max(1, ctx.body_size // 4)}


WIRE = Wire("gemini", reply_json, reply_events, stream_error, error_body, None)
