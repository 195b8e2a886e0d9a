"""Build a process's toolset from its program's `[tools]` section."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmproc.config.schema import ToolEntry
from llmproc.errors import ProgramConfigError
from llmproc.tools.builtin import BUILTIN_TOOLS
from llmproc.tools.builtin.fd_tools import FD_TOOLS
from llmproc.tools.builtin.syscalls import exec_tool, fork, goto, spawn_tool
from llmproc.tools.toolset import Toolset, aliased, described

if TYPE_CHECKING:
    from llmproc.program import LLMProgram
    from llmproc.tools.base import Tool


def _syscall_tool(name: str, program: LLMProgram) -> Tool | None:
    linked = {n: link.description for n, link in program.linked_programs.items()}
    if name == "spawn":
        return spawn_tool(linked)
    if name == "exec":
        return exec_tool(linked)
    return {"fork": fork, "goto": goto}.get(name)


def build_toolset(program: LLMProgram) -> Toolset:
    tools: list[Tool] = []
    aliases: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    fd_enabled = program.config.file_descriptor.enabled
    for i, entry in enumerate(program.config.tools.enabled):
        name = entry.name if isinstance(entry, ToolEntry) else entry
        if name in ("spawn", "exec") and not program.linked_programs:
            raise ProgramConfigError(f"the {name!r} tool needs linked programs: add a [linked_programs] section",
                                     path=program.path, key=f"tools.enabled[{i}]")
        if name in FD_TOOLS and not fd_enabled:
            raise ProgramConfigError(f"the {name!r} tool needs file descriptors: add `enabled = true` to "
                                     "the [file_descriptor] section",
                                     path=program.path, key=f"tools.enabled[{i}]")
        tools.append(_syscall_tool(name, program) or FD_TOOLS.get(name) or BUILTIN_TOOLS[name])
        if isinstance(entry, ToolEntry):
            if entry.alias:
                aliases[name] = entry.alias
            if entry.description:
                descriptions[name] = entry.description
    if fd_enabled and FD_TOOLS["read_fd"] not in tools:  # an fd nobody can read would cut output silently
        tools.append(FD_TOOLS["read_fd"])
    toolset = Toolset(tools)
    if descriptions:
        toolset = described(toolset, descriptions)
    if aliases:
        toolset = aliased(toolset, aliases)
    return toolset
