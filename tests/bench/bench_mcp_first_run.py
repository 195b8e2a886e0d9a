"""llmproc-mcp's first run on each provider: does the event loop stall while the SDK loads?

For each provider (anthropic, openai, openai_chat, gemini) a new server is started over stdio
(`python -m llmproc_mcp`, a fresh process, so nothing is imported yet) and, as soon as its tools
are listed, gets a `run_program` whose one model call the fake provider answers after `--delay`
seconds, while `ps` is called again and again on the same connection. Measured, side by side:

- the longest gap between the run's progress notifications, against the progress interval
  (target: <= interval + 0.5 s; before the SDK left the event loop it was 4-9 s);
- how long `ps` takes while the SDK is being imported (the first `ps` calls) against `ps` on
  the same server once everything is loaded (the last calls): the ratio shows what the import
  costs other callers (target: no call above 0.5 s).

    python tests/bench/bench_mcp_first_run.py [--delay 2] [--interval 0.25]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from llmproc.testing import FakeLLMServer, Reply
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[2]
BASE_URLS = {"anthropic": "anthropic_base_url", "openai": "openai_base_url",
             "openai_chat": "openai_base_url", "gemini": "gemini_base_url"}


def env() -> dict[str, str]:
    values = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    values.update(ANTHROPIC_API_KEY="bench", OPENAI_API_KEY="bench", GEMINI_API_KEY="bench")
    return values


async def first_run(provider: str, fake: FakeLLMServer, work: Path, delay: float,
                    interval: float) -> tuple[float, list[float], list[float]]:
    folder = work / provider
    folder.mkdir()
    (folder / "first.toml").write_text(
        f'[model]\nname = "m"\nprovider = "{provider}"\nbase_url = "{getattr(fake, BASE_URLS[provider])}"\n'
        "[parameters]\nmax_retries = 0\n")
    fake.add(Reply(text="answer", delay=delay))
    params = StdioServerParameters(command=sys.executable, args=[
        "-m", "llmproc_mcp", "--programs", str(folder), "--no-state", "--progress-interval", str(interval),
        "--log-level", "WARNING"], env=env(), cwd=str(ROOT))
    progress: list[float] = []
    ps_times: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(time.perf_counter())

    with open(os.devnull, "w") as devnull:  # noqa: ASYNC230 - opening /dev/null does not block
        async with Client(stdio_client(params, errlog=devnull), mode="legacy") as client:
            await client.list_tools()
            done = anyio.Event()

            async def run() -> None:
                started = time.perf_counter()
                progress.append(started)
                await client.call_tool("run_program", {"program": "first", "prompt": "hi"},
                                       progress_callback=on_progress)
                progress.append(time.perf_counter())
                done.set()

            async with anyio.create_task_group() as group:
                group.start_soon(run)
                while not done.is_set():
                    began = time.perf_counter()
                    await client.call_tool("ps", {})
                    ps_times.append(time.perf_counter() - began)
                    await anyio.sleep(0.02)
    gaps = [b - a for a, b in zip(progress, progress[1:])]
    return max(gaps), ps_times[:5], ps_times[-5:]


async def main(delay: float, interval: float) -> None:
    print(f"{'provider':<12}{'longest progress gap':>22}{'target':>10}{'ps during load':>16}"
          f"{'ps warm':>10}{'ratio':>8}{'slowest ps':>12}")
    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer() as fake:
        for provider in BASE_URLS:
            gap, early, late = await first_run(provider, fake, Path(tmp), delay, interval)
            loading, warm = statistics.median(early), statistics.median(late)
            print(f"{provider:<12}{gap * 1e3:>20.0f}ms{(interval + 0.5) * 1e3:>8.0f}ms{loading * 1e3:>14.1f}ms"
                  f"{warm * 1e3:>8.1f}ms{loading / warm:>8.2f}{max(early + late) * 1e3:>10.1f}ms")
    print(f"(provider delay {delay} s, progress interval {interval} s; ps: median of the first and the "
          "last five calls made while the run went on)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=2.0, help="provider delay of the first model call")
    parser.add_argument("--interval", type=float, default=0.25, help="--progress-interval of the server")
    options = parser.parse_args()
    anyio.run(main, options.delay, options.interval)
