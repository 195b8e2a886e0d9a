"""Build a process's toolset from its program's `[tools]` section."""

from __future__ import annotations

from llmproc.config.schema import ToolEntry
from llmproc.errors import ProgramConfigError
from llmproc.tools.builtin import BUILTIN_TOOLS
from llmproc.tools.toolset import Toolset, aliased, described

# Tools the program schema knows but this version does not provide yet.
NOT_YET_AVAILABLE = ("spawn", "fork", "goto", "exec", "read_fd", "fd_to_file")


def build_toolset(program) -> Toolset:  # program: LLMProgram
    tools, aliases, descriptions = [], {}, {}
    for i, entry in enumerate(program.config.tools.enabled):
        name = entry.name if isinstance(entry, ToolEntry) else entry
        if name in NOT_YET_AVAILABLE:
            raise ProgramConfigError(f"the {name!r} tool is not available in this version of llmproc",
                                     path=program.path, key=f"tools.enabled[{i}]")
        tools.append(BUILTIN_TOOLS[name])
        if isinstance(entry, ToolEntry):
            if entry.alias:
                aliases[name] = entry.alias
            if entry.description:
                descriptions[name] = entry.description
    toolset = Toolset(tools)
    if descriptions:
        toolset = described(toolset, descriptions)
    if aliases:
        toolset = aliased(toolset, aliases)
    return toolset
