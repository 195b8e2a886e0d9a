"""Traces in a real backend: Arize Phoenix (from PyPI, installed by tests/mcp_servers/install.sh
into its own virtualenv) receives the OTLP/HTTP spans of a real `llmproc` command whose program
spawns and forks (against the fake provider), and its REST API gives back the tree."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from llmproc.testing import FakeLLMServer, Reply, ToolUse

ROOT = Path(__file__).resolve().parents[3]
PHOENIX = ROOT / "tests" / "mcp_servers" / ".venv-pypi" / "bin" / "phoenix"
START_S = 240.0  # Phoenix takes 30-60 s to start on a loaded two-core machine (migrations, UI assets)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a local test server
        return json.load(response)


@contextmanager
def phoenix_server(where: Path) -> Iterator[str]:
    """`phoenix serve` on free ports, its database in `where`/phoenix and its log in
    `where`/phoenix.log; yields its URL (web UI, REST API and OTLP/HTTP) and stops it after.
    docs/observability/screenshot.py starts it this way too."""
    port, grpc_port = free_port(), free_port()
    work = where / "phoenix"
    work.mkdir()
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env.update({"PHOENIX_WORKING_DIR": str(work), "PHOENIX_PORT": str(port), "PHOENIX_GRPC_PORT": str(grpc_port),
                "PHOENIX_HOST": "127.0.0.1", "PHOENIX_TELEMETRY_ENABLED": "false"})
    log = (where / "phoenix.log").open("wb")
    server = subprocess.Popen([str(PHOENIX), "serve"], env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:
            try:
                get(f"{url}/v1/projects")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("Phoenix did not start:\n" + (where / "phoenix.log").read_text()[-3000:])
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def phoenix(tmp_path: Path) -> Iterator[str]:
    with phoenix_server(tmp_path) as url:
        yield url


def run_spawn_and_fork(phoenix: str, fake_llm: FakeLLMServer, where: Path, **env_vars: str) -> dict[str, Any]:
    """The `llmproc` command, traced to `phoenix`, runs a program (main.toml, in `where`) that
    spawns a linked program (expert) and forks itself, against the fake provider; returns its
    --json result. `env_vars` are added to the command's environment."""
    model = f'[model]\nname = "claude-sonnet-5-5"\nprovider = "anthropic"\nbase_url = "{fake_llm.anthropic_base_url}"\n'
    (where / "expert.toml").write_text(model)
    (where / "main.toml").write_text(model + '[tools]\nenabled = ["spawn", "fork"]\n'
                                             '[linked_programs]\nexpert = "expert.toml"\n')
    fake_llm.add(Reply(tool_calls=[ToolUse("spawn", {"program_name": "expert", "prompt": "look it up"})]),
                 Reply(text="expert: 42"),
                 Reply(tool_calls=[ToolUse("fork", {"prompts": ["check it"]})]),
                 Reply(text="copy: checked"),
                 Reply(text="done: 42"))
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env.update({"ANTHROPIC_API_KEY": "test-key", "LLMPROC_NO_LOG": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": phoenix,
                "OTEL_SERVICE_NAME": "llmproc-phoenix-test", **env_vars})
    cli = Path(sys.executable).with_name("llmproc")
    run = subprocess.run([str(cli), str(where / "main.toml"), "-p", "go", "--json", "-q"], env=env,
                         capture_output=True, text=True, cwd=where, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)  # type: ignore[no-any-return]


def llmproc_spans(phoenix: str, at_least: int = 10) -> list[dict[str, Any]]:
    """llmproc's spans in Phoenix's default project, once it has stored `at_least` of them (or
    after 30 s): the command flushed before exiting; Phoenix writes what it received in the
    background."""
    spans: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        spans = [s for s in get(f"{phoenix}/v1/projects/default/spans?limit=1000")["data"]
                 if s["name"].startswith(("llmproc.run", "chat ", "execute_tool"))]
        if len(spans) >= at_least:
            break
        time.sleep(0.5)
    return spans


@pytest.mark.slow
@pytest.mark.skipif(not PHOENIX.is_file() and not os.environ.get("CI"),
                    reason="Arize Phoenix is not installed: run tests/mcp_servers/install.sh")
def test_phoenix_receives_the_tree_of_a_cli_run(phoenix: str, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    assert run_spawn_and_fork(phoenix, fake_llm, tmp_path)["answer"] == "done: 42"
    spans = llmproc_spans(phoenix)
    by_id = {s["context"]["span_id"]: s for s in spans}

    def parent(span: dict[str, Any]) -> dict[str, Any] | None:
        return by_id.get(span.get("parent_id") or "")

    assert len({s["context"]["trace_id"] for s in spans}) == 1
    (top,) = [s for s in spans if s["name"] == "llmproc.run main" and not s.get("parent_id")]
    assert top["attributes"]["llmproc.program"] == "main"
    (spawn,) = [s for s in spans if s["name"] == "execute_tool spawn"]
    (fork,) = [s for s in spans if s["name"] == "execute_tool fork"]
    (expert,) = [s for s in spans if s["name"] == "llmproc.run expert"]
    (copy,) = [s for s in spans if s["name"] == "llmproc.run main" and s is not top]
    assert parent(spawn) is top and parent(fork) is top
    assert parent(expert) is spawn and parent(copy) is fork
    chats = [s for s in spans if s["name"] == "chat claude-sonnet-5-5"]
    assert sorted(parent(c)["name"] for c in chats) == [  # type: ignore[index]
        "llmproc.run expert", "llmproc.run main", "llmproc.run main", "llmproc.run main", "llmproc.run main"]
    assert all(c["attributes"]["gen_ai.usage.output_tokens"] >= 0 for c in chats)
    assert spawn["attributes"]["gen_ai.tool.name"] == "spawn"
