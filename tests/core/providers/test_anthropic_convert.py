"""Pure conversion rules of the Anthropic adapter (no HTTP): caching, max_tokens, extra, parts."""

from __future__ import annotations

import pytest

from llmproc.messages import Message, TextPart, ThinkingPart, ToolCall, ToolResult
from llmproc.providers.anthropic_convert import (
    DEFAULT_MAX_TOKENS, max_tokens_for, merge_extra, messages_param, request_params,
)
from llmproc.providers.base import ModelRequest, ToolSpec

TOOLS = [ToolSpec("a", "A", {"type": "object"}), ToolSpec("b", "B", {"type": "object"})]


def req(**kw: object) -> ModelRequest:
    base: dict[str, object] = {"model": "m", "system": "", "messages": [Message.user("hi")]}
    return ModelRequest(**{**base, **kw})  # type: ignore[arg-type]


def marked(params: dict) -> list[str]:
    """Where the cache breakpoints are, as short labels."""
    out = [f"system[{i}]" for i, b in enumerate(params.get("system", [])) if "cache_control" in b]
    out += [f"tools[{i}]" for i, t in enumerate(params.get("tools", [])) if "cache_control" in t]
    for i, m in enumerate(params["messages"]):
        out += [f"messages[{i}][{j}]" for j, b in enumerate(m["content"]) if "cache_control" in b]
    return out


def test_breakpoints_on_system_previous_request_end_and_last_block() -> None:
    history = [Message.user("hi"), Message.assistant("yo"), Message("user", (TextPart("a"), TextPart("b")))]
    params = request_params(req(system="sys", tools=TOOLS, messages=history))
    # messages[0] is where the previous request (history[:1]) put its last breakpoint.
    assert marked(params) == ["system[0]", "messages[0][0]", "messages[2][1]"]
    assert marked(request_params(req(system="sys", messages=history[:1]))) == ["system[0]", "messages[0][0]"]


def test_breakpoint_on_last_tool_without_system() -> None:
    assert marked(request_params(req(tools=TOOLS))) == ["tools[1]", "messages[0][0]"]


def test_thinking_blocks_are_never_marked() -> None:
    prefill = Message("assistant", (TextPart("so"), ThinkingPart("t", signature="s")))
    params = request_params(req(messages=[Message.user("hi"), prefill]))
    assert marked(params) == ["messages[0][0]", "messages[1][0]"]
    only_thinking = Message("assistant", (ThinkingPart("t", signature="s"),))
    params = request_params(req(messages=[Message.user("hi"), only_thinking]))
    assert marked(params) == ["messages[0][0]"]


def test_no_breakpoints_without_cache() -> None:
    assert marked(request_params(req(system="sys", tools=TOOLS, cache=False))) == []


def test_max_tokens_rules() -> None:
    assert max_tokens_for(req()) == DEFAULT_MAX_TOKENS
    assert max_tokens_for(req(max_tokens=100)) == 100
    assert max_tokens_for(req(thinking_budget=10_000)) > 10_000
    with pytest.raises(ValueError):
        max_tokens_for(req(thinking_budget=2000, max_tokens=2000))


def test_extra_goes_to_parameters_or_body() -> None:
    params = request_params(req(temperature=0.5))
    merged = merge_extra(params, {"metadata": {"user_id": "u"}, "top_k": 3, "extra_body": {"x": 1}},
                         frozenset({"metadata", "extra_body", "model"}))
    assert merged["metadata"] == {"user_id": "u"}
    assert merged["extra_body"] == {"temperature": 0.5, "top_k": 3, "x": 1}
    assert params["extra_body"] == {"temperature": 0.5}  # the input is not mutated


def test_user_turn_puts_tool_results_first_and_skips_empty_text() -> None:
    turn = Message("user", (TextPart("note"), TextPart(""), ToolResult("t1", "out")))
    assert messages_param([turn]) == [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t1", "content": "out"}, {"type": "text", "text": "note"}]}]


def test_unsigned_or_foreign_thinking_is_dropped() -> None:
    turn = Message("assistant", (ThinkingPart("no signature"), ThinkingPart("x", signature="e", provider="openai"),
                                 ThinkingPart("ok", signature="s"), ToolCall("t1", "a", {})))
    assert messages_param([turn])[0]["content"] == [
        {"type": "thinking", "thinking": "ok", "signature": "s"},
        {"type": "tool_use", "id": "t1", "name": "a", "input": {}}]
