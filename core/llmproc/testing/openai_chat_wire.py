"""OpenAI Chat Completions wire (also what most OpenAI-compatible servers speak)."""

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

_FINISH = {"end": "stop", "tool": "tool_calls", "length": "length"}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
_DONE = b"data: [DONE]\n\n"


def usage_json(usage: Usage) -> JSON:
    prompt = usage.total_input_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _tool_calls(reply: Reply, ctx: Context) -> list[JSON]:
    return [
        {
            "id": ctx.tool_id(call, "call_"),
            "type": "function",
            "function": {"name": call.name, "arguments": arguments_json(call.arguments)},
        }
        for call in reply.tool_calls
    ]


def _finish(reply: Reply) -> str:
    kind = stop_kind(reply)
    return _FINISH.get(kind, kind)


def reply_json(reply: Reply, ctx: Context) -> JSON:
    # content is null beside tool calls, and "" (never null) for an empty answer.
    content = reply.text if reply.text is not None or reply.tool_calls else ""
    message: JSON = {"role": "assistant", "content": content, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = _tool_calls(reply, ctx)
    if reply.thinking is not None:
        # Not in OpenAI's API; OpenAI-compatible reasoning servers (vLLM, DeepSeek) send this field.
        message["reasoning_content"] = reply.thinking
    return {
        "id": ctx.new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": 0,
        "model": ctx.model,
        "choices": [{"index": 0, "message": message, "finish_reason": _finish(reply), "logprobs": None}],
        "usage": usage_json(usage_of(reply, ctx)),
    }


def reply_events(reply: Reply, ctx: Context) -> list[bytes]:
    head: JSON = {
        "id": ctx.new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": 0,
        "model": ctx.model,
    }

    def chunk(delta: JSON, finish: str | None = None) -> bytes:
        return sse(
            {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
        )

    frames = [chunk({"role": "assistant", "content": ""})]
    if reply.thinking is not None:
        frames += [chunk({"reasoning_content": t}) for t in chunks(reply.thinking)]
    if reply.text:
        frames += [chunk({"content": t}) for t in chunks(reply.text)]
    for index, call in enumerate(_tool_calls(reply, ctx)):
        fn = call["function"]
        frames.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": fn["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        frames += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
            for part in chunks(fn["arguments"])
        ]
    frames.append(chunk({}, _finish(reply)))
    options = ctx.body.get("stream_options") if isinstance(ctx.body, dict) else None
    if isinstance(options, dict) and options.get("include_usage"):
        frames.append(sse({**head, "choices": [], "usage": usage_json(usage_of(reply, ctx))}))
    frames.append(_DONE)
    return frames


def _error(error_type: str, message: str) -> JSON:
    return {"error": {"message": message, "type": error_type, "param": None, "code": None}}


def stream_error(error_type: str, message: str, ctx: Context, position: int = 0) -> bytes:
    return sse(_error(error_type, message))


def error_body(err: HTTPError, ctx: Context) -> JSON:
    return _error(error_type_for(err, _ERROR_TYPES, "invalid_request_error", "server_error"), err.message)


WIRE = Wire("openai_chat", reply_json, reply_events, stream_error, error_body, "x-request-id")
