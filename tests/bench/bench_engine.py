"""Engine overhead, measured side by side against the fake provider server.

The fake server runs in a process of its own (remote_fake.py), as a real API would.

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
from llmproc.testing import FakeLLMServer, Reply
from remote_fake import RemoteFake

def script(turns: int) -> list[dict]:
    return [{"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]}] * (turns - 1) + [
        {"text": "done"}]


def program(provider: str, model: str, base_url: str) -> LLMProgram:
    return LLMProgram.from_dict({
        "model": {"name": model, "provider": provider, "base_url": base_url},
        "prompt": {"system_prompt": "You are a benchmark."},
        "parameters": {"max_tokens": 256, "max_retries": 0},
        "tools": {"enabled": ["calculator"]},
        "limits": {"max_turns": 1000},
    })


def base_url(fake: RemoteFake, provider: str) -> str:
    return fake.anthropic_base_url if provider == "anthropic" else fake.openai_base_url


async def llmproc_loop(provider: str, model: str, turns: int) -> float:
    with RemoteFake(script(turns)) as fake:
        process = await program(provider, model, base_url(fake, provider)).start(include_env=False)
        started = time.perf_counter()
        result = await process.run("go")
        elapsed = time.perf_counter() - started
        await process.aclose()
    assert result.turns == turns, result.turns
    return elapsed


async def raw_anthropic_loop(fake: RemoteFake, tools: list, system: str, turns: int) -> float:
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


async def raw_openai_loop(fake: RemoteFake, tools: list, system: str, turns: int) -> float:
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


async def overhead(rounds: int, turns: int) -> None:
    cases = [("anthropic", "claude-sonnet-5-5", raw_anthropic_loop), ("openai", "gpt-5", raw_openai_loop)]
    for provider, model, raw in cases:
        # One llmproc request first, to copy its exact tools and system prompt into the raw loop.
        with FakeLLMServer() as local:
            local.add(Reply(text="x"))
            process = await program(provider, model, base_url(local, provider)).start(include_env=False)
            await process.run("go")
            await process.aclose()
            body = local.requests[0].body
        tools = body["tools"]
        system = body.get("instructions") or body["system"]
        system = system if isinstance(system, str) else system[0]["text"]
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(await llmproc_loop(provider, model, turns))
            with RemoteFake(script(turns)) as fake:
                theirs.append(await raw(fake, tools, system, turns))
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{provider:9} {turns}-turn tool loop: llmproc {a * 1000:7.1f} ms, raw SDK {b * 1000:7.1f} ms, "
              f"ratio {a / b:.3f} (target <= 1.10)")


async def raw_concurrency(n: int, delay: float) -> float:
    with RemoteFake([{"text": "ok", "delay": delay}] * n) as fake:
        clients = [anthropic.AsyncAnthropic(base_url=fake.anthropic_base_url, api_key="k", max_retries=0)
                   for _ in range(n)]
        started = time.perf_counter()
        await asyncio.gather(*(c.messages.create(model="claude-sonnet-5-5", max_tokens=256,
                                                 messages=[{"role": "user", "content": "go"}]) for c in clients))
        elapsed = time.perf_counter() - started
        for c in clients:
            await c.close()
    return elapsed


async def llmproc_concurrency(n: int, delay: float) -> float:
    with RemoteFake([{"text": "ok", "delay": delay}] * n) as fake:
        prog = program("anthropic", "claude-sonnet-5-5", fake.anthropic_base_url)
        processes = [await prog.start(include_env=False) for _ in range(n)]
        started = time.perf_counter()
        results = await asyncio.gather(*(p.run("go") for p in processes))
        elapsed = time.perf_counter() - started
        for p in processes:
            await p.aclose()
    assert all(r.answer == "ok" for r in results)
    return elapsed


async def concurrency(n: int = 20, delay: float = 0.2, rounds: int = 5) -> None:
    """The server runs in a process of its own (see remote_fake.py), as a real API would."""
    ours, raw = [], []
    for _ in range(rounds):
        ours.append(await llmproc_concurrency(n, delay))
        raw.append(await raw_concurrency(n, delay))
    a, b = statistics.median(ours), statistics.median(raw)
    print(f"concurrency: {n} processes x 1 turn, {delay * 1000:.0f} ms delay: llmproc wall {a * 1000:.0f} ms "
          f"= {a / delay:.2f} x ideal (target <= 1.2); raw SDK, same {n} calls: {b * 1000:.0f} ms "
          f"= {b / delay:.2f} x ideal; llmproc / raw = {a / b:.2f}")


async def main(rounds: int, turns: int) -> None:
    logging.getLogger("llmproc.pricing").setLevel(logging.ERROR)
    os.environ["ANTHROPIC_API_KEY"] = os.environ["OPENAI_API_KEY"] = "bench-key"
    await overhead(rounds, turns)
    await concurrency(rounds=rounds)


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
