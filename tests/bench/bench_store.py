"""Saving and loading a 1,000-turn process through the SQLite store, against `json.dumps` +
`json.loads` of the same history alone (the least any saving can cost), side by side.

The process: TURNS model turns (each assistant message has a signed thinking block; half call a
tool whose ~1.5 kB result follows), ~2 MB of JSON. Measured, median of --runs, interleaved:

    baseline   json.dumps(history) + json.loads(text)
    store      store.save(name, process.snapshot()) + store.load(name)       (target: <= 2x)
    restore    the same + LLMProcess.restore(state): a live process again
    durable    store with durable=True (an fsync per save)

    python tests/bench/bench_store.py [--turns 1000] [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from llmproc import LLMProcess, LLMProgram
from llmproc.messages import Message, TextPart, ThinkingPart, ToolCall, ToolResult, Usage, messages_to_json
from llmproc.process.history import History
from llmproc.store import SQLiteStore, open_store
from llmproc.testing import ScriptedProvider

TARGET = 2.0


def build_history(turns: int) -> list[Message]:
    messages: list[Message] = []
    for turn in range(turns):
        if turn % 2 == 0:
            messages.append(Message.user(f"Step {turn}: look at module {turn} and tell me what it does. " * 3))
        thinking = ThinkingPart(f"Considering step {turn}. " * 12, signature="EqQBCkYIBxgCKkD" * 20,
                                provider="anthropic")
        if turn % 2 == 0:
            call = ToolCall(f"toolu_{turn:05d}", "read_file", {"path": f"src/module_{turn}.py"})
            messages.append(Message("assistant", (thinking, TextPart("Let me read it."), call)))
            content = "".join(f"{i:4d}  def function_{i}(x):  return x * {i}\n" for i in range(36))
            messages.append(Message("user", (ToolResult(call.id, content, name="read_file"),)))
        else:
            messages.append(Message("assistant", (thinking, TextPart(f"Module {turn - 1} defines helpers. " * 10))))
    return [Message(m.role, m.parts, f"m{i + 1}") for i, m in enumerate(messages)]


async def median(fn: Callable[[], Awaitable[object]], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def main(turns: int, runs: int) -> float:
    program = LLMProgram.from_dict({"model": {"name": "echo", "provider": "scripted"},
                                    "prompt": {"system_prompt": "You help."}})
    process = await program.start(provider=ScriptedProvider())
    process.history = History(build_history(turns))
    process.next_message_id = len(process.history) + 1
    process.usage = Usage(turns * 2000, turns * 150, cache_read_tokens=turns * 1500)
    history_dicts = messages_to_json(list(process.history))
    size = len(json.dumps(history_dicts))

    with tempfile.TemporaryDirectory() as folder:
        store, durable = open_store(Path(folder) / "bench.db"), open_store(Path(folder) / "durable.db", durable=True)

        async def baseline() -> None:
            json.loads(json.dumps(history_dicts))

        def through(target: SQLiteStore) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                target.save("bench", process.snapshot())
                target.load("bench")
            return run

        async def restore() -> None:
            store.save("bench", process.snapshot())
            restored = await LLMProcess.restore(store.load("bench"), provider=ScriptedProvider())
            assert len(restored.history) == len(process.history)

        timings: dict[str, list[float]] = {"baseline": [], "store": [], "restore": [], "durable": []}
        cases = {"baseline": baseline, "store": through(store), "restore": restore, "durable": through(durable)}
        for fn in cases.values():  # warm up (first SQLite pages, imports)
            await fn()
        for _ in range(runs):  # interleaved, so drift hits every case alike
            for name, fn in cases.items():
                timings[name].append(await median(fn, 1))
        store.close()
        durable.close()

    result = {name: statistics.median(values) for name, values in timings.items()}
    base = result["baseline"]
    print(f"{turns} turns, {len(process.history)} messages, {size / 1e6:.2f} MB of history JSON; median of {runs}")
    print(f"{'case':<10} {'ms':>8} {'ratio':>7}")
    for name, value in result.items():
        print(f"{name:<10} {value * 1000:8.2f} {value / base:7.2f}")
    ratio = result["store"] / base
    print(f"store save+load / json dumps+loads of the history: {ratio:.2f} (target <= {TARGET})")
    return ratio


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    asyncio.run(main(args.turns, args.runs))
