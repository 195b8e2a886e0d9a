"""`claude-code/` works as its README says: every file parses, both programs load and are linked,
the dispatch agent is read-only, and the server commands of the README and of the two JSON
configurations start a server that runs the coding agent (against the fake provider)."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path

import anyio
import pytest
from llmproc import LLMProgram
from llmproc.testing import FakeLLMServer, Reply, ToolUse
from mcp import Client, StdioServerParameters

from llmproc_mcp.settings import parse_args

from .conftest import ROOT, STEP_S, first, text_of

FOLDER = ROOT / "claude-code"
README = (FOLDER / "README.md").read_text()
SCRIPTS = Path(sys.executable).parent  # where pip put the llmproc-mcp command


def bash_lines() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.DOTALL)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_every_file_parses_and_both_programs_load() -> None:
    names = {p.name for p in FOLDER.iterdir()}
    assert {"README.md", ".mcp.json", "claude_desktop_config.json", "claude-code.toml",
            "dispatch-agent.toml"} <= names
    for path in FOLDER.glob("*.json"):
        assert "llmproc" in json.loads(path.read_text())["mcpServers"], path
    for path in [*FOLDER.glob("*.toml"), *FOLDER.glob(".*.toml")]:
        LLMProgram.from_toml(path, load_env=False)
    coder = LLMProgram.from_toml(FOLDER / "claude-code.toml", load_env=False)
    dispatch = coder.linked_programs["dispatch-agent"].program
    assert dispatch.path == FOLDER / "dispatch-agent.toml"
    assert "spawn" in coder.config.tools.enabled
    assert sorted(dispatch.config.tools.enabled) == ["glob", "grep", "list_dir", "read_file"]
    assert dispatch.config.limits.max_children == 0 and not dispatch.config.tools.mcp


def test_the_readme_commands_use_real_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMPROC_MCP_TOKEN", "t0ken")
    lines = bash_lines()
    servers = [line for line in lines if line.startswith("llmproc-mcp ")]
    adds = [line for line in lines if line.startswith("claude mcp add ")]
    assert len(servers) == 2 and len(adds) == 3
    for line in servers:
        settings = parse_args(shlex.split(os.path.expandvars(line))[1:])
        assert settings.transport == "http" and settings.program_dirs
    stdio_add = shlex.split(adds[0])
    assert stdio_add[stdio_add.index("--") + 1] == "llmproc-mcp"
    parse_args(stdio_add[stdio_add.index("--") + 2:])  # the flags the host will pass
    local = parse_args(shlex.split(servers[0])[1:])
    assert f"http://127.0.0.1:{local.port}/mcp" in adds[1]
    shared = parse_args(shlex.split(os.path.expandvars(servers[1]))[1:])
    assert shared.token == "t0ken" and f"{shared.allowed_hosts[0]}/mcp" in adds[2]
    assert "Authorization: Bearer $LLMPROC_MCP_TOKEN" in adds[2]


def _configured(name: str) -> dict:
    return json.loads((FOLDER / name).read_text())["mcpServers"]["llmproc"]


@pytest.mark.parametrize("source", ["readme", ".mcp.json", "claude_desktop_config.json"])
async def test_the_configured_server_runs_the_coding_agent(source: str, fake_llm: FakeLLMServer,
                                                           tmp_path: Path) -> None:
    if source == "readme":
        add = shlex.split(next(line for line in bash_lines() if line.startswith("claude mcp add --scope user llmproc")))
        command = add[add.index("--") + 1:]
        command = [c.replace("/path/to/llmproc", str(ROOT)) for c in command]
    else:
        entry = _configured(source)
        command = [entry["command"], *entry["args"]]
        command = [c.replace("/absolute/path/to/llmproc", str(ROOT)).replace(
            "/absolute/path/to/your/project", str(tmp_path)).replace(
            "/absolute/path/to/llmproc-state", str(tmp_path / "state")).replace(
            "/absolute/path/to/venv/bin/", "") for c in command]
    assert Path(command[0]).name == "llmproc-mcp"
    command[0] = str(SCRIPTS / "llmproc-mcp")
    if "--state-dir" not in command:
        command += ["--state-dir", str(tmp_path / "state")]
    (tmp_path / "notes.txt").write_text("the retry policy lives in providers/retry.py\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "ANTHROPIC_API_KEY": "test-key",
           "ANTHROPIC_BASE_URL": fake_llm.anthropic_base_url}
    # Claude Code starts project servers in the project root: here, the checkout (for claude-code/).
    cwd = tmp_path if source == "claude_desktop_config.json" else ROOT
    fake_llm.add(Reply(tool_calls=[ToolUse("spawn", {"program_name": "dispatch-agent",
                                                     "prompt": "Where is the retry policy?"})]),
                 Reply(tool_calls=[ToolUse("grep", {"pattern": "retry policy",
                                                    "path": "." if cwd == tmp_path else "claude-code"})]),
                 Reply(text="notes.txt:1 mentions providers/retry.py"),
                 Reply(text="The retry policy is in providers/retry.py."))
    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=str(cwd))
    with anyio.fail_after(STEP_S):
        async with Client(params, mode="legacy") as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            if source == "readme":  # the same server as .mcp.json's: listing is enough
                assert "claude-code" in tools["run_program"].description
                return
            result = await client.call_tool("run_program", {"program": "claude-code",
                                                            "prompt": "Where is the retry policy?"})
    description = tools["run_program"].description or ""
    assert "claude-code" in description and "dispatch-agent" in description
    assert first(result)["status"] == "done", text_of(result)
    assert "providers/retry.py" in text_of(result)
    grep_result = fake_llm.requests[2].body["messages"][-1]["content"][0]
    assert grep_result["type"] == "tool_result"
    assert ("notes.txt:1" if cwd == tmp_path else "README.md:") in str(grep_result["content"])
    models = [r.body["model"] for r in fake_llm.requests]
    assert models == ["claude-sonnet-5-5", "claude-haiku-5-5", "claude-haiku-5-5", "claude-sonnet-5-5"]
