"""`llmproc-mcp --http --workers 2`: one port, two server processes on one store. Calls from one
host land on either worker and every answer comes back under a pid no other run has; a worker
killed mid-run is replaced, its run taken over by the other; SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import anyio
import pytest
from llmproc.store import open_store
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from llmproc_mcp.settings import SettingsError, parse_args

from .conftest import ROOT, STEP_S, first, free_port, server_env

SLOW = '[model]\nname = "slow"\nprovider = "scripted"\nreplies = [{ text = "answered", delay = 0.3 }]\n'
STUCK = '[model]\nname = "stuck"\nprovider = "scripted"\nreplies = [{ text = "never", delay = 60 }]\n'


def workers_alive(state: Path) -> dict[int, str]:
    """Worker pid -> server id, from the leases the workers keep in the store."""
    with open_store(state) as store:
        leases = store.list_records("server")
    return {int(data["pid"]): key for key, data in leases.items()
            if data.get("heartbeat") and _running(int(data["pid"]))}


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(check, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + STEP_S
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


async def test_two_workers_serve_one_port_and_replace_a_dead_one(tmp_path: Path) -> None:
    programs, state = tmp_path / "programs", tmp_path / "state"
    programs.mkdir()
    (programs / "slow.toml").write_text(SLOW)
    (programs / "stuck.toml").write_text(STUCK)
    port = free_port()
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "llmproc_mcp", "--http", "--port", str(port), "--workers", "2", "--programs",
         str(programs), "--state-dir", str(state), "--log-level", "WARNING"],
        env=server_env(), cwd=ROOT, stderr=(tmp_path / "workers.log").open("wb"))
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_until(lambda: _healthy(port), "the workers did not answer /health")
        with anyio.fail_after(STEP_S * 2):
            async with Client(streamable_http_client(url), mode="legacy") as client:
                results: list[dict] = []

                async def run(i: int) -> None:
                    result = await client.call_tool("run_program", {"program": "slow", "prompt": f"task {i}"})
                    results.append(first(result))

                async with anyio.create_task_group() as group:
                    for i in range(12):
                        group.start_soon(run, i)
                assert sorted(r["pid"] for r in results) == list(range(1, 13))
                assert all(r["status"] == "done" for r in results)
                wait_until(lambda: len(workers_alive(state)) == 2, "two workers with leases")
                # a run in flight on a worker that dies: the other takes it over and runs it on
                stuck = first(await client.call_tool("spawn", {"tasks": [{"program": "stuck", "prompt": "x"}]}))
                with open_store(state) as store:
                    owner = store.get_record("process", str(stuck["pid"]))["owner"]
                victim = next(pid for pid, server in workers_alive(state).items() if server == owner)
                os.kill(victim, signal.SIGKILL)
                wait_until(lambda: _row(state, stuck["pid"])["owner"] not in ("", owner),
                           "the stuck run taken over by the other worker")
                row = _row(state, stuck["pid"])
                assert row["status"] in ("queued", "running"), row
                killed = await client.call_tool("kill", {"pid": stuck["pid"]})
                assert first(killed)["status"] == "killed"
                # ... and the supervisor started another: two workers again, both answering
                wait_until(lambda: len(workers_alive(state)) == 2 and victim not in workers_alive(state),
                           "a new worker in place of the dead one")
                again = await client.call_tool("run_program", {"program": "slow", "prompt": "after"})
                assert first(again)["status"] == "done"
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=STEP_S) == 0
        assert not workers_alive(state)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
            return True
    except OSError:
        return False


def test_workers_need_http_and_a_store(tmp_path: Path) -> None:
    assert parse_args(["--http", "--workers", "2"]).workers == 2
    with pytest.raises(SettingsError, match="--http"):
        parse_args(["--workers", "2"])
    with pytest.raises(SettingsError, match="--no-state"):
        parse_args(["--http", "--workers", "2", "--no-state"])
    with pytest.raises(SettingsError, match="at least 1"):
        parse_args(["--http", "--workers", "0"])


def _row(state: Path, pid: int) -> dict:
    with open_store(state) as store:
        return store.get_record("process", str(pid))
