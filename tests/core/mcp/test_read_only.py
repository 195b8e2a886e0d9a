"""An MCP tool is read-only (may run again after a crash cut a call off) when its server annotates
it `readOnlyHint` or `idempotentHint`; hints absent or false, it is not."""

from __future__ import annotations

import anyio
import mcp_types as types
import pytest

from llmproc.tools.mcp import McpServers, McpTool
from llmproc.tools.mcp.connection import McpConnection

from .conftest import filesystem_spec, needs_node_servers, our_spec


@pytest.mark.parametrize(("annotations", "read_only"), [
    (None, False),
    (types.ToolAnnotations(), False),
    (types.ToolAnnotations(read_only_hint=True), True),
    (types.ToolAnnotations(read_only_hint=False, idempotent_hint=True), True),
    (types.ToolAnnotations(read_only_hint=False, idempotent_hint=False, destructive_hint=True), False),
])
def test_read_only_follows_the_annotations(annotations: types.ToolAnnotations | None, read_only: bool) -> None:
    spec = types.Tool(name="t", input_schema={"type": "object"}, annotations=annotations)
    assert McpTool("our__t", McpConnection(our_spec()), spec).read_only is read_only


@needs_node_servers
async def test_the_filesystem_servers_annotations(tmp_path) -> None:
    servers = McpServers({"fs": filesystem_spec(tmp_path)}, {"fs": "all"})
    try:
        with anyio.fail_after(30):
            toolset = await servers.start()
        flags = {t.name: t.read_only for t in toolset}
        assert flags["fs__read_text_file"] and flags["fs__list_directory"]
        assert flags["fs__write_file"]  # readOnlyHint false, idempotentHint true: writing again changes nothing
        assert not flags["fs__edit_file"] and not flags["fs__move_file"]
    finally:
        await servers.aclose()
