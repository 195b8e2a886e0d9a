"""One read of an fd for both readers: the process's read_fd tool and the MCP server's read_fd
handler return the same text, "read on" hint included (the MCP one used to lack it: after a
line range cut to the limit it said to continue by characters). A read is `bounded` output,
never stored as a new fd; the MCP answer preview reports the cut the preview itself made."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mcp.server.mcpserver.exceptions import ToolError as McpToolError

from llmproc.fd import FDTable
from llmproc.fd import render
from llmproc.fd.read import read_text
from llmproc.tools import SimpleToolContext, Toolset, ToolOutput
from llmproc.tools.builtin.fd_tools import FD_TOOLS
from llmproc_mcp import handlers

TEXT = "".join(f"row {i:03d} {'y' * 30}\n" for i in range(1, 201))  # 200 lines of 39 chars
READS: list[dict[str, Any]] = [
    {},
    {"page": 3},
    {"start_line": 5},  # cut to the limit: read on by lines
    {"start_line": 5, "end_line": 150},
    {"start_line": 190, "end_line": 195},
    {"start_char": 100},  # cut: read on by characters
    {"start_char": 10, "end_char": 50},
]


def table() -> FDTable:
    made = FDTable(page_size=400, max_direct_chars=800)
    made.create(TEXT, source="output of grep")
    return made


class _Table:  # what the MCP handler needs of the process table
    def __init__(self, fds: FDTable):
        self.fds = fds

    async def fd(self, fd_id: str) -> None:
        return None


def mcp_context(fds: FDTable) -> Any:
    async def get_table() -> _Table:
        return _Table(fds)

    return SimpleNamespace(request_context=SimpleNamespace(lifespan_context=SimpleNamespace(table=get_table)))


async def via_tool(tmp_path: Path, fds: FDTable, args: dict[str, Any]) -> ToolOutput:
    ctx = SimpleToolContext(cwd=tmp_path, fd_table=fds)
    return await Toolset(FD_TOOLS.values()).call("read_fd", {"fd": "fd:1", **args}, ctx)


async def via_mcp(fds: FDTable, args: dict[str, Any]) -> str:
    result = await handlers.read_fd("fd:1", mcp_context(fds), **args)
    return result.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize("args", READS)
async def test_the_tool_and_the_mcp_handler_read_alike(tmp_path: Path, args: dict[str, Any]) -> None:
    fds = table()
    output = await via_tool(tmp_path, fds, args)
    assert not output.is_error and output.bounded  # never stored again as an fd
    assert output.content == await via_mcp(fds, args) == read_text(fds, "fd:1", **args)


async def test_a_cut_line_read_says_how_to_read_on_by_lines_in_both(tmp_path: Path) -> None:
    fds = table()
    text = await via_mcp(fds, {"start_line": 5, "end_line": 150})
    assert 'continue with read_fd(fd="fd:1", start_line=' in text and "end_line=150" in text
    assert "start_char" not in text.split("</fd_read>")[1]


async def test_errors_keep_their_message_in_both(tmp_path: Path) -> None:
    fds = table()
    output = await via_tool(tmp_path, fds, {"page": 1, "start_line": 2})
    assert output.is_error and "one kind of range" in output.content
    with pytest.raises(McpToolError, match="one kind of range"):
        await via_mcp(fds, {"page": 1, "start_line": 2})
    with pytest.raises(McpToolError, match="page 99 does not exist"):
        await via_mcp(fds, {"page": 99})


def test_preview_end_is_where_the_preview_stops() -> None:
    fd = table().get("fd:1")
    for limit in (50, 300, 10_000):
        end = render.preview_end(fd, limit)
        shown = render.preview(fd, limit=limit).split("\n", 1)[1].split("</fd_preview>")[0]
        assert shown == fd.content[:end] and end <= limit
