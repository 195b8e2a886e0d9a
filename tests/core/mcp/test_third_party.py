"""Real third-party servers as users run them: mcp-server-time (PyPI, in its own virtualenv,
speaking the 2026 protocol), and the npm servers (2025 protocol) beyond what test_process covers."""

from __future__ import annotations

import json
from pathlib import Path

import anyio

from llmproc.tools.base import SimpleToolContext
from llmproc.tools.mcp import McpServers, StdioSpec

from .conftest import TIME_SERVER, everything_spec, filesystem_spec, needs_node_servers, needs_time_server

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
