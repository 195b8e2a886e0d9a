"""Tools can't stop the server (issue 15): no catastrophic regex, bounded walks that really
stop, no blocking on FIFOs, and an event loop that keeps ticking while hostile calls run."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import anyio
import pytest

from llmproc.fd import FDTable
from llmproc.tools import SimpleToolContext, Toolset
from llmproc.tools.builtin import bounds
from llmproc.tools.builtin.bounds import Budget, run_bounded, unsupported_feature
from llmproc.tools.builtin.fd_tools import FD_TOOLS
from llmproc.tools.builtin.walk import WalkStats, walk

HOSTILE_REGEX = "(a+)+$"
HOSTILE_LINE = "a" * 34 + "!\n"  # ~35 minutes with Python's re
HOSTILE_GLOB = "/".join(["**"] * 20 + ["nomatch"])


def deep_tree(root: Path, depth: int = 40) -> Path:
    path = root
    for _ in range(depth):
        path = path / "d"
    path.mkdir(parents=True)
    (path / "leaf.txt").write_text("x\n")
    return root


async def worst_gap_while(call) -> tuple[float, object]:
    """Run `call()` with a 10 ms ticker beside it; the ticker's worst gap (s) and the result."""
    worst = 0.0
    result: list[object] = []
    last = time.perf_counter()

    async def ticker() -> None:
        nonlocal worst, last
        while True:
            await anyio.sleep(0.01)
            now = time.perf_counter()
            worst = max(worst, now - last)
            last = now

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        result.append(await call())
        worst = max(worst, time.perf_counter() - last)  # a call shorter than a tick counts too
        tg.cancel_scope.cancel()
    return worst, result[0]


async def test_grep_catastrophic_pattern_keeps_event_loop_responsive(tools, ctx, tree):
    (tree / "hostile.txt").write_text(HOSTILE_LINE * 100_000)
    start = time.perf_counter()
    gap, out = await worst_gap_while(lambda: tools.call("grep", {"pattern": HOSTILE_REGEX, "path": "hostile.txt"}, ctx))
    print(f"worst ticker gap during hostile grep: {gap * 1000:.1f} ms")
    assert (time.perf_counter() - start) < 5
    assert gap < 0.1, gap
    assert "no matches" in out.content


async def test_glob_many_double_stars_on_deep_tree_keeps_event_loop_responsive(tools, ctx, tree):
    deep_tree(tree / "deep")
    for i in range(2000):
        (tree / "deep" / "d" / f"f{i}").touch()
    start = time.perf_counter()
    gap, out = await worst_gap_while(lambda: tools.call("glob", {"pattern": HOSTILE_GLOB}, ctx))
    print(f"worst ticker gap during hostile glob: {gap * 1000:.1f} ms")
    assert (time.perf_counter() - start) < 5
    assert gap < 0.1, gap
    assert out.content.startswith("no paths match")
    out = await tools.call("glob", {"pattern": "**/**/**/leaf.txt"}, ctx)
    assert out.content == "/".join(["deep"] + ["d"] * 40 + ["leaf.txt"])


async def test_grep_glob_argument_with_many_double_stars(tools, ctx, tree):
    deep_tree(tree / "deep")
    out = await tools.call("grep", {"pattern": "x", "glob": HOSTILE_GLOB}, ctx)
    assert "no matches" in out.content


async def test_grep_still_matches_dollar_at_end_of_line(tools, ctx, tree):
    (tree / "crlf.txt").write_bytes(b"alpha\r\nbeta\n")
    out = await tools.call("grep", {"pattern": "a$", "path": "crlf.txt"}, ctx)
    assert out.content.splitlines() == ["crlf.txt:1: alpha", "crlf.txt:2: beta"]


@pytest.mark.parametrize(
    ("pattern", "feature"),
    [
        (r"(a)\1", "backreferences (\\1)"),
        (r"(?P<x>a)(?P=x)", "backreferences (?P=name)"),
        (r"foo(?=bar)", "lookahead (?=...)"),
        (r"foo(?!bar)", "negative lookahead (?!...)"),
        (r"(?<=foo)bar", "lookbehind (?<=...)"),
        (r"(?<!foo)bar", "negative lookbehind (?<!...)"),
        (r"(?>a+)b", "atomic groups"),
        (r"a++b", "possessive quantifiers"),
    ],
)
async def test_grep_refuses_backtracking_only_feature_naming_it(tools, ctx, pattern, feature):
    out = await tools.call("grep", {"pattern": pattern}, ctx)
    assert out.is_error and feature in out.content and "\n" not in out.content


@pytest.mark.parametrize("pattern", [r"[(?=]x", r"\(?=", r"a\+\+", r"[\1]", "(?:ab)+|(?i:c)"])
def test_unsupported_feature_ignores_escapes_and_classes(pattern):
    assert unsupported_feature(pattern) is None


def test_walk_stops_when_stop_flag_is_set(tmp_path):
    for i in range(500):
        (tmp_path / f"f{i}").touch()
    budget, stats = Budget(60), WalkStats()
    budget.stop.set()
    seen = list(walk(tmp_path, [tmp_path], stats=stats, budget=budget))
    assert stats.truncated and stats.reason == "stopped" and len(seen) < 64


async def test_glob_stops_at_its_time_budget_with_a_note(tools, ctx, tree, monkeypatch):
    for i in range(300):
        (tree / f"f{i}").touch()
    monkeypatch.setattr(bounds, "TOOL_SECONDS", 0.0)
    out = await tools.call("glob", {"pattern": "**/*.py"}, ctx)
    assert not out.is_error and "[search stopped after 0 s" in out.content


async def test_cancelled_call_stops_its_worker_thread():
    started, finished = threading.Event(), threading.Event()

    def work(budget: Budget) -> str:
        started.set()
        while not budget.spent():  # a cooperative loop, like walk's
            time.sleep(0.001)
        finished.set()
        return budget.reason or ""

    with anyio.move_on_after(0.2):
        await run_bounded("test", work, seconds=60)
    assert started.is_set()
    assert await anyio.to_thread.run_sync(finished.wait, 2)  # the abandoned thread really stopped


async def test_timed_out_call_returns_and_frees_its_thread(monkeypatch):
    monkeypatch.setattr(bounds, "GRACE_SECONDS", 0.1)
    finished = threading.Event()

    def stubborn(budget: Budget) -> str:  # ignores the deadline, but not the stop flag
        while not budget.stop.is_set():
            time.sleep(0.001)
        finished.set()
        return "late"

    start = time.perf_counter()
    with pytest.raises(Exception, match="did not finish within"):
        await run_bounded("slow", stubborn, seconds=0.1)
    assert time.perf_counter() - start < 1
    assert await anyio.to_thread.run_sync(finished.wait, 2)


async def test_read_file_refuses_fifo_without_blocking(tools, ctx, tree):
    os.mkfifo(tree / "pipe")
    with anyio.fail_after(2):
        out = await tools.call("read_file", {"path": "pipe"}, ctx)
    assert out.is_error and out.content == "'pipe' is a named pipe (FIFO); file tools only open regular files"


async def test_grep_refuses_fifo_path_without_blocking(tools, ctx, tree):
    os.mkfifo(tree / "pipe")
    with anyio.fail_after(2):
        out = await tools.call("grep", {"pattern": "x", "path": "pipe"}, ctx)
    assert out.is_error and "named pipe (FIFO)" in out.content and "\n" not in out.content


async def test_grep_skips_fifo_inside_tree(tools, ctx, tree):
    os.mkfifo(tree / "src" / "pipe")
    with anyio.fail_after(2):
        out = await tools.call("grep", {"pattern": "def main", "path": "src"}, ctx)
        none = await tools.call("grep", {"pattern": "nothing here", "glob": "src/pipe"}, ctx)
    assert out.content == "src/main.py:1: def main():"
    assert "[skipped: 1 special]" in none.content


async def test_fd_to_file_refuses_fifo_without_blocking(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    os.mkfifo(root / "pipe")
    table = FDTable()
    table.create("some text\n", source="test")
    ctx = SimpleToolContext(allowed_roots=[root], cwd=root, fd_table=table)
    for args in ({"overwrite": True}, {"mode": "append"}):
        with anyio.fail_after(2):
            out = await Toolset(FD_TOOLS.values()).call("fd_to_file", {"fd": "fd:1", "path": "pipe", **args}, ctx)
        assert out.is_error and "named pipe (FIFO)" in out.content, out.content


async def test_fd_to_file_still_writes_regular_file(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    table = FDTable()
    table.create("some text\n", source="test")
    ctx = SimpleToolContext(allowed_roots=[root], cwd=root, fd_table=table)
    out = await Toolset(FD_TOOLS.values()).call("fd_to_file", {"fd": "fd:1", "path": "out.txt"}, ctx)
    assert not out.is_error and (root / "out.txt").read_text() == "some text\n"
    out = await Toolset(FD_TOOLS.values()).call("fd_to_file", {"fd": "fd:1", "path": "out.txt"}, ctx)
    assert out.is_error and "already exists" in out.content
