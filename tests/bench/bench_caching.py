"""Prompt caching: a 30-turn tool conversation through the Anthropic adapter (real SDK, fake
server), its requests judged by Anthropic's cache rules (`llmproc.testing.prompt_cache`).

Three strategies over the very same conversation, side by side: ours (system + previous
request's end + last message), the naive one (system + last message) and no caching. Then three
forks of the finished process each take one turn: how much of their first request is read.
Targets (issue 9): >= 90% of input tokens after the first turn read from the cache, and cost
<= 0.25x the cost without caching.

    python tests/bench/bench_caching.py [--turns 30] [--model claude-sonnet-4-6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

from llmproc import LLMProgram
from llmproc.pricing import PRICES, Price
from llmproc.testing import FakeLLMServer, Reply, ToolUse
from llmproc.testing.prompt_cache import CacheUsage, PromptCacheModel
from llmproc.tools import tool

SYSTEM = ("You are a code-review agent. Read the files you are pointed at, run the checks, and "
          "report findings with file and line. Be precise; cite evidence; never guess. ") * 60


@tool
def read_file(path: str) -> str:
    """Read a file of the repository under review."""
    lines = [f"{n:4d}  def handler_{n}(request):  # from {path}" for n in range(1, 14 + len(path) % 20)]
    return "\n".join(lines)


@tool
def run_check(name: str) -> str:
    """Run a named static check and return its report."""
    return f"check {name}: 3 warnings\n" + "\n".join(f"  W{n}: unused import in module_{n}.py" for n in range(9))


def script(turns: int) -> list[Reply]:
    """turns - 1 tool turns (every 7th asks for 12 files at once), then the answer."""
    replies = []
    for t in range(turns - 1):
        if t % 7 == 3:
            calls = [ToolUse("read_file", {"path": f"src/pkg{t}/mod{i}.py"}) for i in range(12)]
        elif t % 2:
            calls = [ToolUse("run_check", {"name": f"lint-{t}"})]
        else:
            calls = [ToolUse("read_file", {"path": f"src/file_{t}.py"})]
        replies.append(Reply(text=f"Turn {t}: looking further.", tool_calls=calls))
    return [*replies, Reply(text="Review complete: 27 findings, listed above.")]


def naive(body: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    for message in body["messages"][:-1]:
        for block in message["content"]:
            block.pop("cache_control", None)
    return body


def bare(body: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(body).replace(', "cache_control": {"type": "ephemeral"}', ""))


def summary(usage: list[CacheUsage], output_tokens: int, price: Price) -> tuple[float, float]:
    later = usage[1:]
    read_share = sum(u.cache_read_tokens for u in later) / sum(u.total_input_tokens for u in later)
    cost = sum(u.input_tokens * price.input + u.cache_write_tokens * price.cache_write
               + u.cache_read_tokens * price.cache_read for u in usage) / 1e6
    return read_share, cost + output_tokens * price.output / 1e6


async def main(turns: int, model: str) -> None:
    os.environ["ANTHROPIC_API_KEY"] = "sk-ant-bench"
    price = PRICES[model]
    with FakeLLMServer() as fake:
        fake.add(*script(turns))
        program = LLMProgram.from_dict({
            "model": {"name": model, "provider": "anthropic", "base_url": fake.anthropic_base_url},
            "prompt": {"system_prompt": SYSTEM}, "limits": {"max_turns": turns + 1}})
        process = await program.start(tools=[read_file, run_check], include_env=False)
        result = await process.run("Review the repository.")
        conversation = [r.body for r in fake.requests]
        fake.add(*[Reply(text=f"Child {i} done.") for i in range(3)])
        children = [await process.fork() for _ in range(3)]
        for i, child in enumerate(children):
            await child.run(f"Child task {i}: summarise findings for area {i}.")
        fork_bodies = [r.body for r in fake.requests[len(conversation):]]
        await process.aclose()
    output = result.usage.output_tokens
    blocks = [sum(1 for m in b["messages"] for _ in m["content"]) for b in conversation]
    print(f"{len(conversation)} requests through the Anthropic adapter; {blocks[-1]} message blocks at the end, "
          f"{max(b - a for a, b in zip(blocks, blocks[1:]))} added by the widest turn; model {model} "
          f"(${price.input:g}/${price.cache_write:g}/${price.cache_read:g}/${price.output:g} per MTok "
          f"in/write/read/out); {output:,} output tokens in all")
    rows = []
    for name, transform in (("ours", lambda b: b), ("naive: system + last message", naive), ("no caching", bare)):
        cache = PromptCacheModel()
        usage = [cache.feed(transform(b)) for b in conversation]
        rows.append((name, *summary(usage, output, price), max(u.breakpoints for u in usage)))
        if name == "ours":
            fork_usage = [cache.feed(b) for b in fork_bodies]
    baseline = rows[-1][2]
    print(f"{'strategy':30} {'cache reads after turn 1':>25} {'cost':>10} {'vs no caching':>14} {'max breakpoints':>16}")
    for name, read_share, cost, marks in rows:
        print(f"{name:30} {read_share:>24.1%} {cost:>9.4f}$ {cost / baseline:>13.3f}x {marks:>16}")
    print("forked children, first request: " + ", ".join(
        f"{u.cache_read_tokens / u.total_input_tokens:.1%} read" for u in fork_usage))
    ours = rows[0]
    print(f"targets: reads >= 90% -> {'met' if ours[1] >= 0.9 else 'MISSED'}; "
          f"cost <= 0.25x -> {'met' if ours[2] / baseline <= 0.25 else 'MISSED'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--model", default="claude-sonnet-4-6")
    args = parser.parse_args()
    asyncio.run(main(args.turns, args.model))
