"""MCP resources as two tools: `list_mcp_resources` and `read_mcp_resource`.

Resources are what a server offers to read rather than to run: files, documents, records, each
named by a URI (some by a URI template with `{placeholders}`). A program turns them on with
`[mcp] resources = true`; the model then lists them and reads the ones it needs, the way MCP
hosts such as Claude Code offer them. Text comes back as text (long text goes through the fd
system like any tool output); binary contents are described by type and size.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Optional

import mcp_types as types
from mcp import Client

from llmproc.tools.base import Tool, ToolError, ToolOutput, tool
from llmproc.tools.mcp.connection import McpConnection

MAX_PAGES = 20  # resources/list pages per server: a server that paginates forever cannot hang a call
LIST_NAME, READ_NAME = "list_mcp_resources", "read_mcp_resource"


def resource_tools(connections: Mapping[str, McpConnection]) -> list[Tool]:
    """The two tools over `connections` (server name -> connection)."""
    server_names = Literal[tuple(connections)] if connections else str

    async def list_mcp_resources(server: Optional[str] = None) -> str:
        """List the resources the MCP servers offer to read (files, documents, records): each with its URI, name, type and description, and URI templates whose {placeholders} you fill in. Read one with read_mcp_resource.

        Args:
            server: Only this server's resources (default: every server's).
        """
        picked = [_connection(connections, server)] if server else list(connections.values())
        return "\n\n".join([await _listing(c) for c in picked])

    async def read_mcp_resource(server: str, uri: str) -> str | ToolOutput:
        """Read a resource of an MCP server by its URI (from list_mcp_resources, or a URI template filled in).

        Args:
            server: The server that offers it.
            uri: The resource's URI.
        """
        connection = _connection(connections, server)
        result = await connection.request(f"{READ_NAME} {uri}", lambda client: client.read_resource(uri))
        if isinstance(result, ToolOutput):
            return result
        items = result.contents
        if len(items) == 1:
            return _contents(items[0])
        return "\n\n".join(f"[{item.uri}]\n{_contents(item)}" for item in items) or f"{uri}: empty"

    list_mcp_resources.__annotations__["server"] = Optional[server_names]
    read_mcp_resource.__annotations__["server"] = server_names
    return [tool(list_mcp_resources, name=LIST_NAME), tool(read_mcp_resource, name=READ_NAME)]


def _connection(connections: Mapping[str, McpConnection], server: str) -> McpConnection:
    found = connections.get(server)
    if found is None:
        raise ToolError(f"no MCP server {server!r}; servers: {', '.join(connections) or 'none'}")
    return found


async def _listing(connection: McpConnection) -> str:
    name = connection.name
    if not connection.offers_resources:
        return f"{name}: offers no resources"
    resources = await _all_pages(connection, f"{LIST_NAME} {name}",
                                 lambda client, cursor: client.list_resources(cursor=cursor), "resources")
    if isinstance(resources, ToolOutput):
        raise ToolError(resources.content)
    templates = await _all_pages(connection, f"{LIST_NAME} {name} (templates)",
                                 lambda client, cursor: client.list_resource_templates(cursor=cursor),
                                 "resource_templates")
    if isinstance(templates, ToolOutput):  # optional: a server may not know the method
        templates = []
    lines = [f"{name}: {len(resources)} resource{'s' if len(resources) != 1 else ''}"]
    lines += [_line(r.uri, r.name, r.mime_type, r.description) for r in resources]
    if templates:
        lines.append(f"{name}: {len(templates)} URI template{'s' if len(templates) != 1 else ''}")
        lines += [_line(t.uri_template, t.name, t.mime_type, t.description) for t in templates]
    return "\n".join(lines)


async def _all_pages(connection: McpConnection, what: str, fetch: Callable[[Client, str | None], Awaitable[Any]],
                     field: str) -> list[Any] | ToolOutput:
    """Every item of a paginated list request (at most MAX_PAGES pages), or the error."""
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await connection.request(what, lambda client, c=cursor: fetch(client, c))
        if isinstance(page, ToolOutput):
            return page
        items.extend(getattr(page, field))
        cursor = page.next_cursor
        if not cursor:
            break
    return items


def _line(uri: str, name: str, mime: str | None, description: str | None) -> str:
    kind = f" ({mime})" if mime else ""
    about = f": {' '.join(description.split())}" if description else ""
    return f"- {uri} {name}{kind}{about}"


def _contents(item: types.TextResourceContents | types.BlobResourceContents) -> str:
    if isinstance(item, types.TextResourceContents):
        return item.text
    try:
        size = f"{len(base64.b64decode(item.blob, validate=True)):,} bytes"
    except (binascii.Error, ValueError):
        size = "undecodable base64"
    return f"[binary resource {item.uri}, {item.mime_type or 'unknown type'}, {size}: not shown]"


__all__ = ["LIST_NAME", "READ_NAME", "resource_tools"]
