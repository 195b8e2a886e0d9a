"""Automatic prompt caching, end to end: programs run through the real SDKs against the fake
server, and the requests they sent are judged by Anthropic's cache rules
(`llmproc.testing.prompt_cache`); for OpenAI, the request prefix stays byte-stable."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmproc import LLMProgram
from llmproc.process import LLMProcess
from llmproc.testing import FakeLLMServer, Reply, ToolUse
from llmproc.testing.prompt_cache import CacheUsage, PromptCacheModel
from llmproc.tools import tool

SYSTEM = "You are a careful research assistant. Cite the keys you looked up. " * 80  # ~1.3k tokens


@tool
def lookup(key: str) -> str:
    """Look a key up in the notes."""
    return f"notes for {key}: " + "observation " * 60


def tool_turns(turns: int, *, wide_at: tuple[int, ...] = ()) -> list[Reply]:
    """`turns` model calls: tool calls (12 parallel ones at `wide_at`), then an answer."""
    replies = [Reply(tool_calls=[ToolUse("lookup", {"key": f"k{t}.{i}"}) for i in range(12 if t in wide_at else 1)])
               for t in range(turns - 1)]
    return [*replies, Reply(text="Done.")]


async def start(fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, provider: str = "anthropic",
                **parameters: Any) -> LLMProcess:
    env, base = {"anthropic": ("ANTHROPIC_API_KEY", fake.anthropic_base_url),
                 "openai": ("OPENAI_API_KEY", fake.openai_base_url),
                 "openai_chat": ("OPENAI_API_KEY", fake.openai_base_url)}[provider]
    monkeypatch.setenv(env, "sk-test")
    program = LLMProgram.from_dict({
        "model": {"name": "claude-sonnet-5-5" if provider == "anthropic" else "gpt-4.1",
                  "provider": provider, "base_url": base},
        "prompt": {"system_prompt": SYSTEM}, "parameters": parameters,
    })
    return await program.start(tools=[lookup], include_env=False)


def replay(bodies: list[dict[str, Any]]) -> list[CacheUsage]:
    cache = PromptCacheModel()
    return [cache.feed(body) for body in bodies]


def last_message_only(body: dict[str, Any]) -> dict[str, Any]:
    """The same request with the common naive strategy: system + last message only."""
    body = json.loads(json.dumps(body))
    for message in body["messages"][:-1]:
        for block in message["content"]:
            block.pop("cache_control", None)
    return body


async def test_every_turn_reads_the_whole_previous_request(fake: FakeLLMServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    fake.add(*tool_turns(10, wide_at=(4,)))  # turn 4 adds 24 blocks: more than the 20-block lookback
    process = await start(fake, monkeypatch)
    try:
        await process.run("Research k.")
    finally:
        await process.aclose()
    bodies = [r.body for r in fake.requests]
    usage = replay(bodies)
    assert len(usage) == 10 and all(u.breakpoints <= 4 for u in usage)
    assert usage[0].cache_read_tokens == 0 and usage[0].cache_write_tokens > 1024
    for before, now in zip(usage, usage[1:]):
        assert now.cache_read_tokens == before.total_input_tokens  # the previous prefix, all of it
    after_first = usage[1:]
    read = sum(u.cache_read_tokens for u in after_first) / sum(u.total_input_tokens for u in after_first)
    assert read > 0.85
    # Why the second moving breakpoint: with the last message alone, the turn after the wide one
    # finds nothing within 20 blocks and falls back to the system prompt.
    naive = replay([last_message_only(b) for b in bodies])
    assert naive[4].cache_read_tokens == usage[3].total_input_tokens  # narrow turns are fine
    assert naive[5].cache_read_tokens < usage[4].total_input_tokens  # the wide one is not
    missed = usage[5].cache_read_tokens - naive[5].cache_read_tokens
    assert naive[5].cache_write_tokens == usage[5].cache_write_tokens + missed  # paid again, at 1.25x


async def test_a_forked_child_reads_its_parents_prefix(fake: FakeLLMServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fake.add(*tool_turns(3), Reply(text="child answer"), Reply(text="sibling answer"))
    parent = await start(fake, monkeypatch)
    try:
        await parent.run("Research k.")
        first_child, second_child = await parent.fork(), await parent.fork()
        await first_child.run("Now summarise in one line.")
        await second_child.run("Now list the keys.")
    finally:
        await parent.aclose()
    usage = replay([r.body for r in fake.requests])
    parent_last = usage[2]
    assert usage[3].cache_read_tokens == parent_last.total_input_tokens
    assert usage[4].cache_read_tokens >= parent_last.total_input_tokens


async def test_disable_automatic_caching_sends_no_breakpoint(fake: FakeLLMServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fake.add(*tool_turns(3))
    process = await start(fake, monkeypatch, disable_automatic_caching=True)
    try:
        await process.run("Research k.")
    finally:
        await process.aclose()
    assert len(fake.requests) == 3 and all(b"cache_control" not in r.raw_body for r in fake.requests)
    assert all(u.cache_read_tokens == 0 for u in replay([r.body for r in fake.requests]))


@pytest.mark.parametrize(("provider", "history_key"), [("openai", "input"), ("openai_chat", "messages")])
async def test_openai_request_prefix_is_byte_stable(fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch,
                                                   provider: str, history_key: str) -> None:
    fake.add(*tool_turns(4, wide_at=(1,)))
    process = await start(fake, monkeypatch, provider)
    try:
        await process.run("Research k.")
    finally:
        await process.aclose()
    raws = [r.raw_body for r in fake.requests]
    assert len(raws) == 4
    for (raw1, body1), raw2 in zip(((r.raw_body, r.body) for r in fake.requests), raws[1:]):
        # Everything up to the end of the earlier request's history is a byte prefix of the next
        # request, and what follows the history (instructions, tools, options) is identical.
        items = json.dumps(body1[history_key], separators=(",", ":"), ensure_ascii=False).encode()
        end = raw1.index(items[:-1]) + len(items) - 1
        assert raw2[:end] == raw1[:end]
        assert raw2.endswith(raw1[end + 1:])
