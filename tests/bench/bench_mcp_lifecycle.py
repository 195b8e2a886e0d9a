"""llmproc-mcp's stop: time from stdin EOF, SIGINT or SIGTERM to the process's exit, as hosts stop
a stdio server (Claude Code sends SIGINT, then SIGTERM about 100 ms later, then SIGKILL).

Each way is timed on an idle server (table built, nothing running), with a run in flight (a
scripted program whose reply takes 60 s), and with a run in flight whose program has an MCP server
(tests/core/mcp/our_server.py over stdio: the shutdown waits for it to exit on its stdin's EOF),
over stdio and, for the signals, over streamable HTTP (no client connected at the signal). A
fresh server per round; the median of the rounds is printed next to the 100 ms target, with the
exit code and the status the store holds for the run in flight afterwards (`interrupted` means
the shutdown went through the table's exit; `running` would mean it was cut short).

    python tests/bench/bench_mcp_lifecycle.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TARGET_S = 0.1
STEP_S = 30.0
SLOW = '[model]\nname = "slow"\nprovider = "scripted"\nreplies = [{ text = "late", delay = 60 }]\n'
MCP_SERVER = ROOT / "tests" / "core" / "mcp" / "our_server.py"
SLOW_WITH_MCP = SLOW + (f'\n[mcp.servers.our]\ncommand = "{sys.executable}"\nargs = ["{MCP_SERVER}"]\n'
                        '\n[tools.mcp]\nour = ["echo"]\n')
KINDS = {"idle": "idle", "slow": "run going", "slow_mcp": "run + MCP server"}
EXPECTED = {"eof": 0, "sigint": 130, "sigterm": 0}


def env() -> dict[str, str]:
    values = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    values["PYTHONUNBUFFERED"] = "1"
    return values


def server_args(work: Path, state: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "llmproc_mcp", "--programs", str(work / "programs"), "--state-dir",
            str(state), "--log-level", "WARNING", *flags]


class StdioServer:
    """`python -m llmproc_mcp` driven by raw JSON-RPC lines, its process handle at hand."""

    def __init__(self, args: list[str], log: Path):
        with log.open("ab") as errors:
            self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                            env=env(), cwd=ROOT)
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._ids = 0

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

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

    def handshake(self) -> None:
        self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "bench", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self.request("tools/list")
        self.tool("ps", {})  # the table is built

    def stop(self, how: str) -> tuple[float, int]:
        """Stop the server that way; seconds until it exited, and its exit code."""
        watchdog = threading.Timer(STEP_S, self.process.kill)
        watchdog.start()
        started = time.perf_counter()
        if how == "eof":
            assert self.process.stdin is not None
            self.process.stdin.close()
        else:
            self.process.send_signal(signal.SIGINT if how == "sigint" else signal.SIGTERM)
        code = self.process.wait()
        elapsed = time.perf_counter() - started
        watchdog.cancel()
        return elapsed, code


def stored_status(state: Path, pid: int = 1) -> str:
    """The status the store holds for `pid`, read without a server (which would fix `running` up)."""
    from llmproc.store import open_store

    store = open_store(state)
    try:
        return str(store.list_records("process").get(str(pid), {}).get("status", "-"))
    finally:
        store.close()


def stdio_round(work: Path, how: str, kind: str, n: int) -> tuple[float, int, str]:
    state = work / f"state-stdio-{how}-{kind}-{n}"
    server = StdioServer(server_args(work, state), work / "server.log")
    try:
        server.handshake()
        if kind != "idle":
            server.tool("spawn", {"tasks": [{"program": kind, "prompt": "take your time"}]})
            while "waiting for the model" not in (row := server.tool("ps", {})["structuredContent"]["processes"][0])[
                    "activity"]:  # its MCP server started, the model call made
                assert row["status"] in ("queued", "running"), row
                time.sleep(0.05)
        elapsed, code = server.stop(how)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
    return elapsed, code, stored_status(state) if kind != "idle" else "-"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_round(work: Path, how: str, kind: str, n: int) -> tuple[float, int, str]:
    import anyio
    from mcp import Client

    state, port = work / f"state-http-{how}-{kind}-{n}", free_port()
    with (work / "server.log").open("ab") as errors:
        process = subprocess.Popen(server_args(work, state, "--http", "--port", str(port)), env=env(), cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=errors)
    try:
        deadline = time.monotonic() + STEP_S
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the HTTP server did not start") from None
                time.sleep(0.05)

        async def drive() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp", mode="legacy") as client:
                await client.call_tool("ps", {})
                if kind != "idle":
                    await client.call_tool("spawn", {"tasks": [{"program": kind, "prompt": "take your time"}]})
                    while "waiting for the model" not in (await client.call_tool("ps", {})).structured_content[
                            "processes"][0]["activity"]:
                        await anyio.sleep(0.05)

        anyio.run(drive)
        watchdog = threading.Timer(STEP_S, process.kill)
        watchdog.start()
        started = time.perf_counter()
        process.send_signal(signal.SIGINT if how == "sigint" else signal.SIGTERM)
        code = process.wait()
        elapsed = time.perf_counter() - started
        watchdog.cancel()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return elapsed, code, stored_status(state) if kind != "idle" else "-"


def main(rounds: int) -> None:
    cases = [("stdio", how, kind) for kind in KINDS for how in ("eof", "sigint", "sigterm")]
    cases += [("http", how, kind) for kind in ("idle", "slow") for how in ("sigint", "sigterm")]
    print(f"{'transport':<10}{'stop by':<9}{'server':<18}{'median':>9}{'max':>9}{'target':>9}"
          f"{'exit':>6}{'store after':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "programs").mkdir()
        (work / "programs" / "slow.toml").write_text(SLOW)
        (work / "programs" / "slow_mcp.toml").write_text(SLOW_WITH_MCP)
        for transport, how, kind in cases:
            times, codes, statuses = [], set(), set()
            for n in range(rounds):
                run = stdio_round if transport == "stdio" else http_round
                elapsed, code, status = run(work, how, kind, n)
                times.append(elapsed)
                codes.add(code)
                statuses.add(status)
            expected = EXPECTED[how]
            exits = ",".join(map(str, sorted(codes))) + ("" if codes == {expected} else f" (want {expected})")
            print(f"{transport:<10}{how:<9}{KINDS[kind]:<18}"
                  f"{statistics.median(times) * 1e3:>7.0f}ms{max(times) * 1e3:>7.0f}ms{TARGET_S * 1e3:>7.0f}ms"
                  f"{exits:>6}{','.join(sorted(statuses)):>14}", flush=True)
        log = (work / "server.log").read_text(errors="replace").strip()
    if log:
        print("\nserver stderr (last lines):\n" + "\n".join(log.splitlines()[-10:]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5, help="servers started per case (median)")
    main(parser.parse_args().rounds)
