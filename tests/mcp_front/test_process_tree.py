"""The process tree: the `ps` tool's text, `llmproc ps --tree` and `llmproc top`, run for real
(the tree of rows the server wrote; top in a pseudo-terminal, keys and all)."""

from __future__ import annotations

import os
import select
import shutil
import signal
import struct
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from llmproc.messages import Usage
from llmproc.store import open_store
from llmproc.testing import FakeLLMServer, Reply

from llmproc_mcp.entry import Entry, Status
from .conftest import ROOT, STEP_S, in_memory, text_of

USAGE = Usage(input_tokens=1000, output_tokens=200)  # $0.0040 a call at claude-sonnet-5-5's price
TREE = [
    "1 helper: done, 1 turn (4 in all), 1,200 tokens (4,800 with 3 below), $0.0040 ($0.0160 in all)",
    "├─ 2 helper: done, 1 turn (2 in all), 1,200 tokens (2,400 with 1 child), $0.0040 ($0.0080 in all)",
    "│  └─ 4 helper: done, 1 turn, 1,200 tokens, $0.0040",
    "└─ 3 helper: done, 1 turn, 1,200 tokens, $0.0040",
]


def llmproc(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    found = shutil.which("llmproc", path=str(Path(sys.executable).parent))
    assert found, "console script llmproc is not installed"
    return subprocess.run([found, *map(str, args)], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**{k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
                               **(env or {})})  # frames as wide as a pipe gets, wherever the tests run


async def _fork_tree(client: object) -> object:
    """1, forked into 2 and 3, 2 forked into 4; every call 1,200 tokens. Returns ps's result."""
    await client.call_tool("run_program", {"program": "helper", "prompt": "Remember: heron."})
    await client.call_tool("fork", {"pid": 1, "prompts": ["in French", "in German"]})
    await client.call_tool("fork", {"pid": 2, "prompts": ["in Latin"]})
    return await client.call_tool("ps", {})


def _without_activity(lines: list[str]) -> list[str]:
    return [line.split(" · ")[0] for line in lines]


async def test_ps_tool_shows_the_tree_with_subtree_totals(programs: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.add(*(Reply(text="an answer", usage=USAGE) for _ in range(4)))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            ps = await _fork_tree(client)
    text = text_of(ps)
    lines = text.splitlines()
    assert lines[0] == "4 processes" and lines[-1] == "0 running or queued."
    assert _without_activity(lines[1:-1]) == TREE
    assert ps.structured_content["text"] == text
    root = ps.structured_content["processes"][0]
    assert (root["depth"], root["below"], root["subtree_tokens"]) == (0, 3, 4800)
    assert [(p["pid"], p["depth"]) for p in ps.structured_content["processes"]] == [(1, 0), (2, 1), (4, 2), (3, 1)]


async def test_ps_tree_shows_the_rows_the_server_wrote(programs: Path, fake_llm: FakeLLMServer,
                                                       tmp_path: Path) -> None:
    fake_llm.add(*(Reply(text="an answer", usage=USAGE) for _ in range(4)))
    state = tmp_path / "state"
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, state_dir=state) as client:
            await _fork_tree(client)
    done = await anyio.to_thread.run_sync(lambda: llmproc("ps", "--tree", "--store", state))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert _without_activity(lines[:-1]) == TREE
    assert lines[-1] == "4 processes in 1 tree, 0 running or queued; 4,800 tokens, $0.0160"
    # The server's default place: $LLMPROC_STATE_DIR/mcp, as llmproc-mcp finds it.
    env = {"LLMPROC_STATE_DIR": str(tmp_path / "home"), "LLMPROC_STORE": "", "LLMPROC_MCP_STATE_DIR": str(state)}
    same = await anyio.to_thread.run_sync(lambda: llmproc("ps", "--tree", env=env))
    assert same.stdout == done.stdout
    empty = await anyio.to_thread.run_sync(lambda: llmproc("ps", "--tree", "--store", tmp_path / "none"))
    assert empty.returncode == 0 and empty.stdout == "" and "no llmproc-mcp processes" in empty.stderr
    assert not (tmp_path / "none").exists()  # reading never makes a store


# -- llmproc top ------------------------------------------------------------------------------------
def _put(store: object, pid: int, parent: int | None, status: Status, activity: str) -> None:
    entry = Entry(pid=pid, program="helper", path="/programs/helper.toml", parent=parent, status=status,
                  turns=2, usage={"input_tokens": 1000, "output_tokens": 200}, cost_usd=0.004, activity=activity)
    store.put_record("process", str(pid), entry.record())


@pytest.fixture
def table(tmp_path: Path) -> Path:
    where = tmp_path / "table.db"
    with open_store(where) as store:
        _put(store, 1, None, Status.DONE, "turn 2: answered")
        _put(store, 2, 1, Status.RUNNING, "turn 2: read_file alpha.txt")
        _put(store, 3, None, Status.DONE, "turn 2: answered")  # a finished tree: shown with --all only
    return where


def test_ps_tree_says_which_rows_it_left_out(table: Path) -> None:
    """A total that silently lacks a damaged row would pass for the whole table."""
    with open_store(table) as store:
        store.put_record("process", "7", {"program": "helper"})  # JSON, but no pid: another shape
    with sqlite3.connect(table) as conn:
        conn.execute("UPDATE records SET value = '{\"pid\": 3, trunc' WHERE kind = 'process' AND key = '3'")
    conn.close()
    done = llmproc("ps", "--tree", "--store", table)
    assert done.returncode == 0, done.stderr
    assert [line.lstrip("└─ ").split()[0] for line in done.stdout.splitlines()[:-1]] == ["1", "2"]
    assert done.stdout.splitlines()[-1].startswith("2 processes in 1 tree")
    warnings = done.stderr.splitlines()
    assert warnings[0].startswith("warning: 1 damaged row quarantined in ") and "process/3" in warnings[0]
    assert warnings[1] == ("warning: 1 process row of an unknown shape left out: 7 "
                           "(written by another llmproc version?)")


def test_top_once_prints_one_frame(table: Path) -> None:
    done = llmproc("top", "--once", "--store", table)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout  # no terminal: plain lines
    lines = done.stdout.splitlines()
    assert lines[1] == "3 processes in 2 trees, 1 running or queued; 3,600 tokens, $0.0120"
    assert lines[3].split() == ["PID", "PROGRAM", "STATUS", "TURNS", "TOKENS", "COST", "AGE", "IDLE", "ACTIVITY"]
    assert lines[4].split()[:6] == ["1", "helper", "done", "2", "1,200", "(2,400)"]
    assert lines[5].startswith("└─ 2") and lines[5].endswith("turn 2: read_file alpha.txt")
    assert len(lines) == 6
    every = llmproc("top", "--once", "--all", "--store", table).stdout.splitlines()
    assert every[-1].startswith("3 ") and len(every) == 7


def _controlling_terminal() -> None:
    """In the child, after setsid: the pty becomes its terminal, so Ctrl-C there is a SIGINT."""
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """`llmproc top` on a pseudo-terminal of 160x30, read with a deadline."""

    def __init__(self, *args: str | Path):
        import fcntl
        import termios

        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 160, 0, 0))
        found = shutil.which("llmproc", path=str(Path(sys.executable).parent))
        assert found
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        self.proc = subprocess.Popen([found, "top", *map(str, args)], stdin=slave, stdout=slave, stderr=slave,
                                     cwd=ROOT, env={**env, "TERM": "xterm"}, start_new_session=True,
                                     preexec_fn=_controlling_terminal)
        os.close(slave)
        self.output = b""
        self.saved = termios.tcgetattr(self.master)

    def read_until(self, needle: bytes, timeout: float = 15.0, start: int = 0) -> int:
        """The position just past `needle`, found in the output after `start`."""
        deadline = time.monotonic() + timeout
        while (at := self.output.find(needle, start)) < 0:
            left = deadline - time.monotonic()
            assert left > 0, f"no {needle!r} within {timeout} s; got {self.output[-2000:]!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the other end closed (EIO on Linux)
                    chunk = b""
                assert chunk, f"top ended before {needle!r}: {self.output[-2000:]!r}"
                self.output += chunk
        return at + len(needle)

    def drain(self, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        while (code := self.proc.poll()) is None or select.select([self.master], [], [], 0)[0]:
            assert time.monotonic() < deadline, "top did not exit"
            if select.select([self.master], [], [], 0.05)[0]:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    if code is not None:
                        break
        return self.proc.wait(timeout=5)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)


def test_top_redraws_in_place_and_quits_on_q(table: Path) -> None:
    import termios

    term = Terminal("--store", table, "--interval", "0.2")
    try:
        first = term.read_until(b"read_file alpha.txt")
        assert term.output.startswith(b"\x1b[?1049h\x1b[?25l")  # the alternate screen, cursor hidden
        with open_store(table) as store:  # the row changes between frames
            _put(store, 2, 1, Status.RUNNING, "turn 3: grep beta")
        changed = term.read_until(b"turn 3: grep beta", start=first)
        frames = term.output[:changed].count(b"\x1b[H")
        assert frames >= 2
        assert b"\x1b[2J" not in term.output  # redrawn line by line, never a full clear
        assert b"\x1b[K" in term.output
        os.write(term.master, b"q")
        assert term.drain() == 0
        assert term.output.rstrip(b"\r\n").endswith(b"\x1b[?25h\x1b[?1049l")  # cursor back, screen left
        assert termios.tcgetattr(term.master)[3] == term.saved[3]  # echo and line mode as they were
    finally:
        term.close()


def test_top_quits_on_ctrl_c(table: Path) -> None:
    term = Terminal("--store", table, "--interval", "0.2")
    try:
        term.read_until(b"read_file alpha.txt")
        os.write(term.master, b"\x03")  # the terminal turns it into SIGINT
        assert term.drain() == 0
        assert term.output.rstrip(b"\r\n").endswith(b"\x1b[?25h\x1b[?1049l")
    finally:
        term.close()


async def test_a_parent_that_runs_after_its_copies_does_not_count_them_twice(
        programs: Path, fake_llm: FakeLLMServer) -> None:
    """A copy made by `fork` counts its tokens in its own row only: the original, continued after
    its copies ran, still shows its own, and the tree's total is the sum of what was spent."""
    fake_llm.add(*(Reply(text="an answer", usage=USAGE) for _ in range(4)))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            await client.call_tool("run_program", {"program": "helper", "prompt": "Remember: heron."})
            await client.call_tool("fork", {"pid": 1, "prompts": ["in French", "in German"]})
            await client.call_tool("send", {"pid": 1, "prompt": "and again"})
            ps = await client.call_tool("ps", {})
    rows = {p["pid"]: p for p in ps.structured_content["processes"]}
    one_call = rows[2]["subtree_tokens"]
    assert one_call > 0 and rows[3]["subtree_tokens"] == one_call
    assert rows[1]["subtree_tokens"] == 4 * one_call  # two calls of its own, one per copy
    assert len(fake_llm.requests) == 4
