"""Faults x adapters: a one-tool-turn run whose second model call meets a fault, through the
real SDKs, the registry's retry layer (default backoff, max_retries=2) and the turn loop.

For each cell: the outcome, the retries made (requests to the fake minus the two calls the run
needs), the wall time of the run, and whether the history stayed intact: the tool ran once,
every tool call has its result, a streamed answer shows no text twice, and after a failure a
new `run()` works.

    python tests/bench/bench_faults.py [--fast]     # --fast: 1 ms backoff instead of 0.5 s
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from llmproc import LLMProgram
from llmproc.errors import ProviderError
from llmproc.process.events import TextDelta
from llmproc.providers.registry import create_provider
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ScriptItem, ToolUse
from llmproc.testing.adapters import ADAPTERS, fake_settings
from llmproc.tools import tool

TEXT = "an answer long enough to stream in several deltas"
MODELS = {"anthropic": "claude-haiku-4-5", "anthropic_vertex": "claude-haiku-4-5", "openai": "gpt-4.1-mini",
          "openai_chat": "gpt-4.1-mini", "gemini": "gemini-2.5-flash"}
AFTER_TEXT = {"anthropic": 5, "anthropic_vertex": 5, "openai": 6, "openai_chat": 3, "gemini": 2}


def faults(adapter: str) -> dict[str, tuple[list[ScriptItem], bool]]:
    """kind -> (what the second model call meets, streamed?)"""
    cut = 0 if adapter == "gemini" else 1  # events before the fault, none of them output
    overloaded = 529 if adapter.startswith("anthropic") else 503
    return {
        "408 timeout": ([HTTPError(408, "timeout")], False),
        "409 conflict": ([HTTPError(409, "conflict")], False),
        "429 rate limit": ([HTTPError(429, "rate limited")], False),
        "500": ([HTTPError(500, "internal")], False),
        "502": ([HTTPError(502, "bad gateway")], False),
        "503": ([HTTPError(503, "unavailable")], True),
        "529 overloaded": ([HTTPError(529, "overloaded", error_type="overloaded_error")], True),
        "429 Retry-After 0.05s": ([HTTPError(429, "slow down", headers={"retry-after": "0.05"})], False),
        "429 Retry-After 3600s": ([HTTPError(429, "slow down", headers={"retry-after": "3600"})], False),
        "in-stream error": ([Reply(text=TEXT, stream_error="overloaded_error", cut_after=cut)], True),
        "truncated stream": ([Reply(text=TEXT, stream_cut="truncate", cut_after=cut)], True),
        "dropped stream": ([Reply(text=TEXT, stream_cut="disconnect", cut_after=cut)], True),
        "dropped connection": ([Reply(text=TEXT, stream_cut="disconnect")], False),
        "dropped after output": ([Reply(text=TEXT, stream_cut="disconnect", cut_after=AFTER_TEXT[adapter])], True),
        f"{overloaded} x3 (exhausted)": ([HTTPError(overloaded, "Overloaded")] * 3, False),
        "401 bad key": ([HTTPError(401, "invalid x-api-key")], False),
    }


async def one(fake: FakeLLMServer, adapter: str, items: list[ScriptItem], stream: bool,
              policy: dict[str, Any]) -> tuple[str, int, float, bool]:
    fake.reset()
    calls: list[str] = []

    @tool
    def record(note: str) -> str:
        """Record a note."""
        calls.append(note)
        return f"recorded {note}"

    fake.add(Reply(tool_calls=[ToolUse("record", {"note": "a"})]), *items, Reply(text="done"))
    provider = create_provider(fake_settings(fake, adapter, **policy))
    program = LLMProgram.from_dict({"model": {"name": MODELS[adapter], "provider": adapter}})
    process = await program.start(provider=provider, tools=[record], include_env=False)
    shown: list[str] = []
    process.subscribe(lambda e: shown.append(e.text) if isinstance(e, TextDelta) else None)
    started = time.perf_counter()
    try:
        result = await process.run("note a", stream=stream)
        outcome, answer_ok = "ok", result.answer == "done" and (not stream or "".join(shown) == "done")
    except ProviderError as error:
        outcome, answer_ok = f"error {error.status or ''}".strip(), True
    elapsed = time.perf_counter() - started
    retries = len(fake.requests) - 2
    history = process.history
    results = {r.call_id for m in history for r in m.tool_results}
    intact = (calls == ["a"] and answer_ok and all(c.id in results for m in history for c in m.tool_calls)
              and [m.role for m in history[:3]] == ["user", "assistant", "user"])
    if outcome != "ok":  # the process must still work
        fake.reset()  # drop the unused "done"
        fake.add(Reply(text="resumed"))
        intact = intact and (await process.run("again")).answer == "resumed" and calls == ["a"]
    await process.aclose()
    await provider.aclose()
    return outcome, retries, elapsed, intact


async def main(fast: bool) -> None:
    policy: dict[str, Any] = {"max_retries": 2}
    if fast:
        policy.update(retry_initial_delay_s=0.001, retry_max_delay_s=0.001)
    kinds = list(faults("anthropic"))
    kinds[-2] = "529/503 x3 (exhausted)"
    width = max(map(len, kinds)) + 2
    head = f"{'outcome':>10} {'retries':>7} {'ms':>5} {'intact':>6}"
    print(f"{'fault':{width}}" + "".join(f"{a:>32}" for a in ADAPTERS))
    print(" " * width + "".join(f"{head:>32}" for _ in ADAPTERS))
    broken = 0
    with FakeLLMServer() as fake:
        for row, kind in enumerate(kinds):
            cells = []
            for adapter in ADAPTERS:
                items, stream = list(faults(adapter).values())[row]
                outcome, retries, elapsed, intact = await one(fake, adapter, items, stream, policy)
                broken += not intact
                cells.append(f"{outcome:>10} {retries:>7} {elapsed * 1000:>5.0f} {'yes' if intact else 'NO':>6}")
            print(f"{kind:{width}}" + "".join(f"{c:>32}" for c in cells))
    print(f"policy: max_retries=2, backoff {'1 ms' if fast else '0.5 s doubling, -25% jitter'}, "
          f"Retry-After honoured up to 60 s; history intact in {len(kinds) * len(ADAPTERS) - broken}/"
          f"{len(kinds) * len(ADAPTERS)} cells")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--fast", action="store_true")
    asyncio.run(main(parser.parse_args().fast))
