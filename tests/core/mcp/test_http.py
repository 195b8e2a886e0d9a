"""Streamable HTTP servers: bearer token from the environment, progress, a server that goes away
and comes back, and servers that cannot be reached."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from llmproc import LLMProgram
from llmproc.errors import MCPServerError
from llmproc.testing import FakeLLMServer, Reply, ToolUse
from llmproc.tools.base import SimpleToolContext, reporting_progress
from llmproc.tools.mcp import HttpSpec, McpConnection, McpServers

from .conftest import HttpServer, free_port

CTX = SimpleToolContext()


def program(url: str, tmp_path: Path) -> LLMProgram:
    return LLMProgram.from_dict({
        "model": {"name": "m", "provider": "scripted"},
        "mcp": {"servers": {"web": {"url": url, "bearer_token_env": "OUR_TOKEN"}}, "call_timeout_s": 10},
        "tools": {"mcp": {"web": ["echo", {"name": "count", "alias": "count_up"}]}},
    }, base_dir=tmp_path)


async def test_a_bearer_token_from_the_environment_opens_the_server(
        http_server: HttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUR_TOKEN", "s3cret")
    servers = McpServers.from_program(program(http_server.url, tmp_path))
    try:
        with anyio.fail_after(20):
            toolset = await servers.start()
            assert toolset.names == ["web__echo", "count_up"]
            assert (await toolset.call("web__echo", {"text": "over http"}, CTX)).content == "over http"
            seen: list[float] = []
            with reporting_progress(lambda done, total, message: seen.append(done)):
                out = await toolset.call("count_up", {"steps": 2}, CTX)
            assert out.content == "counted to 2" and seen == [1, 2]
    finally:
        await servers.aclose()


async def test_a_missing_token_variable_is_a_config_error(http_server: HttpServer, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="environment variable OUR_TOKEN .*not set") as caught:
        McpServers.from_program(program(http_server.url, tmp_path))
    assert "mcp.servers.web.bearer_token_env" in str(caught.value)


async def test_a_wrong_token_fails_the_start_naming_the_url(http_server: HttpServer, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUR_TOKEN", "wrong")
    servers = McpServers.from_program(program(http_server.url, tmp_path))
    with anyio.fail_after(20), pytest.raises(MCPServerError) as caught:
        await servers.start()
    assert "'web' did not start: HTTP 401 Unauthorized (check the token" in str(caught.value)
    assert http_server.url in str(caught.value)
    assert "wrong" not in str(caught.value)  # the token is never shown


async def test_a_server_that_goes_away_gives_error_results_then_is_reconnected(
        http_server: HttpServer) -> None:
    spec = HttpSpec("web", http_server.url, {"Authorization": "Bearer s3cret"})
    conn = McpConnection(spec, call_timeout_s=10)
    try:
        with anyio.fail_after(40):
            await conn.start()
            assert (await conn.call("echo", {"text": "one"})).content == "one"
            http_server.stop()
            down = await conn.call("echo", {"text": "two"})
            assert down.is_error and "'web'" in down.content
            again = await conn.call("echo", {"text": "three"})  # a restart is tried, and fails
            assert again.is_error and "not available" in again.content and "cannot connect" in again.content
            http_server.start()
            assert (await conn.call("echo", {"text": "four"})).content == "four"
            assert conn.restarts >= 1
    finally:
        await conn.aclose()


async def test_an_unreachable_url_fails_the_start() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    conn = McpConnection(HttpSpec("nowhere", url, source="mcp.json: mcpServers.nowhere"))
    with anyio.fail_after(20), pytest.raises(MCPServerError) as caught:
        await conn.start()
    message = str(caught.value)
    assert f"cannot connect to {url}" in message and "mcp.json: mcpServers.nowhere" in message


async def test_a_legacy_sse_server_works_like_any_other(fake_llm: FakeLLMServer, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    server = HttpServer(sse=True)
    server.start()
    try:
        program = LLMProgram.from_dict({
            "model": {"name": "claude-sonnet-5-5", "provider": "anthropic", "base_url": fake_llm.anthropic_base_url},
            "mcp": {"servers": {"old": {"type": "sse", "url": server.url}}},
            "tools": {"mcp": {"old": ["echo", "count"]}},
        })
        fake_llm.add(Reply(tool_calls=[ToolUse("old__echo", {"text": "over SSE"}, id="e"),
                                       ToolUse("old__count", {"steps": 3}, id="c")]), Reply(text="Done."))
        with anyio.fail_after(30):
            async with await program.start(cwd=tmp_path) as process:
                assert process.mcp_servers.connections["old"].spec.sse
                result = await process.run("Echo.")
    finally:
        server.stop()
    outputs = {call.id: call.content for call in result.tool_calls}
    assert outputs == {"e": "over SSE", "c": "counted to 3"}
