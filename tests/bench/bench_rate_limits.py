"""A 100-way fork at the provider's rate limits: the shared account limiter versus none.

The fake server runs in a process of its own (as a real API would) with emulated rate limits in
fixed windows compressed from 60 s to `--window` seconds (2 s by default; the headers still
state per-minute limits). Each scenario forks one idle process 100 times and runs every fork at
once (one model call each), first with the limiter, then with `LLMPROC_RATE_LIMITER=off`.

1. 50 requests/minute: 429s received (target: at most 1 per limit window with the limiter) and
   wall time / the minimum the limit allows, (ceil(100 / 50) - 1) windows (target <= 1.15).
2. 40,000 input tokens/minute (and 200 requests/minute), prompts of mixed sizes (about 200 to
   2,000 tokens): the same figures; the minimum is (ceil(total tokens / 40,000) - 1) windows,
   a lower bound (prompts do not pack windows perfectly).

    python tests/bench/bench_rate_limits.py [--window 2.0] [--forks 100] [--provider anthropic]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import random
import subprocess
import sys
import time

from llmproc import LLMProgram

_SERVE = """
import json, sys, time
from llmproc.testing import FakeLLMServer, RateLimits, Reply
limits = json.loads(sys.argv[1])
first = []
def answer(request):
    first.append(time.time())
    return Reply(text="ok", delay=0.05)
with FakeLLMServer(answer, rate_limits=RateLimits(**limits)) as fake:
    print(fake.url, flush=True)
    sys.stdin.readline()  # serve until the parent writes a line
    print(fake.rate_limited, len(fake.requests), min(first), flush=True)
"""


class LimitedFake:
    """A FakeLLMServer with `rate_limits` in a process of its own; `stop()` returns (429s, requests,
    when the first request arrived)."""

    def __init__(self, **limits: object):
        self._proc = subprocess.Popen([sys.executable, "-c", _SERVE, json.dumps(limits)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()

    def stop(self) -> tuple[int, int, float]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("stop\n")
        self._proc.stdin.flush()
        rejected, requests, first = self._proc.stdout.readline().split()
        self._proc.stdin.close()
        self._proc.wait(timeout=10)
        return int(rejected), int(requests), float(first)


def program(provider: str, url: str, forks: int) -> LLMProgram:
    return LLMProgram.from_dict({
        "model": {"name": "fake-model", "provider": provider,
                  "base_url": url if provider == "anthropic" else url + "/v1"},
        "prompt": {"system_prompt": "You are a benchmark."},
        "parameters": {"max_tokens": 64, "max_retries": 20, "retry_max_delay_s": 2.0},
        "limits": {"max_children": forks, "max_processes_per_tree": forks + 1,
                   "max_model_calls_per_run": 100 * forks},
    })


async def fork_out(provider: str, url: str, prompts: list[str]) -> tuple[float, float, int]:
    """Wall time of running every fork at once, when it ended (time.time()), how many failed."""
    parent = await program(provider, url, len(prompts)).start(include_env=False)
    forks = [await parent.fork() for _ in prompts]
    started = time.perf_counter()
    results = await asyncio.gather(*(f.run(p) for f, p in zip(forks, prompts)), return_exceptions=True)
    elapsed, ended = time.perf_counter() - started, time.time()
    for f in forks:
        await f.aclose()
    await parent.aclose()
    return elapsed, ended, sum(isinstance(r, BaseException) for r in results)


def scenario(title: str, provider: str, limits: dict, prompts: list[str], minimum_s: float, window: float) -> None:
    """Prints, per run: the 429s, the requests the server saw, failed forks, the wall time, the time
    from the first request the server saw to the end (`served`, which leaves out starting 100
    runs), each / the minimum the limit allows, and the wall time of the same fan-out unlimited."""
    os.environ["LLMPROC_RATE_LIMITER"] = "off"
    free = LimitedFake(requests_per_minute=100_000, window_s=window)
    unlimited, _, _ = asyncio.run(fork_out(provider, free.url, prompts))
    free.stop()
    print(f"\n{title} ({len(prompts)} forks, {provider}; minimum the limit allows: {minimum_s:.2f} s; "
          f"the same fan-out without limits: {unlimited:.2f} s)")
    for label, switch in (("with the limiter", "on"), ("without (LLMPROC_RATE_LIMITER=off)", "off")):
        os.environ["LLMPROC_RATE_LIMITER"] = switch
        fake = LimitedFake(**limits, window_s=window)
        elapsed, ended, failed = asyncio.run(fork_out(provider, fake.url, prompts))
        rejected, requests, first = fake.stop()
        served = ended - first
        windows = math.ceil(served / window)
        print(f"  {label:36} 429s: {rejected:3d} ({rejected / windows:.1f}/window)  requests: {requests:3d}  "
              f"failed: {failed}  wall: {elapsed:.2f} s ({elapsed / minimum_s:.2f}x)  "
              f"served: {served:.2f} s ({served / minimum_s:.2f}x)")
    os.environ.pop("LLMPROC_RATE_LIMITER", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=2.0, help="seconds standing for one minute")
    parser.add_argument("--forks", type=int, default=100)
    parser.add_argument("--provider", default="anthropic", choices=["anthropic", "openai", "openai_chat"])
    args = parser.parse_args()
    os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-bench")
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    logging.disable(logging.WARNING)  # the retry layer logs every 429 of the run without the limiter
    n, window = args.forks, args.window

    rpm = 50
    scenario("1. 50 requests/minute", args.provider, {"requests_per_minute": rpm}, ["Say ok."] * n,
             (math.ceil(n / rpm) - 1) * window, window)

    rng = random.Random(7)
    prompts = ["Summarise: " + "lorem ipsum " * rng.choice((60, 250, 650)) for _ in range(n)]
    # A request's tokens as the fake bills them: its body's bytes // 4 (the prompt is most of it).
    tokens = sum(len(p) // 4 + 60 for p in prompts)
    tpm = 40_000
    scenario("2. 40,000 input tokens/minute, mixed prompt sizes", args.provider,
             {"requests_per_minute": 200, "input_tokens_per_minute": tpm}, prompts,
             (math.ceil(tokens / tpm) - 1) * window, window)


if __name__ == "__main__":
    main()
