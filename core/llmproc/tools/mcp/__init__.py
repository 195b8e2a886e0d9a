"""The MCP client: programs use tools from external MCP servers (stdio and streamable HTTP).

- `config`: the servers a program uses, from an mcpServers file and `[mcp.servers]`
- `names`: tool names every provider accepts (`server__tool`, sanitized, unique)
- `stdio_transport`, `http_transport`: the transports (stdio owns the server's process group and stderr)
- `connection`: one server's lifetime: start, calls with timeouts, restart, shutdown
- `end_watch`: notices a server's side of a transport ending, between calls
- `results`: MCP results and schemas into llmproc's shapes
- `toolset`: `McpServers`, a process's servers as one `Toolset`
"""

from __future__ import annotations

from llmproc.errors import MCPServerError
from llmproc.tools.mcp.config import HttpSpec, ServerSpec, StdioSpec, program_servers, read_mcp_file
from llmproc.tools.mcp.connection import McpConnection
from llmproc.tools.mcp.names import assign_names, sanitize
from llmproc.tools.mcp.toolset import McpServers, McpTool

__all__ = [
    "HttpSpec",
    "MCPServerError",
    "McpConnection",
    "McpServers",
    "McpTool",
    "ServerSpec",
    "StdioSpec",
    "assign_names",
    "program_servers",
    "read_mcp_file",
    "sanitize",
]
