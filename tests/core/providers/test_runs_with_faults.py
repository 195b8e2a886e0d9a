"""Retries, cost and errors as a program sees them: LLMProcess and the CLIs against the fake
server, with the retry policy read from `[parameters]`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmproc import LLMProgram
from llmproc.errors import BudgetExceeded, ProviderError
from llmproc.messages import ToolResult, Usage
from llmproc.pricing import PRICES
from llmproc.process.events import ModelRetry
from llmproc.providers.retry import RetryingProvider
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ToolUse
from llmproc.tools import tool

FAST = {"max_retries": 2, "retry_initial_delay_s": 0.001, "retry_max_delay_s": 0.001}
MODEL = "claude-haiku-4-5"  # $1 in, $5 out, $1.25 cache write, $0.10 cache read per MTok


@pytest.fixture
def fake(fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> FakeLLMServer:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return fake_llm


def program(fake: FakeLLMServer, provider: str = "anthropic", model: str = MODEL, **sections: Any) -> LLMProgram:
    base = fake.anthropic_base_url if provider == "anthropic" else fake.openai_base_url
    return LLMProgram.from_dict({"model": {"name": model, "provider": provider, "base_url": base},
                                 "parameters": FAST, **sections})


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def tool(self) -> Any:
        @tool
        def record(note: str) -> str:
            """Record a note."""
            self.calls += 1
            return f"recorded {note}"

        return record


async def test_a_tool_runs_once_when_the_next_model_call_fails_twice(fake: FakeLLMServer) -> None:
    counter = Counter()
    fake.add(Reply(tool_calls=[ToolUse("record", {"note": "a"})]),
             HTTPError(529, "Overloaded"), HTTPError(500, "internal"), Reply(text="noted"))
    process = await program(fake).start(tools=[counter.tool()])
    assert isinstance(process.provider, RetryingProvider) and process.provider.policy.max_retries == 2
    retries: list[ModelRetry] = []
    process.subscribe(lambda e: retries.append(e) if isinstance(e, ModelRetry) else None)
    try:
        result = await process.run("note a")
    finally:
        await process.aclose()
    assert result.answer == "noted" and counter.calls == 1 and result.turns == 2
    assert len(fake.requests) == 4
    # Each retry was told to subscribers (what llmproc-demo and llmproc-mcp's progress show).
    assert [(r.turn, r.attempt, r.max_retries, r.status) for r in retries] == [(2, 1, 2, 529), (2, 2, 2, 500)]
    assert "overloaded" in retries[0].error.lower() and retries[0].delay_s >= 0
    # The retried requests are the same request: one tool result, sent three times.
    assert fake.requests[1].raw_body == fake.requests[2].raw_body == fake.requests[3].raw_body


async def test_after_the_last_failure_the_history_is_intact_and_run_works_again(fake: FakeLLMServer) -> None:
    counter = Counter()
    fake.add(Reply(tool_calls=[ToolUse("record", {"note": "a"}, id="toolu_1")]), *[HTTPError(529, "Overloaded")] * 3)
    process = await program(fake).start(tools=[counter.tool()])
    try:
        with pytest.raises(ProviderError) as info:
            await process.run("note a")
        assert info.value.retries == 2 and "anthropic is overloaded" in str(info.value)
        roles = [(m.role, type(m.parts[0]).__name__) for m in process.history]
        assert roles == [("user", "TextPart"), ("assistant", "ToolCall"), ("user", "ToolResult")]
        assert process.history[2].parts[0] == ToolResult("toolu_1", "recorded a", False, "record")
        fake.add(Reply(text="done after all"))
        result = await process.run("go on")
    finally:
        await process.aclose()
    assert result.answer == "done after all" and counter.calls == 1
    last = fake.requests[-1].body["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "user"]
    assert [b["type"] for b in last[2]["content"]] == ["tool_result", "text"]


async def test_max_cost_usd_stops_the_run(fake: FakeLLMServer) -> None:
    counter = Counter()
    # Each turn: 100k fresh input = $0.10. The limit is reached after the second turn.
    costly = Usage(input_tokens=100_000, output_tokens=0)
    fake.add(*[Reply(tool_calls=[ToolUse("record", {"note": str(i)})], usage=costly) for i in range(5)])
    process = await program(fake, limits={"max_cost_usd": 0.15}).start(tools=[counter.tool()])
    try:
        with pytest.raises(BudgetExceeded) as info:
            await process.run("spend")
    finally:
        await process.aclose()
    assert info.value.limit == "max_cost_usd" and process.cost_usd == pytest.approx(0.20)
    assert len(fake.requests) == 2 and counter.calls == 2
    assert process.history[-1].role == "user"  # every tool call has its result


@pytest.mark.parametrize("provider", ["anthropic", "openai", "openai_chat"])
async def test_cached_tokens_are_reported_and_priced(fake: FakeLLMServer, provider: str) -> None:
    model = MODEL if provider == "anthropic" else "gpt-4.1"
    usage = Usage(input_tokens=1_000, output_tokens=200, cache_write_tokens=0 if provider != "anthropic" else 3_000,
                  cache_read_tokens=50_000, reasoning_tokens=0)
    fake.add(Reply(text="cached", usage=usage))
    process = await program(fake, provider, model).start()
    try:
        result = await process.run("hi")
    finally:
        await process.aclose()
    assert result.usage == usage
    price = PRICES[model]
    expected = (1_000 * price.input + 200 * price.output + usage.cache_write_tokens * price.cache_write
                + 50_000 * price.cache_read) / 1e6
    assert result.cost_usd == pytest.approx(expected) and process.cost_usd == pytest.approx(expected)


# -- the CLIs ----------------------------------------------------------------------------------


def llmproc_cli(tmp_path: Path, fake: FakeLLMServer, model: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "p.toml"
    path.write_text(f'[model]\nname = "{model}"\nprovider = "anthropic"\nbase_url = "{fake.anthropic_base_url}"\n'
                    "[parameters]\nmax_retries = 1\nretry_initial_delay_s = 0.001\n")
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-ant-test"}
    command = [sys.executable, "-c", "from llmproc.cli.main import main; main()", str(path), "-p", "hi", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def test_cli_shows_cost_cached_tokens_and_unknown_cost(fake: FakeLLMServer, tmp_path: Path) -> None:
    fake.add(Reply(text="priced", usage=Usage(1_000, 100, cache_read_tokens=2_000)))
    priced = llmproc_cli(tmp_path, fake, MODEL)
    assert priced.returncode == 0, priced.stderr
    assert "2,000 cached" in priced.stderr and "$0.0017]" in priced.stderr  # 1000x1 + 100x5 + 2000x0.1
    fake.add(Reply(text="unpriced", usage=Usage(1_000, 100)))
    unknown = llmproc_cli(tmp_path, fake, "claude-nonexistent-9", "--json")
    assert unknown.returncode == 0, unknown.stderr
    assert "cost unknown]" in unknown.stderr and json.loads(unknown.stdout)["cost_usd"] is None
    assert unknown.stderr.count("no price known for model 'claude-nonexistent-9'") == 1


def test_cli_prints_the_provider_error_with_advice(fake: FakeLLMServer, tmp_path: Path) -> None:
    fake.add(HTTPError(401, "invalid x-api-key"))
    failed = llmproc_cli(tmp_path, fake, MODEL)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "HTTP 401" in failed.stderr and "set ANTHROPIC_API_KEY to a valid key" in failed.stderr


def test_cli_says_when_it_retries(fake: FakeLLMServer, tmp_path: Path) -> None:
    fake.add(HTTPError(529, "Overloaded"), Reply(text="after a retry"))
    done = llmproc_cli(tmp_path, fake, MODEL)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "after a retry"  # stdout carries only the answer
    assert "model call failed (529); retry 1/1 in " in done.stderr
