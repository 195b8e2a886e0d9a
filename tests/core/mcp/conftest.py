"""Where the MCP test servers are, and helpers to watch processes.

Our own server (`our_server.py`) always runs. The third-party servers are installed by
`tests/mcp_servers/install.sh`; on a developer's machine a test that needs one that is absent is
skipped and says so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmproc.tools.mcp import StdioSpec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
OUR_SERVER = HERE / "our_server.py"
INSTALLED = ROOT / "tests" / "mcp_servers"
NPM_SCOPE = INSTALLED / "node_modules" / "@modelcontextprotocol"
EVERYTHING_JS = NPM_SCOPE / "server-everything" / "dist" / "index.js"
FILESYSTEM_JS = NPM_SCOPE / "server-filesystem" / "dist" / "index.js"
TIME_SERVER = INSTALLED / ".venv-pypi" / "bin" / "mcp-server-time"
GIT_SERVER = INSTALLED / ".venv-pypi" / "bin" / "mcp-server-git"
NODE = shutil.which("node")
HOW = "run tests/mcp_servers/install.sh"

# CI installs every server (.ci/run runs install.sh): there, a missing one fails instead of skipping.
IN_CI = bool(os.environ.get("CI"))
needs_node_servers = pytest.mark.skipif(
    (NODE is None or not EVERYTHING_JS.is_file() or not FILESYSTEM_JS.is_file()) and not IN_CI,
    reason=f"node or the npm servers server-everything/server-filesystem are not installed: {HOW}")
needs_time_server = pytest.mark.skipif(
    not (TIME_SERVER.is_file() and GIT_SERVER.is_file()) and not IN_CI,
    reason=f"mcp-server-time is not installed in its own virtualenv: {HOW}")


def our_spec(*flags: str, name: str = "our") -> StdioSpec:
    return StdioSpec(name, sys.executable, (str(OUR_SERVER), *flags))


def everything_spec(name: str = "everything") -> StdioSpec:
    return StdioSpec(name, NODE or "node", (str(EVERYTHING_JS), "stdio"))


def filesystem_spec(root: Path, name: str = "filesystem") -> StdioSpec:
    return StdioSpec(name, NODE or "node", (str(FILESYSTEM_JS), str(root)))


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    state = next((line.split()[1] for line in status.splitlines() if line.startswith("State:")), "?")
    return state not in ("Z", "X")


def children(pid: int | None = None) -> set[int]:
    """Live child processes of `pid` (default: this test process), from /proc."""
    pid = pid or os.getpid()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                found.add(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HttpServer:
    """Our server over streamable HTTP in a subprocess, which a test may kill and start again."""

    def __init__(self, token: str | None = None, *, sse: bool = False):
        self.port = free_port()
        self.token = token
        self.sse = sse  # the legacy HTTP+SSE transport instead of streamable HTTP
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{'sse' if self.sse else 'mcp'}"

    def start(self, timeout: float = 20.0) -> None:
        flags = ["--token", self.token] if self.token else []
        transport = "--sse" if self.sse else "--http"
        self.process = subprocess.Popen([sys.executable, str(OUR_SERVER), transport, str(self.port), *flags],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"our HTTP server exited with code {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"our HTTP server did not answer on port {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    server = HttpServer(token="s3cret")
    server.start()
    try:
        yield server
    finally:
        server.stop()
