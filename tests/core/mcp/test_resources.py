"""MCP resources through `[mcp] resources = true`: the model lists them (URIs, types, templates)
and reads them, text as text and binary described; from our server and from server-everything
(2025 protocol), with bad servers and URIs as error results."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest

from llmproc import LLMProgram
from llmproc.testing import FakeLLMServer, Reply, ToolUse
from llmproc.tools.base import SimpleToolContext
from llmproc.tools.mcp import McpServers

from .conftest import OUR_SERVER, everything_spec, needs_node_servers

CTX = SimpleToolContext()


async def test_a_process_lists_and_reads_resources(fake_llm: FakeLLMServer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    program = LLMProgram.from_dict({
        "model": {"name": "claude-sonnet-5-5", "provider": "anthropic", "base_url": fake_llm.anthropic_base_url},
        "mcp": {"servers": {"our": {"command": sys.executable, "args": [str(OUR_SERVER)]}}, "resources": True},
        "tools": {"mcp": {"our": ["echo"]}},
    })
    fake_llm.add(Reply(tool_calls=[ToolUse("list_mcp_resources", {}, id="l")]),
                 Reply(tool_calls=[ToolUse("read_mcp_resource", {"server": "our", "uri": "our://notes"}, id="n"),
                                   ToolUse("read_mcp_resource", {"server": "our", "uri": "our://greeting/Ada"}, id="g"),
                                   ToolUse("read_mcp_resource", {"server": "our", "uri": "our://picture.png"}, id="p"),
                                   ToolUse("read_mcp_resource", {"server": "our", "uri": "our://nothing"}, id="x"),
                                   ToolUse("read_mcp_resource", {"server": "nope", "uri": "our://notes"}, id="s")]),
                 Reply(text="Read."))
    with anyio.fail_after(30):
        async with await program.start(cwd=tmp_path) as process:
            result = await process.run("What do the notes say?")
    tools = {t["name"]: t for t in fake_llm.requests[0].body["tools"]}
    assert set(tools) == {"our__echo", "list_mcp_resources", "read_mcp_resource"}
    server = tools["read_mcp_resource"]["input_schema"]["properties"]["server"]
    assert server.get("enum", [server.get("const")]) == ["our"]  # the model can only name a real server
    out = {call.id: call for call in result.tool_calls}
    listing = out["l"].content
    assert "our: 2 resources" in listing and "- our://notes notes (text/plain): The team's notes." in listing
    assert "our: 1 URI template" in listing and "our://greeting/{who}" in listing
    assert out["n"].content == "buy milk\ncall Bob\n" and out["g"].content == "Hello, Ada!"
    assert out["p"].content.startswith("[binary resource our://picture.png, image/png, ") and "bytes" in out["p"].content
    assert out["x"].is_error and "our://nothing" in out["x"].content
    assert out["s"].is_error and "server: input should be 'our', got 'nope'" in out["s"].content


async def test_resources_are_off_unless_asked_for(tmp_path: Path) -> None:
    program = LLMProgram.from_dict({
        "model": {"name": "scripted", "provider": "scripted"},
        "mcp": {"servers": {"our": {"command": sys.executable, "args": [str(OUR_SERVER)]}}},
        "tools": {"mcp": {"our": ["echo"]}},
    })
    with anyio.fail_after(30):
        async with await program.start(cwd=tmp_path) as process:
            assert process.toolset.names == ["our__echo"]


@needs_node_servers
async def test_server_everything_resources() -> None:
    spec = everything_spec()
    async with McpServers({"everything": spec}, {"everything": ["echo"]}, resources=True) as servers:
        with anyio.fail_after(20):
            listing = (await servers.toolset.call("list_mcp_resources", {"server": "everything"}, CTX)).content
            assert "everything: " in listing and "demo://resource/" in listing
            uri = next(word for word in listing.split() if word.startswith("demo://resource/static/document/"))
            document = await servers.toolset.call("read_mcp_resource", {"server": "everything", "uri": uri}, CTX)
    assert not document.is_error and document.content.strip()
