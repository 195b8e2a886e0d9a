"""Shared set-up for the MCP server tests: programs in a temporary folder that talk to the fake
provider server, the server in-process (`mcp.Client(server)`), or as a real subprocess over
stdio or streamable HTTP.

Programs reach the fake server through `base_url` in their TOML, so a subprocess needs nothing
but `ANTHROPIC_API_KEY` in its environment.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from llmproc.testing import FakeLLMServer
from mcp import Client, StdioServerParameters

from llmproc_mcp.server import build_server
from llmproc_mcp.settings import ServerSettings

ROOT = Path(__file__).resolve().parents[2]
STEP_S = 15.0  # the bound on any single step of a test


def program_toml(fake: FakeLLMServer, *, tools: tuple[str, ...] = (), links: dict[str, str] | None = None,
                 extra: str = "") -> str:
    text = (f'[model]\nname = "claude-sonnet-5-5"\nprovider = "anthropic"\n'
            f'base_url = "{fake.anthropic_base_url}"\n'
            f'\n[parameters]\nmax_retries = 0\n\n[tools]\nenabled = {list(tools)!r}\n')
    if links:
        text += "\n[linked_programs]\n" + "".join(f'{k} = "{v}"\n' for k, v in links.items())
    return text.replace("'", '"') + extra


@pytest.fixture
def programs(tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A program folder: `helper` (no tools), `boss` (spawns helper), `reader` (read_file on
    notes.txt in the working directory)."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    folder = tmp_path / "programs"
    folder.mkdir()
    (folder / "helper.toml").write_text(program_toml(fake_llm))
    boss = program_toml(fake_llm, tools=("spawn",), links={"helper": "helper.toml"})
    (folder / "boss.toml").write_text(boss)
    (folder / "reader.toml").write_text(program_toml(fake_llm, tools=("read_file",)))
    return folder


def settings_for(programs: Path, **overrides: Any) -> ServerSettings:
    values: dict[str, Any] = {"program_dirs": (programs,), "progress_interval_s": 0.1, "wait_s": 10.0}
    values.update(overrides)
    return ServerSettings(**values)


@asynccontextmanager
async def in_memory(programs: Path, **overrides: Any) -> AsyncIterator[Client]:
    async with Client(build_server(settings_for(programs, **overrides))) as client:
        yield client


@dataclass
class Progress:
    """Records progress notifications of one call."""

    messages: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.values.append(progress)
        self.messages.append(message or "")
        self.times.append(time.monotonic())


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


def first(result: Any) -> dict[str, Any]:
    return result.structured_content["processes"][0]


# -- subprocesses ----------------------------------------------------------------------------------
def server_env() -> dict[str, str]:
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env.update({"ANTHROPIC_API_KEY": "test-key", "PYTHONUNBUFFERED": "1"})
    return env


def server_args(programs: Path, state_dir: Path, *flags: str) -> list[str]:
    return ["-m", "llmproc_mcp", "--programs", str(programs), "--state-dir", str(state_dir),
            "--progress-interval", "0.2", "--log-level", "WARNING", *flags]


def stdio_params(programs: Path, state_dir: Path, *flags: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=server_args(programs, state_dir, *flags),
                                 env=server_env(), cwd=str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HttpServer:
    """`python -m llmproc_mcp --http` in a subprocess, started and stopped by the test."""

    def __init__(self, programs: Path, state_dir: Path, *flags: str, log: Path):
        self.port = free_port()
        self.args = [sys.executable,
                     *server_args(programs, state_dir, "--http", "--port", str(self.port), *flags)]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> HttpServer:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.args, env=server_env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                                            stderr=log)
        deadline = time.monotonic() + STEP_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llmproc-mcp exited with {self.process.returncode}: "
                                   f"{self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1):
                    return self
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
        raise TimeoutError(f"llmproc-mcp did not answer on port {self.port}: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STEP_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STEP_S)


@pytest.fixture
def http_server(programs: Path, tmp_path: Path) -> Iterator[HttpServer]:
    server = HttpServer(programs, tmp_path / "state", log=tmp_path / "server.log").start()
    try:
        yield server
    finally:
        server.stop()
