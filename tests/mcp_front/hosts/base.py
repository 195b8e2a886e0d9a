"""What every host adapter provides, and the offline environment the host CLIs run in.

A host adapter knows one CLI: where npm installed it, how to register llmproc-mcp with it
(stdio command or HTTP URL), how to point its model at the fake provider server, how it names
MCP tools and how its model must call them. The scenario (scenario.py) is the same for all.

Offline: the hosts get `HTTP(S)_PROXY` pointing at a port that refuses every connection
(loopback exempt through `NO_PROXY`), their telemetry and update checks switched off by their
own settings, and a fresh HOME so no user configuration or login is read.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from llmproc.testing import FakeLLMServer, ToolUse

ROOT = Path(__file__).resolve().parents[3]
NODE_BIN = ROOT / "tests" / "mcp_servers" / "node_modules" / ".bin"
SERVER_NAME = "llmproc"  # the name hosts register llmproc-mcp under (their tool prefixes use it)


@dataclass(frozen=True)
class McpServer:
    """llmproc-mcp as a host registers it: a stdio command, or the URL of a running HTTP server."""

    command: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    url: str | None = None

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"


@dataclass
class HostRun:
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"


class Host(Protocol):
    name: str  # "claude-code", "codex", "gemini"
    transports: tuple[str, ...]  # the MCP transports the host speaks: ("stdio", "http")
    endpoint: str  # the fake server endpoint its model uses: "anthropic", "openai_responses", "gemini"

    def missing(self) -> str | None:
        """None when the host can run here; otherwise a one-line reason to skip."""

    def offers_llmproc(self, body: Any) -> bool:
        """Whether this model request is the main conversation (it offers llmproc's tools)."""

    def tool_use(self, tool: str, arguments: dict[str, Any]) -> ToolUse:
        """How the host's model calls llmproc-mcp's `tool` (the host's naming of MCP tools)."""

    def run(self, server: McpServer, fake: FakeLLMServer, workdir: Path, prompt: str,
            timeout_s: float) -> HostRun:
        """Register `server`, run one non-interactive prompt to its end, return what it printed."""


def closed_port() -> int:
    """A loopback port nothing listens on: a proxy there refuses every connection at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def offline_env(home: Path, **extra: str) -> dict[str, str]:
    """A minimal environment: PATH, a fresh HOME, and every outbound connection refused."""
    home.mkdir(parents=True, exist_ok=True)
    proxy = f"http://127.0.0.1:{closed_port()}"
    env = {key: os.environ[key] for key in ("PATH", "LANG", "TMPDIR") if key in os.environ}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_STATE_HOME=str(home / ".local" / "state"), XDG_DATA_HOME=str(home / ".local" / "share"),
               HTTP_PROXY=proxy, HTTPS_PROXY=proxy, http_proxy=proxy, https_proxy=proxy,
               NO_PROXY="127.0.0.1,localhost,::1", no_proxy="127.0.0.1,localhost,::1",
               NO_COLOR="1", CI="1")
    env.update(extra)
    return env


def which(name: str) -> Path | None:
    path = NODE_BIN / name
    return path if path.exists() else None


def missing_binary(name: str, package: str) -> str | None:
    if which(name) is None:
        return (f"{package} is not installed in tests/mcp_servers/node_modules "
                "(run `bash tests/mcp_servers/install.sh`; it needs npm)")
    return None


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout_s: float,
            stdin: str = "") -> HostRun:
    """Run a host CLI to its end. A run past `timeout_s` is killed with its whole process group
    (the MCP servers it started included) and reported, never left behind."""
    process = subprocess.Popen(args, env=env, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(stdin, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        return HostRun(-9, out, err + f"\n[killed after {timeout_s:g} s]")
    finally:
        try:  # anything the host left running (a server it did not stop)
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return HostRun(process.returncode, out, err)


__all__ = ["Host", "HostRun", "McpServer", "NODE_BIN", "ROOT", "SERVER_NAME", "closed_port", "missing_binary",
           "offline_env", "run_cli", "which"]
