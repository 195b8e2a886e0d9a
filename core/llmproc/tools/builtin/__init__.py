"""The builtin tools that need nothing but their arguments and the allowed roots.

`BUILTIN_TOOLS` maps each tool's name to the tool. System-call tools (spawn, fork, read_fd,
...) reach their process through the context and are registered by the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from llmproc.tools.base import Tool
from llmproc.tools.builtin.calculator import calculator
from llmproc.tools.builtin.files import list_dir, read_file
from llmproc.tools.builtin.search import glob, grep
from llmproc.tools.toolset import Toolset

BUILTIN_TOOLS: Mapping[str, Tool] = MappingProxyType(
    {t.name: t for t in (calculator, read_file, list_dir, glob, grep)}
)


def builtin_toolset(names: list[str] | None = None) -> Toolset:
    """The builtin tools as a toolset, all of them or the ones named (unknown names: ValueError)."""
    if names is None:
        return Toolset(BUILTIN_TOOLS.values(), label="builtin")
    unknown = [n for n in names if n not in BUILTIN_TOOLS]
    if unknown:
        raise ValueError(f"unknown builtin tool(s) {', '.join(map(repr, unknown))}; "
                         f"available: {', '.join(BUILTIN_TOOLS)}")
    return Toolset((BUILTIN_TOOLS[n] for n in names), label="builtin")


__all__ = ["BUILTIN_TOOLS", "builtin_toolset", "calculator", "glob", "grep", "list_dir", "read_file"]
