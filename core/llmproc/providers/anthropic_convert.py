"""Our messages <-> Anthropic Messages API shapes (plain dicts; shared by Anthropic and Vertex).

No SDK import: requests are built as the JSON the API takes, and responses are read by
attribute from the SDK's `Message` model, so this module is testable on its own.

Thinking: a thinking block must be sent back verbatim, signature included, or a turn that
mixes thinking with tool use is rejected. Signatures are valid across Anthropic platforms
(first-party API and Vertex), so parts made by either are replayed; other providers' reasoning
and unsigned thinking (which the API would reject) are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from llmproc.messages import Message, Part, TextPart, ThinkingPart, ToolCall, ToolResult, Usage
from llmproc.providers.base import ModelRequest, ModelResponse, StopReason, ToolSpec

CLAUDE_PROVIDERS = frozenset({"anthropic", "anthropic_vertex"})
DEFAULT_MAX_TOKENS = 4096
# Room left for the visible answer when only a thinking budget is given.
ANSWER_HEADROOM = 1024
MAX_CACHE_BREAKPOINTS = 4
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})  # what the API takes

_STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "end",
    "stop_sequence": "end",
    "tool_use": "tool_calls",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "max_tokens",
    "refusal": "refusal",
}

JSON = dict[str, Any]


def max_tokens_for(request: ModelRequest) -> int:
    """max_tokens is required by the API and must exceed the thinking budget."""
    budget = request.thinking_budget or 0
    if request.max_tokens is not None:
        if budget and request.max_tokens <= budget:
            raise ValueError(
                f"max_tokens ({request.max_tokens}) must be greater than thinking_budget ({budget})"
            )
        return request.max_tokens
    return max(DEFAULT_MAX_TOKENS, budget + ANSWER_HEADROOM) if budget else DEFAULT_MAX_TOKENS


def tools_param(tools: Sequence[ToolSpec]) -> list[JSON]:
    return [{"name": t.name, "description": t.description, "input_schema": dict(t.parameters)} for t in tools]


def _part_block(part: Part) -> JSON | None:
    if isinstance(part, TextPart):
        # The API rejects empty text blocks.
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, ToolCall):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": dict(part.arguments)}
    if isinstance(part, ToolResult):
        block: JSON = {"type": "tool_result", "tool_use_id": part.call_id, "content": part.content}
        if part.images:  # a list of blocks instead; the API takes images in tool results
            block["content"] = ([{"type": "text", "text": part.content}] if part.content else []) + [
                {"type": "image", "source": {"type": "base64", "media_type": i.media_type, "data": i.data}}
                if i.media_type in IMAGE_TYPES else {"type": "text", "text": i.describe()}
                for i in part.images]
        if part.is_error:
            block["is_error"] = True
        return block
    if isinstance(part, ThinkingPart):
        if part.provider is not None and part.provider not in CLAUDE_PROVIDERS:
            return None
        if part.redacted is not None:
            return {"type": "redacted_thinking", "data": part.redacted}
        if part.signature:
            return {"type": "thinking", "thinking": part.thinking, "signature": part.signature}
        return None
    raise TypeError(f"unknown message part {part!r}")


def message_param(message: Message) -> JSON | None:
    parts: Iterable[Part] = message.parts
    if message.role == "user":
        # tool_result blocks must come first in a user turn.
        parts = sorted(parts, key=lambda p: not isinstance(p, ToolResult))
    blocks = [b for b in (_part_block(p) for p in parts) if b is not None]
    return {"role": message.role, "content": blocks} if blocks else None


def messages_param(messages: Sequence[Message]) -> list[JSON]:
    return [m for m in (message_param(msg) for msg in messages) if m is not None]


def system_param(system: str) -> list[JSON] | None:
    return [{"type": "text", "text": system}] if system else None


def _last_cacheable(message: JSON) -> JSON | None:
    # Thinking blocks cannot carry cache_control: the last other block stands for the message.
    blocks = [b for b in message["content"] if b["type"] not in ("thinking", "redacted_thinking")]
    return blocks[-1] if blocks else None


def add_cache_breakpoints(system: list[JSON] | None, tools: list[JSON], messages: list[JSON]) -> None:
    """Mark at most three cache breakpoints (the API allows four). Mutates the fresh lists.

    The cache is a prefix match in the order tools, system, messages: a breakpoint writes the
    prefix ending at its block, and a later request reads the longest written prefix that ends
    at one of its own breakpoints (looking back at most 20 blocks from each). So we mark:
    1. the stable prefix: the last system block (else the last tool), shared by every turn and
       every process of the same program;
    2. the end of the previous request: the message just before the latest assistant answer.
       It is exactly where the previous turn wrote, so the read hits however many blocks the
       turn added (parallel tool calls can add more than 20), and a forked child, whose
       history is its parent's plus a new message, reads what its parent wrote;
    3. the last message, which writes the prefix the next turn will read.
    """
    targets: list[JSON | None] = [system[-1] if system else (tools[-1] if tools else None)]
    if messages:
        answers = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        if answers and answers[-1] > 0:
            targets.append(_last_cacheable(messages[answers[-1] - 1]))
        targets.append(_last_cacheable(messages[-1]))
    marked = [block for block in targets if block is not None]
    for block in marked[:MAX_CACHE_BREAKPOINTS]:
        block["cache_control"] = {"type": "ephemeral"}


def request_params(request: ModelRequest) -> JSON:
    """The keyword arguments of `messages.create` / `messages.stream` for `request`.

    temperature/top_p are no longer SDK parameters (anthropic >= 1.0): they go in the body.
    """
    system = system_param(request.system)
    tools = tools_param(request.tools)
    messages = messages_param(request.messages)
    if request.cache:
        add_cache_breakpoints(system, tools, messages)
    params: JSON = {"model": request.model, "max_tokens": max_tokens_for(request), "messages": messages}
    if system:
        params["system"] = system
    if tools:
        params["tools"] = tools
    if request.thinking_budget:
        params["thinking"] = {"type": "enabled", "budget_tokens": request.thinking_budget}
    body: JSON = {}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if body:
        params["extra_body"] = body
    return params


def merge_extra(params: JSON, extra: dict[str, Any], accepted: frozenset[str]) -> JSON:
    """`request.extra` wins; keys the SDK method does not take travel in `extra_body`."""
    out = dict(params)
    for key, value in extra.items():
        if key in accepted:
            if key == "extra_body" and isinstance(value, dict):
                out["extra_body"] = {**out.get("extra_body", {}), **value}
            else:
                out[key] = value
        else:
            out["extra_body"] = {**out.get("extra_body", {}), key: value}
    return out


# -- responses ---------------------------------------------------------------------------


def _content_part(block: Any, provider: str) -> Part | None:
    kind = getattr(block, "type", None)
    if kind == "text":
        return TextPart(block.text)
    if kind == "tool_use":
        arguments = block.input if isinstance(block.input, dict) else {"_raw": block.input}
        return ToolCall(block.id, block.name, arguments)
    if kind == "thinking":
        return ThinkingPart(block.thinking or "", signature=block.signature or None, provider=provider)
    if kind == "redacted_thinking":
        return ThinkingPart("", redacted=block.data, provider=provider)
    return None  # server-side tool blocks and future block types are not part of our model


def usage_from(usage: Any) -> Usage:
    """Anthropic already counts input_tokens without cache reads/writes, as we do."""
    if usage is None:
        return Usage()
    details = getattr(usage, "output_tokens_details", None)
    return Usage(
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        cache_write_tokens=getattr(usage, "cache_creation_input_tokens", None) or 0,
        cache_read_tokens=getattr(usage, "cache_read_input_tokens", None) or 0,
        reasoning_tokens=(getattr(details, "thinking_tokens", None) or 0) if details is not None else 0,
    )


def stop_reason(raw: str | None) -> StopReason:
    return _STOP_REASONS.get(raw or "", "other")


def response_from(message: Any, provider: str, request_id: str | None) -> ModelResponse:
    parts = tuple(p for p in (_content_part(b, provider) for b in message.content or ()) if p is not None)
    return ModelResponse(
        message=Message("assistant", parts),
        usage=usage_from(message.usage),
        stop_reason=stop_reason(message.stop_reason),
        raw_stop_reason=message.stop_reason,
        model=getattr(message, "model", None),
        request_id=request_id,
        response_id=getattr(message, "id", None),
    )
