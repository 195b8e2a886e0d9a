"""Engine overhead, measured side by side against the fake provider server.

1. Per-turn overhead: a 50-turn tool loop, llmproc versus a minimal loop written directly on the
   SDK that makes the same requests (Anthropic and OpenAI Responses). Target ratio <= 1.10.
2. Concurrency: 20 processes of one turn each, run at once, 200 ms server delay.
   Target wall time <= 1.2 x 200 ms.

    python tests/bench/bench_engine.py [--rounds 5] [--turns 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import logging

import anthropic
import openai

from llmproc import LLMProgram
from llmproc.testing import FakeLLMServer, Reply, ToolUse

def script(fake: FakeLLMServer, turns: int) -> None:
    for _ in range(turns - 1):
        fake.add(Reply(tool_calls=[ToolUse("calculator", {"expression": "6*7"})]))
    fake.add(Reply(text="done"))


def program(provider: str, model: str, base_url: str) -> LLMProgram:
    return LLMProgram.from_dict({
        "model": {"name": model, "provider": provider, "base_url": base_url},
        "prompt": {"system_prompt": "You are a benchmark."},
        "parameters": {"max_tokens": 256, "max_retries": 0},
        "tools": {"enabled": ["calculator"]},
        "limits": {"max_turns": 1000},
    })


async def llmproc_loop(fake: FakeLLMServer, provider: str, model: str, base_url: str, turns: int) -> float:
    script(fake, turns)
    process = await program(provider, model, base_url).start(include_env=False)
    started = time.perf_counter()
    result = await process.run("go")
    elapsed = time.perf_counter() - started
    await process.aclose()
    assert result.turns == turns, result.turns
    return elapsed


async def raw_anthropic_loop(fake: FakeLLMServer, tools: list, system: str, turns: int) -> float:
    script(fake, turns)
    client = anthropic.AsyncAnthropic(base_url=fake.anthropic_base_url, api_key="k", max_retries=0)
    history: list = [{"role": "user", "content": "go"}]
    started = time.perf_counter()
    for _ in range(turns):
        message = await client.messages.create(model="claude-sonnet-5-5", max_tokens=256, system=system,
                                               messages=history, tools=tools)
        history.append(message.to_param())
        calls = [b for b in message.content if b.type == "tool_use"]
        if not calls:
            break
        history.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": c.id, "content": "42"} for c in calls]})
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


async def raw_openai_loop(fake: FakeLLMServer, tools: list, system: str, turns: int) -> float:
    script(fake, turns)
    client = openai.AsyncOpenAI(base_url=fake.openai_base_url, api_key="k", max_retries=0)
    items: list = [{"role": "user", "content": "go"}]
    started = time.perf_counter()
    for _ in range(turns):
        response = await client.responses.create(model="gpt-5", instructions=system, input=items, tools=tools,
                                                 max_output_tokens=256)
        items += [o.model_dump(exclude_none=True) for o in response.output]
        calls = [o for o in response.output if o.type == "function_call"]
        if not calls:
            break
        items += [{"type": "function_call_output", "call_id": c.call_id, "output": "42"} for c in calls]
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


async def overhead(fake: FakeLLMServer, rounds: int, turns: int) -> None:
    cases = [("anthropic", "claude-sonnet-5-5", fake.anthropic_base_url, raw_anthropic_loop),
             ("openai", "gpt-5", fake.openai_base_url, raw_openai_loop)]
    for provider, model, url, raw in cases:
        # One llmproc run first, to copy its exact tools and system prompt into the raw loop.
        fake.reset()
        await llmproc_loop(fake, provider, model, url, 2)
        body = fake.requests[0].body
        tools = body["tools"]
        system = body.get("instructions") or body["system"]
        system = system if isinstance(system, str) else system[0]["text"]
        ours, theirs = [], []
        for _ in range(rounds):
            fake.reset()
            ours.append(await llmproc_loop(fake, provider, model, url, turns))
            fake.reset()
            theirs.append(await raw(fake, tools, system, turns))
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{provider:9} {turns}-turn tool loop: llmproc {a * 1000:7.1f} ms, raw SDK {b * 1000:7.1f} ms, "
              f"ratio {a / b:.3f} (target <= 1.10)")


async def raw_concurrency(fake: FakeLLMServer, n: int, delay: float) -> float:
    fake.reset()
    clients = [anthropic.AsyncAnthropic(base_url=fake.anthropic_base_url, api_key="k", max_retries=0)
               for _ in range(n)]
    for _ in range(n):
        fake.add(Reply(text="ok", delay=delay))
    started = time.perf_counter()
    await asyncio.gather(*(c.messages.create(model="claude-sonnet-5-5", max_tokens=256,
                                             messages=[{"role": "user", "content": "go"}]) for c in clients))
    elapsed = time.perf_counter() - started
    for c in clients:
        await c.close()
    return elapsed


async def concurrency(fake: FakeLLMServer, n: int = 20, delay: float = 0.2, rounds: int = 5) -> None:
    ours, raw = [], []
    for _ in range(rounds):
        ours.append(await llmproc_concurrency(fake, n, delay))
        raw.append(await raw_concurrency(fake, n, delay))
    a, b = statistics.median(ours), statistics.median(raw)
    print(f"concurrency: {n} processes x 1 turn, {delay * 1000:.0f} ms delay: llmproc wall {a * 1000:.0f} ms "
          f"= {a / delay:.2f} x ideal (target <= 1.2); raw SDK, same {n} calls: {b * 1000:.0f} ms "
          f"= {b / delay:.2f} x ideal; llmproc / raw = {a / b:.2f}")


async def llmproc_concurrency(fake: FakeLLMServer, n: int, delay: float) -> float:
    fake.reset()
    prog = program("anthropic", "claude-sonnet-5-5", fake.anthropic_base_url)
    processes = [await prog.start(include_env=False) for _ in range(n)]
    for _ in range(n):
        fake.add(Reply(text="ok", delay=delay))
    started = time.perf_counter()
    results = await asyncio.gather(*(p.run("go") for p in processes))
    elapsed = time.perf_counter() - started
    for p in processes:
        await p.aclose()
    assert all(r.answer == "ok" for r in results)
    return elapsed


async def main(rounds: int, turns: int) -> None:
    logging.getLogger("llmproc.pricing").setLevel(logging.ERROR)
    os.environ["ANTHROPIC_API_KEY"] = os.environ["OPENAI_API_KEY"] = "bench-key"
    with FakeLLMServer() as fake:
        await overhead(fake, rounds, turns)
        await concurrency(fake, rounds=rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop (as the CLIs do)")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.run(main(args.rounds, args.turns))
    else:
        asyncio.run(main(args.rounds, args.turns))
