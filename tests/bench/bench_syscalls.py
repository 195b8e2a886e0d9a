"""System call costs, side by side in one run.

1. Fork cost: `await process.fork()` on a process with 10,000 messages versus one with 10.
   Target ratio <= 2 (the history prefix is shared, not copied).
2. Fan-out: one fork call with 50 prompts, 200 ms server delay per copy, through the Anthropic
   adapter against the fake server. Target: wall time <= 1.2 x the ideal (200 ms plus the
   parent's own two model calls, measured without delay in the same run).

    python tests/bench/bench_syscalls.py
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import time

from llmproc import LLMProgram
from llmproc.messages import Message
from llmproc.testing import ScriptedProvider
from remote_fake import RemoteFake


async def fork_cost(messages: int, repeats: int = 200) -> float:
    program = LLMProgram.from_dict({"model": {"name": "m", "provider": "scripted"},
                                    "limits": {"max_children": repeats + 1}})
    process = await program.start(provider=ScriptedProvider(), include_env=False)
    for i in range(messages):
        process.append(Message.user(f"message {i}") if i % 2 == 0 else Message.assistant(f"answer {i}"))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await process.fork()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def fan_out(copies: int, delay: float) -> float:
    script = ([{"tool_calls": [{"name": "fork", "arguments": {"prompts": [f"part {i}" for i in range(copies)]}}]}]
              + [{"text": "part done", "delay": delay}] * copies + [{"text": "all done"}])
    with RemoteFake(script) as fake:
        program = LLMProgram.from_dict({
            "model": {"name": "claude-sonnet-5-5", "provider": "anthropic", "base_url": fake.anthropic_base_url},
            "tools": {"enabled": ["fork"]}, "limits": {"max_children": copies}})
        process = await program.start(include_env=False)
        started = time.perf_counter()
        result = await process.run("fan out")
        elapsed = time.perf_counter() - started
        await process.aclose()
    assert result.answer == "all done"
    return elapsed


async def raw_fan_out(copies: int, delay: float) -> float:
    """The same concurrent model calls made directly with one SDK client: the floor set by the
    SDK on this machine."""
    import anthropic

    with RemoteFake([{"text": "part done", "delay": delay}] * copies) as fake:
        client = anthropic.AsyncAnthropic(base_url=fake.anthropic_base_url, api_key="k", max_retries=0)
        started = time.perf_counter()
        await asyncio.gather(*(client.messages.create(model="claude-sonnet-5-5", max_tokens=256,
                                                      messages=[{"role": "user", "content": f"part {i}"}])
                               for i in range(copies)))
        elapsed = time.perf_counter() - started
        await client.close()
    return elapsed


async def start_cost(shared_client: bool, repeats: int = 20) -> float:
    """Starting a process (as spawn does for a linked program): with the shared SDK client versus
    building a client per process."""
    from llmproc.providers import registry

    program = LLMProgram.from_dict({"model": {"name": "claude-sonnet-5-5", "provider": "anthropic",
                                              "base_url": "http://127.0.0.1:9"}})
    original = registry.create_provider
    registry.create_provider = lambda settings, shared_client=shared_client: original(  # type: ignore[misc]
        settings, shared_client=shared_client)
    try:
        keep = await program.start(include_env=False)  # holds the shared client open
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            process = await program.start(include_env=False)
            times.append(time.perf_counter() - started)
            await process.aclose()
        await keep.aclose()
    finally:
        registry.create_provider = original
    return statistics.median(times)


async def main() -> None:
    logging.getLogger("llmproc.pricing").setLevel(logging.ERROR)
    small, large = await fork_cost(10), await fork_cost(10_000)
    print(f"fork of 10 messages {small * 1e6:8.1f} us, of 10,000 messages {large * 1e6:8.1f} us: "
          f"ratio {large / small:.2f} (target <= 2)")
    os.environ["ANTHROPIC_API_KEY"] = "bench-key"
    shared, own = await start_cost(True), await start_cost(False)
    print(f"process start (spawn of a linked program): {shared * 1000:.2f} ms with the shared client, "
          f"{own * 1000:.2f} ms building its own")
    # The fake server runs in a process of its own, as a real API would (remote_fake.py).
    await fan_out(2, 0.0)  # warm up
    base = statistics.median([await fan_out(1, 0.0) for _ in range(3)])  # the parent's own calls
    runs = [await fan_out(50, 0.2) for _ in range(3)]
    wall = statistics.median(runs)
    ideal = 0.2 + base
    raw = statistics.median([await raw_fan_out(50, 0.2) for _ in range(3)])
    print(f"fan-out: 50 forks x 200 ms: wall {wall * 1000:.0f} ms, ideal {ideal * 1000:.0f} ms "
          f"(200 ms + {base * 1000:.0f} ms of parent calls): ratio {wall / ideal:.2f} (target <= 1.2)")
    print(f"         the same 50 calls made directly with the SDK: {raw * 1000:.0f} ms = {raw / 0.2:.2f} x 200 ms; "
          f"llmproc fan-out / (raw + parent calls) = {wall / (raw + base):.2f}")


if __name__ == "__main__":
    asyncio.run(main())
