"""A damaged store does not take the server down (llmproc.store.damage): a process-table row that
does not read (invalid JSON, or JSON missing the row's fields) is quarantined with a warning and
the other processes are served; a damaged store file is one `error:` line and exit 2, unless
`--new-store-if-damaged` moves it aside and starts a new one."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from llmproc.store import SQLiteStore
from llmproc.testing import FakeLLMServer, Reply
from mcp import Client

from .conftest import ROOT, STEP_S, HttpServer, in_memory, server_args, server_env

PAGE = 4096


async def test_unreadable_rows_are_quarantined_and_the_rest_served(
        programs: Path, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    state = tmp_path / "state"
    fake_llm.add(Reply(text="first"), Reply(text="second"))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, state_dir=state) as client:
            for prompt in ("one", "two"):
                await client.call_tool("run_program", {"program": "helper", "prompt": prompt})
    db = state / "llmproc.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE records SET value = '{\"pid\": 2, \"stat' WHERE kind = 'process' AND key = '2'")
    conn.close()
    with SQLiteStore(db) as store:  # JSON, but not a process row
        store.put_record("process", "9", {"pid": "nine"})

    log = tmp_path / "server.log"
    server = HttpServer(programs, state, log=log).start()
    try:
        with anyio.fail_after(STEP_S):
            async with Client(server.url) as client:
                ps = await client.call_tool("ps", {})
    finally:
        server.stop()
    pids = [p["pid"] for p in ps.structured_content["processes"]]
    assert pids == [1]
    text = log.read_text()
    assert f"quarantined damaged record process/2 in {db}: not valid JSON" in text
    assert f"quarantined damaged record process/9 in {db}: not a process row" in text
    assert "Traceback" not in text
    with SQLiteStore(db) as store:
        kept = store.list_records("damaged:process")
        assert kept["2"]["raw"] == '{"pid": 2, "stat' and '"nine"' in kept["9"]["raw"]
        assert set(store.list_records("process")) == {"1"}


DAMAGE = {"header": "(open: file is not a database)",  # found when the store opens
          "middle": "(listing records process: database disk image is malformed)"}  # at the table's first read


def damage(db: Path, where: str) -> bytes:
    """A store of 300 small rows with 4 KiB of random bytes over its first or its middle page."""
    with SQLiteStore(db) as store:
        for i in range(300):
            store.put_record("process", str(i), {"pid": i, "program": "helper", "status": "done"})
    offset = 0 if where == "header" else db.stat().st_size // 2 // PAGE * PAGE
    with db.open("r+b") as f:
        f.seek(offset)
        f.write(os.urandom(PAGE))
    return db.read_bytes()


@pytest.mark.parametrize("where", DAMAGE)
def test_a_damaged_file_is_one_error_line_and_exit_2(programs: Path, tmp_path: Path, where: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db = state / "llmproc.db"
    damaged = damage(db, where)
    # stdin stays open and silent: the server reads the store on its own after WARM_AFTER_S
    server = subprocess.Popen([sys.executable, *server_args(programs, state)], env=server_env(), cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        server.wait(timeout=STEP_S)  # not communicate(): it would close stdin, which stops the server
        assert server.stderr is not None
        err = server.stderr.read()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        for pipe in (server.stdin, server.stderr):
            if pipe is not None:
                pipe.close()
    assert server.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: the process store {db} is damaged {DAMAGE[where]}")
    assert "--new-store-if-damaged" in lines[0]
    assert db.read_bytes() == damaged and not list(state.glob("llmproc.db.damaged-*"))


@pytest.mark.parametrize("where", DAMAGE)
async def test_new_store_if_damaged_moves_it_aside(programs: Path, fake_llm: FakeLLMServer,
                                                   tmp_path: Path, where: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db = state / "llmproc.db"
    damaged = damage(db, where)
    fake_llm.add(Reply(text="in the new store"))
    log = tmp_path / "server.log"
    server = HttpServer(programs, state, "--new-store-if-damaged", log=log).start()
    try:
        with anyio.fail_after(STEP_S):
            async with Client(server.url) as client:
                ps = await client.call_tool("ps", {})
                run = await client.call_tool("run_program", {"program": "helper", "prompt": "hi"})
    finally:
        server.stop()
    assert ps.structured_content["processes"] == []
    assert run.structured_content["processes"][0]["pid"] == 1
    [moved] = state.glob("llmproc.db.damaged-*")
    assert moved.read_bytes() == damaged
    text = log.read_text()
    assert f"moved to {moved}; a new store was started there" in text and "Traceback" not in text


async def test_a_server_embedded_in_a_program_does_not_end_its_process(programs: Path, tmp_path: Path) -> None:
    """build_server in someone else's process: the damage is the tool calls' error, not an exit."""
    state = tmp_path / "state"
    state.mkdir()
    damage(state / "llmproc.db", "header")
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, state_dir=state) as client:
            ps = await client.call_tool("ps", {})
    assert ps.is_error and "is damaged (open: file is not a database)" in str(ps.content)
