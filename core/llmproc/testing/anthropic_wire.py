"""Anthropic Messages wire (also used for Vertex rawPredict / streamRawPredict)."""

from __future__ import annotations

from llmproc.messages import Usage
from llmproc.testing._wire import (
    JSON,
    Context,
    Wire,
    arguments_json,
    chunks,
    error_type_for,
    sse,
    stop_kind,
    usage_of,
)
from llmproc.testing.script import HTTPError, Reply

_STOP = {"end": "end_turn", "tool": "tool_use", "length": "max_tokens"}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def _usage(usage: Usage) -> JSON:
    out: JSON = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


def _blocks(reply: Reply, ctx: Context) -> list[JSON]:
    blocks: list[JSON] = []
    if reply.thinking is not None:
        blocks.append({"type": "thinking", "thinking": reply.thinking, "signature": ctx.signature(reply)})
    if reply.text is not None:
        blocks.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": ctx.tool_id(call, "toolu_"),
                "name": call.name,
                "input": dict(call.arguments),
            }
        )
    if not blocks:  # an answer always has content; an empty text block is what the API sends
        blocks.append({"type": "text", "text": ""})
    return blocks


def _message(ctx: Context, content: list[JSON], stop: str | None, usage: JSON) -> JSON:
    return {
        "id": ctx.new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def reply_json(reply: Reply, ctx: Context) -> JSON:
    stop = stop_kind(reply)
    return _message(ctx, _blocks(reply, ctx), _STOP.get(stop, stop), _usage(usage_of(reply, ctx)))


def _block_events(index: int, block: JSON) -> list[bytes]:
    kind = block["type"]
    if kind == "thinking":
        start: JSON = {"type": "thinking", "thinking": "", "signature": ""}
        deltas: list[JSON] = [{"type": "thinking_delta", "thinking": t} for t in chunks(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": t} for t in chunks(block["text"])]
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        args = arguments_json(block["input"])
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in chunks(args)]
    frames = [
        sse({"type": "content_block_start", "index": index, "content_block": start}, "content_block_start")
    ]
    frames += [
        sse({"type": "content_block_delta", "index": index, "delta": d}, "content_block_delta")
        for d in deltas
    ]
    frames.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    return frames


def reply_events(reply: Reply, ctx: Context) -> list[bytes]:
    usage = usage_of(reply, ctx)
    start_usage = _usage(Usage(usage.input_tokens, 1, usage.cache_write_tokens, usage.cache_read_tokens))
    frames = [
        sse({"type": "message_start", "message": _message(ctx, [], None, start_usage)}, "message_start"),
        sse({"type": "ping"}, "ping"),
    ]
    for index, block in enumerate(_blocks(reply, ctx)):
        frames += _block_events(index, block)
    stop = stop_kind(reply)
    # message_delta usage is cumulative: it overwrites the counts of message_start.
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": _STOP.get(stop, stop), "stop_sequence": None},
        "usage": _usage(usage),
    }
    frames += [sse(delta, "message_delta"), sse({"type": "message_stop"}, "message_stop")]
    return frames


def stream_error(error_type: str, message: str, ctx: Context, position: int = 0) -> bytes:
    return sse(_error(error_type, message, ctx), "error")


def _error(error_type: str, message: str, ctx: Context) -> JSON:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": ctx.request_id}


def error_body(err: HTTPError, ctx: Context) -> JSON:
    return _error(error_type_for(err, _ERROR_TYPES, "invalid_request_error", "api_error"), err.message, ctx)


def count_tokens(ctx: Context) -> JSON:
    return {"input_tokens": max(1, ctx.body_size // 4)}


WIRE = Wire("anthropic", reply_json, reply_events, stream_error, error_body, "request-id")
