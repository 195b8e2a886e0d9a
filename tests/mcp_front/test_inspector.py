"""The MCP Inspector CLI (a TypeScript client, not ours) lists and calls the tools over stdio and
HTTP. Installed by tests/mcp_servers/install.sh (0.15.0: the last release that runs on Node 20);
skipped when absent on a developer's machine, required in CI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from llmproc.testing import FakeLLMServer, Reply

from .conftest import ROOT, STEP_S, HttpServer

INSPECTOR = (ROOT / "tests" / "mcp_servers" / "node_modules" / "@modelcontextprotocol" / "inspector" / "cli"
             / "build" / "cli.js")
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(
    (NODE is None or not INSPECTOR.is_file()) and not os.environ.get("CI"),
    reason="node or the MCP Inspector is not installed: run tests/mcp_servers/install.sh")


def inspector(target: list[str], *args: str, home: Path) -> dict:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home)}  # ~/.mcp-inspector: not the real home
    run = subprocess.run([NODE or "node", str(INSPECTOR), "--cli", *target, *args], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=STEP_S, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def stdio_target(programs: Path, state: Path) -> list[str]:
    # The inspector passes only a default environment to the server (the key goes with -e) and
    # takes options such as --log-level as its own: the server's settings go as env vars.
    env = {"ANTHROPIC_API_KEY": "test-key", "LLMPROC_MCP_PROGRAMS": str(programs),
           "LLMPROC_MCP_STATE_DIR": str(state), "LLMPROC_MCP_LOG_LEVEL": "WARNING"}
    return [*(arg for key, value in env.items() for arg in ("-e", f"{key}={value}")), sys.executable, "-m",
            "llmproc_mcp"]


def test_inspector_over_stdio(programs: Path, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    target = stdio_target(programs, tmp_path / "state")
    listed = inspector(target, "--method", "tools/list", home=tmp_path)
    tools = {t["name"]: t for t in listed["tools"]}
    assert set(tools) == {"run_program", "spawn", "fork", "read_fd", "send", "wait", "ps", "kill"}
    assert tools["ps"]["annotations"]["readOnlyHint"] is True
    fake_llm.add(Reply(text="Hello from the fake model."))
    called = inspector(target, "--method", "tools/call", "--tool-name", "run_program",
                       "--tool-arg", "program=helper", "--tool-arg", "prompt=hi", home=tmp_path)
    assert called["isError"] is False
    assert "Hello from the fake model." in called["content"][0]["text"]
    assert called["structuredContent"]["processes"][0]["status"] == "done"


def test_inspector_over_http(http_server: HttpServer, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    target = [http_server.url]
    assert len(inspector(target, "--method", "tools/list", home=tmp_path)["tools"]) == 8
    fake_llm.add(Reply(text="fan-out answer"))
    spawned = inspector(target, "--method", "tools/call", "--tool-name", "spawn",
                        "--tool-arg", 'tasks=[{"program": "helper", "prompt": "hi"}]', home=tmp_path)
    pid = spawned["structuredContent"]["processes"][0]["pid"]
    waited = inspector(target, "--method", "tools/call", "--tool-name", "wait", "--tool-arg", f"pids=[{pid}]",
                       home=tmp_path)
    assert waited["structuredContent"]["processes"][0]["status"] == "done"
    assert "fan-out answer" in waited["content"][0]["text"]  # another session: one table for all
