"""OpenAI Responses wire: output items (reasoning, message, function_call) and typed SSE events.

A `function_call` carries the call's `namespace` when its `ToolUse` has one (the function of a
`namespace` tool), in the JSON reply and in the stream's output_item.added/done and final response.

Like the real API, a reasoning item carries `encrypted_content` (the reply's signature) only
when the request asks for it with `include=["reasoning.encrypted_content"]`.
"""

from __future__ import annotations

from typing import Any

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

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def usage_json(usage: Usage) -> JSON:
    total_in = usage.total_input_tokens
    return {
        "input_tokens": total_in,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": total_in + usage.output_tokens,
    }


def _wants_encrypted(ctx: Context) -> bool:
    include = ctx.body.get("include") if isinstance(ctx.body, dict) else None
    return isinstance(include, list) and "reasoning.encrypted_content" in include


def _items(reply: Reply, ctx: Context) -> list[JSON]:
    """The finished output items, in the order the API emits them."""
    items: list[JSON] = []
    if reply.thinking is not None:
        item: JSON = {
            "type": "reasoning",
            "id": ctx.new_id("rs_"),
            "summary": [{"type": "summary_text", "text": reply.thinking}],
        }
        if _wants_encrypted(ctx):
            item["encrypted_content"] = ctx.signature(reply)
        items.append(item)
    if reply.text is not None:
        items.append(_message(ctx, reply.text))
    for call in reply.tool_calls:
        function: JSON = {
            "type": "function_call",
            "id": ctx.new_id("fc_"),
            "call_id": ctx.tool_id(call, "call_"),
            "name": call.name,
            "arguments": arguments_json(call.arguments),
            "status": "completed",
        }
        if call.namespace is not None:
            function["namespace"] = call.namespace
        items.append(function)
    if not items:  # an empty answer is still one (empty) message
        items.append(_message(ctx, ""))
    return items


def _message(ctx: Context, text: str) -> JSON:
    return {
        "type": "message",
        "id": ctx.new_id("msg_"),
        "role": "assistant",
        "status": "completed",
        "content": [_text_part(text)],
    }


def _text_part(text: str) -> JSON:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _response(
    reply: Reply, ctx: Context, rid: str, output: list[JSON], status: str, usage: JSON | None
) -> JSON:
    incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
    return {
        "id": rid,
        "object": "response",
        "created_at": 0,
        "status": status,
        "model": ctx.model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": incomplete,
        "usage": usage,
    }


def _status(reply: Reply) -> str:
    return "incomplete" if stop_kind(reply) == "length" else "completed"


def reply_json(reply: Reply, ctx: Context) -> JSON:
    return _response(
        reply, ctx, ctx.new_id("resp_"), _items(reply, ctx), _status(reply), usage_json(usage_of(reply, ctx))
    )


def _item_events(index: int, item: JSON) -> list[JSON]:
    """The events that build one output item, from output_item.added to output_item.done."""
    base = {"item_id": item["id"], "output_index": index}
    kind = item["type"]
    if kind == "reasoning":
        text = item["summary"][0]["text"]
        added: JSON = {**item, "summary": []}
        added.pop("encrypted_content", None)
        part = {"type": "summary_text", "text": text}
        inner = [
            {
                "type": "response.reasoning_summary_part.added",
                **base,
                "summary_index": 0,
                "part": {**part, "text": ""},
            }
        ]
        inner += [
            {"type": "response.reasoning_summary_text.delta", **base, "summary_index": 0, "delta": d}
            for d in chunks(text)
        ]
        inner += [
            {"type": "response.reasoning_summary_text.done", **base, "summary_index": 0, "text": text},
            {"type": "response.reasoning_summary_part.done", **base, "summary_index": 0, "part": part},
        ]
    elif kind == "message":
        text = item["content"][0]["text"]
        added = {**item, "status": "in_progress", "content": []}
        at = {**base, "content_index": 0}
        inner = [{"type": "response.content_part.added", **at, "part": _text_part("")}]
        inner += [
            {"type": "response.output_text.delta", **at, "delta": d, "logprobs": []} for d in chunks(text)
        ]
        inner += [
            {"type": "response.output_text.done", **at, "text": text, "logprobs": []},
            {"type": "response.content_part.done", **at, "part": _text_part(text)},
        ]
    else:
        args = item["arguments"]
        added = {**item, "arguments": "", "status": "in_progress"}
        inner = [{"type": "response.function_call_arguments.delta", **base, "delta": d} for d in chunks(args)]
        inner.append({"type": "response.function_call_arguments.done", **base, "arguments": args})
    return [
        {"type": "response.output_item.added", "output_index": index, "item": added},
        *inner,
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]


def reply_events(reply: Reply, ctx: Context) -> list[bytes]:
    rid = ctx.new_id("resp_")
    items = _items(reply, ctx)
    started = _response(reply, ctx, rid, [], "in_progress", None)
    events: list[JSON] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
    ]
    for index, item in enumerate(items):
        events += _item_events(index, item)
    status = _status(reply)
    final = _response(reply, ctx, rid, items, status, usage_json(usage_of(reply, ctx)))
    events.append({"type": f"response.{status}", "response": final})
    return [_frame(event, seq) for seq, event in enumerate(events)]


def _frame(event: dict[str, Any], seq: int) -> bytes:
    return sse({**event, "sequence_number": seq}, event["type"])


def stream_error(error_type: str, message: str, ctx: Context, position: int = 0) -> bytes:
    return _frame({"type": "error", "code": error_type, "message": message, "param": None}, position)


def error_body(err: HTTPError, ctx: Context) -> JSON:
    error_type = error_type_for(err, _ERROR_TYPES, "invalid_request_error", "server_error")
    return {"error": {"message": err.message, "type": error_type, "param": None, "code": None}}


def input_tokens(ctx: Context) -> JSON:
    return {"object": "response.input_tokens", "input_tokens": max(1, ctx.body_size // 4)}


WIRE = Wire("openai_responses", reply_json, reply_events, stream_error, error_body, "x-request-id")
