"""Real third-party servers as users run them: mcp-server-time and mcp-server-git (PyPI, in a
virtualenv of their own, speaking the 2026 protocol), and the npm servers (2025 protocol) beyond
what test_process covers."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import anyio
import pytest

from llmproc import LLMProgram
from llmproc.testing import FakeLLMServer, Reply, ToolUse

from llmproc.tools.base import SimpleToolContext
from llmproc.tools.mcp import McpServers, StdioSpec

from .conftest import GIT_SERVER, TIME_SERVER, everything_spec, filesystem_spec, needs_node_servers, needs_time_server

CTX = SimpleToolContext()


@needs_time_server
async def test_mcp_server_time_from_its_own_virtualenv() -> None:
    spec = StdioSpec("time", str(TIME_SERVER), ("--local-timezone", "UTC"))
    servers = McpServers({"time": spec}, {"time": "all"})
    try:
        with anyio.fail_after(20):
            toolset = await servers.start()
            assert toolset.names == ["time__get_current_time", "time__convert_time"]
            now = await toolset.call("time__get_current_time", {"timezone": "Europe/Paris"}, CTX)
            assert json.loads(now.content)["timezone"] == "Europe/Paris"
            converted = await toolset.call("time__convert_time", {
                "source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}, CTX)
            assert json.loads(converted.content)["target"]["datetime"].endswith("21:00:00+09:00")
            bad = await toolset.call("time__get_current_time", {"timezone": "Mars/Olympus"}, CTX)
            assert bad.is_error and "Mars/Olympus" in bad.content
    finally:
        await servers.aclose()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@needs_time_server
@pytest.mark.skipif(shutil.which("git") is None, reason="mcp-server-git needs the git command")
async def test_a_process_commits_with_mcp_server_git(fake_llm: FakeLLMServer, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "tests@example.com")
    git(repo, "config", "user.name", "Tests")
    (repo / "notes.txt").write_text("first\n")
    program = LLMProgram.from_dict({
        "model": {"name": "claude-sonnet-5-5", "provider": "anthropic", "base_url": fake_llm.anthropic_base_url},
        "mcp": {"servers": {"git": {"command": str(GIT_SERVER), "args": ["--repository", str(repo)]}}},
        "tools": {"mcp": {"git": ["git_status", "git_add", "git_commit", "git_log"]}},
    })
    here = {"repo_path": str(repo)}
    fake_llm.add(Reply(tool_calls=[ToolUse("git__git_status", here, id="s")]),
                 Reply(tool_calls=[ToolUse("git__git_add", {**here, "files": ["notes.txt"]}, id="a")]),
                 Reply(tool_calls=[ToolUse("git__git_commit", {**here, "message": "Add notes"}, id="c")]),
                 Reply(tool_calls=[ToolUse("git__git_log", {**here, "max_count": 5}, id="l"),
                                   ToolUse("git__git_status", {"repo_path": str(tmp_path)}, id="x")]),
                 Reply(text="Committed."))
    with anyio.fail_after(60):
        async with await program.start(cwd=tmp_path) as process:
            result = await process.run("Commit notes.txt.")
    assert result.answer == "Committed."
    assert git(repo, "log", "--format=%s") == "Add notes\n"  # the commit really happened
    outputs = {call.id: call for call in result.tool_calls}
    assert "notes.txt" in outputs["s"].content and not outputs["s"].is_error
    assert "Message: Add notes" in outputs["l"].content
    assert outputs["x"].is_error and "outside the allowed repository" in outputs["x"].content


@needs_node_servers
async def test_server_everything_structured_content_and_resource_links(tmp_path: Path) -> None:
    servers = McpServers({"everything": everything_spec(), "fs": filesystem_spec(tmp_path, "fs")},
                         {"everything": ["get-structured-content", "get-resource-links", "get-sum"],
                          "fs": ["write_file", "list_directory"]})
    try:
        with anyio.fail_after(20):
            toolset = await servers.start()
            weather = await toolset.call("everything__get-structured-content", {"location": "Chicago"}, CTX)
            assert set(json.loads(weather.content)) >= {"temperature", "conditions"}
            links = await toolset.call("everything__get-resource-links", {"count": 2}, CTX)
            assert links.content.count("[resource link ") == 2 and "demo://resource/" in links.content
            assert "3" in (await toolset.call("everything__get-sum", {"a": 1, "b": 2}, CTX)).content
            wrote = await toolset.call("fs__write_file", {"path": str(tmp_path / "a.txt"), "content": "hi"},
                                       CTX)
            assert not wrote.is_error and (tmp_path / "a.txt").read_text() == "hi"
            listing = await toolset.call("fs__list_directory", {"path": str(tmp_path)}, CTX)
            assert "[FILE] a.txt" in listing.content
    finally:
        await servers.aclose()
