"""How hosts stop `python -m llmproc_mcp`: stdin closed, SIGINT, SIGTERM (Claude Code sends SIGINT,
then SIGTERM about 100 ms later, then SIGKILL). Each ends the server with its exit code and goes
through the table's shutdown: a run in flight is `interrupted` in the store, so `send` continues
it after a restart. A second signal ends the process at once. The bounds here are generous (a
loaded CI machine); the figures are in tests/bench/bench_mcp_lifecycle.py.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from llmproc.store import open_store

from .conftest import ROOT, STEP_S, HttpServer, server_args, server_env

STOP_BOUND_S = 5.0
SLOW = '[model]\nname = "slow"\nprovider = "scripted"\nreplies = [{ text = "late", delay = 60 }]\n'
OUR_MCP_SERVER = ROOT / "tests" / "core" / "mcp" / "our_server.py"
# An MCP server that takes 3 s to exit once its stdin closes (the table's shutdown waits for it).
LINGERING = f"""
import runpy, sys, time
sys.argv = [{str(OUR_MCP_SERVER)!r}]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    time.sleep(3)
"""


@pytest.fixture
def slow_programs(tmp_path: Path) -> Path:
    folder = tmp_path / "programs"
    folder.mkdir()
    (folder / "slow.toml").write_text(SLOW)
    (tmp_path / "lingering.py").write_text(LINGERING)
    (folder / "slow_mcp.toml").write_text(
        SLOW + f'\n[mcp.servers.our]\ncommand = {json.dumps(sys.executable)}\n'
        f'args = [{json.dumps(str(tmp_path / "lingering.py"))}]\n\n[tools.mcp]\nour = ["echo"]\n')
    return folder


class StdioServer:
    """The server as a host starts it, driven by raw JSON-RPC lines, its process handle at hand."""

    def __init__(self, programs: Path, state: Path):
        self.process = subprocess.Popen([sys.executable, *server_args(programs, state)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=server_env(), cwd=ROOT)
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.errors = b""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_errors, daemon=True).start()
        self._ids = 0

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            self.lines.put(line)

    def _read_errors(self) -> None:
        self.errors = self.process.stderr.read()  # type: ignore[union-attr]

    def send(self, message: dict[str, Any]) -> None:
        self.process.stdin.write(json.dumps(message).encode() + b"\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._ids += 1
        self.send({"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params or {}})
        deadline = time.monotonic() + STEP_S
        while True:
            reply = json.loads(self.lines.get(timeout=max(deadline - time.monotonic(), 0.01)))
            if reply.get("id") == self._ids:
                return reply

    def tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return self.request("tools/call", {"name": name, "arguments": arguments})["result"]

    def start_slow_run(self, program: str = "slow") -> None:
        self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "test", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self.request("tools/list")
        self.tool("spawn", {"tasks": [{"program": program, "prompt": "take your time"}]})
        deadline = time.monotonic() + STEP_S
        while "waiting for the model" not in self.tool("ps", {})["structuredContent"]["processes"][0]["activity"]:
            assert time.monotonic() < deadline, "the run never reached its model call"
            time.sleep(0.05)

    def stop(self, how: str) -> None:
        if how == "eof":
            self.process.stdin.close()  # type: ignore[union-attr]
        else:
            self.process.send_signal(signal.SIGINT if how == "sigint" else signal.SIGTERM)

    def exit_code(self, bound_s: float) -> tuple[int, float]:
        """The exit code, and how long it took; kills the server if it outlives the bound."""
        started = time.monotonic()
        try:
            code = self.process.wait(timeout=bound_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the server did not exit within {bound_s} s") from None
        return code, time.monotonic() - started

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def stored_status(state: Path, pid: int = 1) -> str:
    """What the store holds for `pid`, read without a server (a starting server marks rows it
    finds `running` interrupted itself, which would hide a shutdown that never ran)."""
    store = open_store(state)
    try:
        return str(store.list_records("process")[str(pid)]["status"])
    finally:
        store.close()


@pytest.mark.parametrize(("how", "code"), [("eof", 0), ("sigint", 130), ("sigterm", 0)])
def test_a_stop_interrupts_the_run_in_flight_and_exits(how: str, code: int, slow_programs: Path,
                                                       tmp_path: Path) -> None:
    server = StdioServer(slow_programs, tmp_path / "state")
    try:
        server.start_slow_run()
        server.stop(how)
        assert server.exit_code(STOP_BOUND_S)[0] == code
    finally:
        server.close()
    assert stored_status(tmp_path / "state") == "interrupted"
    assert b"Traceback" not in server.errors, server.errors.decode()


def test_a_second_signal_ends_a_slow_shutdown_at_once(slow_programs: Path, tmp_path: Path) -> None:
    """The run's MCP server takes 3 s to exit; SIGTERM during that wait ends the server at once,
    and the run was already stored as interrupted (the store is flushed before servers close)."""
    server = StdioServer(slow_programs, tmp_path / "state")
    try:
        server.start_slow_run("slow_mcp")
        server.stop("sigint")
        time.sleep(1.0)
        assert server.process.poll() is None  # still waiting for the MCP server
        server.stop("sigterm")
        code, took = server.exit_code(STOP_BOUND_S)
    finally:
        server.close()
    assert code == 128 + signal.SIGTERM and took < 1.5
    assert stored_status(tmp_path / "state") == "interrupted"


def test_http_sigterm_interrupts_the_run_in_flight(slow_programs: Path, tmp_path: Path) -> None:
    import anyio
    from mcp import Client

    server = HttpServer(slow_programs, tmp_path / "state", log=tmp_path / "server.log").start()

    async def start_slow_run() -> None:
        async with Client(server.url, mode="legacy") as client:
            await client.call_tool("spawn", {"tasks": [{"program": "slow", "prompt": "take your time"}]})
            with anyio.fail_after(STEP_S):
                while "waiting for the model" not in (await client.call_tool("ps", {})).structured_content[
                        "processes"][0]["activity"]:
                    await anyio.sleep(0.05)

    try:
        anyio.run(start_slow_run)
        assert server.process is not None
        server.process.terminate()
        assert server.process.wait(timeout=STOP_BOUND_S) == 0
    finally:
        server.stop()
    assert stored_status(tmp_path / "state") == "interrupted"


@pytest.mark.parametrize("from_env", [False, True])
def test_a_missing_programs_folder_is_a_usage_error(from_env: bool, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    env = server_env() | ({"LLMPROC_MCP_PROGRAMS": str(missing)} if from_env else {})
    args = [] if from_env else ["--programs", str(missing)]
    result = subprocess.run([sys.executable, "-m", "llmproc_mcp", *args, "--no-state"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=STEP_S, stdin=subprocess.DEVNULL)
    expected = f"error: --programs {missing}: no such folder" + (" (set by LLMPROC_MCP_PROGRAMS)" if from_env else "")
    assert (result.returncode, result.stderr, result.stdout) == (2, expected + "\n", "")
