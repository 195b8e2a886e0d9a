"""Atomic writes: a writer process saving states in a loop is killed with SIGKILL mid-loop;
after reopening, every state it reported committed loads intact. Also: two writer processes
on one store file at once."""

from __future__ import annotations

import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from llmproc.store import open_store

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

# The writer prints "committed N" only after store.save() returned, i.e. after the commit.
WRITER = r"""
import sys
from llmproc.store import open_store

def state(i):
    filler = ("state %d " % i) * 2000  # ~20 kB per message: a save takes long enough to be hit
    history = [{"role": "user" if j % 2 == 0 else "assistant", "parts": [{"type": "text", "text": f"{j} {filler}"}]}
               for j in range(40)]
    return {"kind": "llmproc.process", "version": 1, "program": {"path": "w.toml"}, "history": history,
            "usage": {"input_tokens": i}, "cost_usd": 0.0, "status": "idle", "n": i}

store = open_store(sys.argv[1])
prefix, start = sys.argv[2], int(sys.argv[3])
for i in range(start, start + 100000):
    store.save(f"{prefix}{i}", state(i))
    store.save(f"{prefix}latest", state(i))
    print(f"committed {i}", flush=True)
"""


def expected(i: int) -> dict:
    namespace: dict = {}
    exec(WRITER.split("store = open_store")[0], namespace)  # the writer's own state()
    return namespace["state"](i)


def start_writer(db: Path, prefix: str, start: int = 0) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), prefix, str(start)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.strip())

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def committed_until(proc: subprocess.Popen[str], lines: queue.Queue[str], count: int) -> list[int]:
    seen = []
    while len(seen) < count:
        try:
            seen.append(int(lines.get(timeout=60).split()[1]))
        except queue.Empty:
            proc.kill()
            _, err = proc.communicate(timeout=30)
            pytest.fail(f"writer stopped after {len(seen)} commits (exit {proc.returncode}): {err[-2000:]}")
    return seen


def test_sigkill_mid_loop_loses_no_committed_state(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    committed: list[int] = []
    rounds = 3
    for round_ in range(rounds):  # kill at a different moment each round; the file carries over
        proc, lines = start_writer(db, "s", start=round_ * 100000)
        committed += committed_until(proc, lines, 15)
        threading.Event().wait(random.uniform(0, 0.01))  # land somewhere inside a save
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        while not lines.empty():  # lines printed before the kill are commits too
            line = lines.get()
            if line:
                committed.append(int(line.split()[1]))
        assert proc.stderr is not None and "Traceback" not in proc.stderr.read()

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with open_store(db) as store:
        for i in committed:
            assert store.load(f"s{i}") == expected(i)
        latest = store.load("slatest")
        assert latest["n"] >= max(committed)  # the last commit, or one that committed before its print
        assert latest == expected(latest["n"])
        saved = {p.name for p in store.list()}
    assert {f"s{i}" for i in committed} <= saved
    assert len(committed) >= rounds * 15


def test_two_writer_processes_share_the_file(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    procs = [start_writer(db, prefix) for prefix in ("a", "b")]
    done = [committed_until(proc, lines, 20) for proc, lines in procs]
    for proc, _ in procs:
        proc.kill()
        proc.wait(timeout=30)
        assert proc.stderr is not None and "locked" not in proc.stderr.read()
    with open_store(db) as store:
        for prefix, numbers in zip(("a", "b"), done):
            for i in numbers:
                assert store.load(f"{prefix}{i}")["n"] == i


# Started in step (each spins until the same instant), so that they race to create the file.
OPENER = r"""
import sys, time
from llmproc.store import open_store
start_at = float(sys.argv[3])
while time.time() < start_at:
    pass
with open_store(sys.argv[1]) as store:
    store.save(sys.argv[2], {"kind": "llmproc.process", "version": 1, "program": {"path": "w.toml"},
                             "history": [], "usage": {}, "cost_usd": 0.0, "status": "idle"})
"""


def test_processes_creating_a_new_store_at_once_all_open_it(tmp_path: Path) -> None:
    # Before the fix, most rounds had a loser failing with "database is locked" on the WAL switch.
    for round_ in range(5):
        db = tmp_path / f"new{round_}.db"
        start_at = time.time() + 1.0  # past every child's import
        procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(db), f"p{k}", str(start_at)],
                                  stderr=subprocess.PIPE, text=True) for k in range(4)]
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
        with open_store(db) as store:
            assert sorted(p.name for p in store.list()) == ["p0", "p1", "p2", "p3"]
