"""A server that changes its tools while a process runs: the process re-lists them before its next
model call, over stdio and streamable HTTP (2026-07-28 servers announce changes on a
subscriptions/listen stream) and with a 2025-era server (a notification). The next request
carries the new tool, and the model can call it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from llmproc import LLMProgram
from llmproc.testing import FakeLLMServer, Reply, ToolUse
from llmproc.tools.base import SimpleToolContext
from llmproc.tools.mcp import McpServers, StdioSpec

from .conftest import OUR_SERVER, HttpServer, everything_spec, needs_node_servers


CTX = SimpleToolContext()


def program(fake: FakeLLMServer, server: dict[str, Any], selection: Any = "all") -> LLMProgram:
    return LLMProgram.from_dict({
        "model": {"name": "claude-sonnet-5-5", "provider": "anthropic", "base_url": fake.anthropic_base_url},
        "mcp": {"servers": {"our": server}},
        "tools": {"mcp": {"our": selection}},
    })


def tool_names(body: dict[str, Any]) -> list[str]:
    return [t["name"] for t in body["tools"]]


def last_results(body: dict[str, Any]) -> list[str]:
    blocks = body["messages"][-1]["content"]
    return [b["content"][0]["text"] if isinstance(b["content"], list) else b["content"]
            for b in blocks if b["type"] == "tool_result"]


async def run_learning(fake: FakeLLMServer, prog: LLMProgram, tmp_path: Path) -> list[dict[str, Any]]:
    fake.add(Reply(tool_calls=[ToolUse("our__learn", {"name": "greet"}, id="t1")]),
             Reply(tool_calls=[ToolUse("our__greet", {}, id="t2")]),
             Reply(text="Done."))
    with anyio.fail_after(30):
        async with await prog.start(cwd=tmp_path) as process:
            result = await process.run("Learn a tool, then use it.")
    assert result.answer == "Done."
    return [r.body for r in fake.requests]


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("OUR_TOKEN", "s3cret")


async def test_a_tool_added_over_stdio_is_offered_and_called(fake_llm: FakeLLMServer, tmp_path: Path,
                                                             keys: None) -> None:
    bodies = await run_learning(fake_llm, program(fake_llm, {"command": sys.executable,
                                                             "args": [str(OUR_SERVER)]}), tmp_path)
    assert "our__learn" in tool_names(bodies[0]) and "our__greet" not in tool_names(bodies[0])
    assert "our__greet" in tool_names(bodies[1])
    assert last_results(bodies[2]) == ["hello from greet"]


async def test_a_tool_added_over_http_is_offered_and_called(fake_llm: FakeLLMServer, tmp_path: Path,
                                                            keys: None, http_server: HttpServer) -> None:
    # Over HTTP the change event comes on its own stream, a moment after the call's result: the
    # turn after next is the first that is sure to see it.
    fake_llm.add(Reply(tool_calls=[ToolUse("our__learn", {"name": "greet"}, id="t1")]),
                 Reply(tool_calls=[ToolUse("our__sleep", {"seconds": 0.5}, id="t2")]),
                 Reply(tool_calls=[ToolUse("our__greet", {}, id="t3")]),
                 Reply(text="Done."))
    prog = program(fake_llm, {"url": http_server.url, "bearer_token_env": "OUR_TOKEN"})
    with anyio.fail_after(30):
        async with await prog.start(cwd=tmp_path) as process:
            assert (await process.run("Learn a tool, wait, then use it.")).answer == "Done."
    bodies = [r.body for r in fake_llm.requests]
    assert "our__greet" not in tool_names(bodies[0]) and "our__greet" in tool_names(bodies[2])
    assert last_results(bodies[3]) == ["hello from greet"]


async def test_an_allow_list_still_decides(fake_llm: FakeLLMServer, tmp_path: Path, keys: None) -> None:
    fake_llm.add(Reply(tool_calls=[ToolUse("our__learn", {"name": "greet"}, id="t1")]), Reply(text="Done."))
    prog = program(fake_llm, {"command": sys.executable, "args": [str(OUR_SERVER)]}, ["echo", "learn"])
    with anyio.fail_after(30):
        async with await prog.start(cwd=tmp_path) as process:
            await process.run("Learn.")
    assert [tool_names(r.body) for r in fake_llm.requests] == [["our__echo", "our__learn"]] * 2


@needs_node_servers
async def test_a_2025_era_server_announces_changes_by_notification() -> None:
    # server-everything registers tools that depend on the client's capabilities after the
    # handshake and announces it with notifications/tools/list_changed.
    spec = everything_spec()
    async with McpServers({spec.name: spec}, {spec.name: "all"}) as servers:
        connection = servers.connections[spec.name]
        assert connection._current.client.protocol_version < "2026"
        with anyio.fail_after(10):
            while not connection._current.tools_stale:
                await anyio.sleep(0.05)
        names = {t.name for t in connection.tools}
        toolset = await servers.refresh()
        assert not connection._current.tools_stale  # re-listed
        assert {t.name for t in connection.tools} >= names and len(toolset) == len(connection.tools)


async def test_a_server_that_is_down_keeps_its_tools_while_another_changes(tmp_path: Path) -> None:
    # Server a crashes and its restart fails (its wrapper refuses to start while the marker
    # exists); meanwhile server b changes its tools. a's tools must stay listed, and work again
    # once a can start.
    marker = tmp_path / "down"
    wrapper = tmp_path / "a.py"
    wrapper.write_text("import os, runpy, sys\n"
                       f"if os.path.exists({str(marker)!r}): sys.exit('a is down')\n"
                       f"sys.argv = [{str(OUR_SERVER)!r}]\nrunpy.run_path({str(OUR_SERVER)!r}, run_name='__main__')\n")
    specs = {"a": StdioSpec("a", sys.executable, (str(wrapper),)),
             "b": StdioSpec("b", sys.executable, (str(OUR_SERVER),))}
    with anyio.fail_after(60):
        async with McpServers(specs, {"a": ["echo", "crash"], "b": "all"}) as servers:
            marker.write_text("")
            await servers.toolset.call("a__crash", {}, CTX)
            down = await servers.toolset.call("a__echo", {"text": "x"}, CTX)
            assert down.is_error and "a is down" in down.content
            await servers.toolset.call("b__learn", {"name": "greet"}, CTX)
            toolset = await servers.refresh()
            assert {"a__echo", "a__crash", "b__greet"} <= set(toolset.names)
            marker.unlink()
            assert (await toolset.call("a__echo", {"text": "back"}, CTX)).content == "back"
