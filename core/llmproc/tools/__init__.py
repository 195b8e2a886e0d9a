"""Tools: what a process can call.

- `base`: `Tool`, `ToolOutput`, `ToolContext`, and `tool()` to build a tool from a typed function
- `schema`: JSON Schema and validation derived from function signatures
- `toolset`: `Toolset` and the wrappers `aliased`, `described`, `filtered`, `combined`
- `paths`: confinement of file access to the allowed roots
- `builtin/`: calculator, read_file, list_dir, glob, grep (`BUILTIN_TOOLS`)
- `mcp/`: tools of external MCP servers (`McpServers`; imported on demand, it pulls in the MCP SDK)
"""

from __future__ import annotations

from llmproc.tools.base import FunctionTool, SimpleToolContext, Tool, ToolContext, ToolOutput, tool
from llmproc.tools.paths import resolve_inside
from llmproc.tools.schema import InvalidToolArguments
from llmproc.tools.toolset import DuplicateToolError, Toolset, aliased, combined, described, filtered

__all__ = [
    "DuplicateToolError",
    "FunctionTool",
    "InvalidToolArguments",
    "SimpleToolContext",
    "Tool",
    "ToolContext",
    "ToolOutput",
    "Toolset",
    "aliased",
    "combined",
    "described",
    "filtered",
    "resolve_inside",
    "tool",
]
