"""File descriptors at scale: a 100 MB tool output through `LLMProcess.call_tool`.

Measures, side by side in one run:
- creating the fd (page table + preview) against one bare pass over the content
  (`str.count("\\n")`, the least any indexing can cost);
- reading the last page against the first (targets: at most 2x), by page and by line range,
  through the real read_fd tool;
- reading a page of a 100 MB fd against a page of a 1 MB fd (should be about 1: a read costs
  the page, not the content);
- peak memory while the fd is created and read, against the content size (target: at most 2x);
- fd_to_file of the whole fd against a plain `Path.write_text`.

    python tests/bench/bench_fd.py [--mb 100] [--reads 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from llmproc import LLMProgram
from llmproc.fd import FDTable
from llmproc.messages import ToolCall
from llmproc.providers.scripted import ScriptedProvider
from llmproc.tools import SimpleToolContext, Toolset, tool
from llmproc.tools.builtin.fd_tools import FD_TOOLS

MB = 1_000_000


def make_content(size: int, seed: int = 7) -> str:
    """`size` characters of log-like lines of varied length (a 1 MB block, repeated)."""
    rng = random.Random(seed)
    lines, total = [], 0
    while total < min(size, MB):
        words = "".join(rng.choice("abcdefghij klmnop") for _ in range(rng.randint(10, 160)))
        line = f"{total:09d} {words}\n"
        lines.append(line)
        total += len(line)
    block = "".join(lines)
    return (block * (size // len(block) + 1))[:size]


async def median_time(fn: Callable[[], Awaitable[object]], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def interleaved(a: Callable[[], Awaitable[object]], b: Callable[[], Awaitable[object]],
                      runs: int) -> tuple[float, float]:
    """Medians of a and b measured alternately, so machine noise hits both alike."""
    ta, tb = [], []
    for _ in range(runs):
        for fn, out in ((a, ta), (b, tb)):
            started = time.perf_counter()
            await fn()
            out.append(time.perf_counter() - started)
    return statistics.median(ta), statistics.median(tb)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--reads", type=int, default=2000)
    args = parser.parse_args()
    size = args.mb * MB

    tracemalloc.start()
    content = make_content(size)
    content_bytes = tracemalloc.get_traced_memory()[0]

    @tool
    def huge_output() -> str:
        """Return the big content."""
        return content

    program = LLMProgram.from_dict({"model": {"name": "scripted", "provider": "scripted"},
                                    "tools": {"enabled": ["read_fd", "fd_to_file"]},
                                    "file_descriptor": {"enabled": True}})
    with tempfile.TemporaryDirectory() as tmp:
        process = await program.start(provider=ScriptedProvider(), tools=[huge_output], cwd=tmp)
        call = ToolCall("c1", "huge_output", {})

        # Memory: create the fd through the engine and read both ends, under tracemalloc.
        tracemalloc.reset_peak()
        preview = await process.call_tool(call)
        table = process.fd_table
        assert table is not None
        fd = table.get("fd:1")
        tools, ctx = process.toolset, process.tool_context
        await tools.call("read_fd", {"fd": "fd:1", "page": fd.page_count}, ctx)
        await tools.call("read_fd", {"fd": "fd:1", "start_line": fd.line_count - 50}, ctx)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert "stored as fd:1" in preview.content and fd.content is content

        # Time: creation against one bare pass over the content.
        async def one_pass() -> int:
            return content.count("\n")

        create = await median_time(lambda: process.call_tool(call), 7)
        bare = await median_time(one_pass, 7)

        first_page, last_page = await interleaved(
            lambda: tools.call("read_fd", {"fd": "fd:1", "page": 1}, ctx),
            lambda: tools.call("read_fd", {"fd": "fd:1", "page": fd.page_count}, ctx), args.reads)
        first_lines, last_lines = await interleaved(
            lambda: tools.call("read_fd", {"fd": "fd:1", "start_line": 1, "end_line": 40}, ctx),
            lambda: tools.call("read_fd", {"fd": "fd:1", "start_line": fd.line_count - 39,
                                           "end_line": fd.line_count}, ctx), args.reads)
        small = FDTable()
        small.create(make_content(MB))
        small_ctx = SimpleToolContext(allowed_roots=[Path(tmp)], cwd=Path(tmp), fd_table=small)
        last_small = small.get("fd:1").page_count
        fd_tools = Toolset(FD_TOOLS.values())
        small_page, big_page = await interleaved(
            lambda: fd_tools.call("read_fd", {"fd": "fd:1", "page": last_small}, small_ctx),
            lambda: fd_tools.call("read_fd", {"fd": "fd:1", "page": fd.page_count}, ctx), args.reads)

        # The worst case for line reads: content that is all line breaks (4,000 lines a page).
        dense = FDTable()
        dense_fd = dense.create("\n" * size)
        dense_ctx = SimpleToolContext(allowed_roots=[Path(tmp)], cwd=Path(tmp), fd_table=dense)
        dense_first, dense_last = await interleaved(
            lambda: fd_tools.call("read_fd", {"fd": "fd:1", "start_line": 1, "end_line": 40}, dense_ctx),
            lambda: fd_tools.call("read_fd", {"fd": "fd:1", "start_line": dense_fd.line_count - 39,
                                              "end_line": dense_fd.line_count}, dense_ctx), args.reads)
        dense = dense_fd = dense_ctx = None  # free the 100 MB before the next step

        started = time.perf_counter()
        out = await tools.call("fd_to_file", {"fd": "fd:1", "path": "copy.txt"}, ctx)
        via_tool = time.perf_counter() - started
        assert not out.is_error, out.content
        started = time.perf_counter()
        (Path(tmp) / "plain.txt").write_text(content, encoding="utf-8")
        plain = time.perf_counter() - started
        assert (Path(tmp) / "copy.txt").stat().st_size == (Path(tmp) / "plain.txt").stat().st_size
        await process.aclose()

    print(f"content: {len(content) / MB:.0f} MB, {fd.line_count:,} lines, {fd.page_count:,} pages "
          f"of {table.page_size} characters")
    us, ms = 1e6, 1e3
    row("one str.count pass", bare * ms, "ms", "create fd (call_tool)", create * ms, "the least a pass costs")
    row("read page 1", first_page * us, "us", "last page", last_page * us, "last/first, target <= 2")
    row("read lines 1-40", first_lines * us, "us", "last 40 lines", last_lines * us,
        "last/first, target <= 2")
    row("empty lines: lines 1-40", dense_first * us, "us", "last 40 lines", dense_last * us,
        "last/first; worst case: 4,000 lines a page")
    row("page of a 1 MB fd", small_page * us, "us", f"of a {args.mb} MB fd", big_page * us,
        "about 1: a read costs the page, not the content")
    row("content (traced)", content_bytes / MB, "MB", "peak traced memory", peak / MB, "target <= 2")
    row("Path.write_text", plain * ms, "ms", "fd_to_file", via_tool * ms, "")


def row(label: str, a: float, unit: str, label_b: str, b: float, note: str) -> None:
    """One comparison: b against a, with the ratio b / a."""
    print(f"{label:<24} {a:9.1f} {unit}   {label_b:<20} {b:9.1f} {unit}   ratio {b / a:5.2f}"
          + (f"  ({note})" if note else ""))

if __name__ == "__main__":
    anyio.run(main)
