"""A process's MCP servers as one toolset: started together, closed together.

    servers = McpServers.from_program(program)
    await servers.start()            # every server at once; MCPServerError if one fails
    toolset = servers.toolset        # combine with the builtin tools
    ...
    await servers.aclose()           # bounded; no child process is left

A server may change its tools while it runs (it announces it); `await servers.refresh()` before
a turn re-lists them and rebuilds the toolset, and `version` tells processes to pick it up.

Each server becomes a `Toolset` of `McpTool`s named `server__tool` (see `names`); what the
program's `[tools.mcp]` says is applied with the generic wrappers: `filtered` (an allow-list),
`described` (description overrides) and `aliased` (the exact name the model sees). Allow-list
entries use the server's own tool names; a name the server does not have is an error that
lists the names it does have.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import anyio
import mcp_types as types

from llmproc.config.schema import McpToolEntry
from llmproc.errors import MCPServerError, ProgramConfigError
from llmproc.tools.base import Tool, ToolContext, ToolOutput, current_progress_reporter
from llmproc.tools.mcp.config import ServerSpec, program_servers
from llmproc.tools.mcp.connection import DEFAULT_CALL_TIMEOUT_S, START_TIMEOUT_S, McpConnection
from llmproc.tools.mcp.names import assign_names
from llmproc.tools.mcp.resources import resource_tools
from llmproc.tools.mcp.results import input_schema
from llmproc.tools.toolset import Toolset, aliased, combined, described, filtered

if TYPE_CHECKING:
    from pathlib import Path

    from llmproc.program import LLMProgram

log = logging.getLogger(__name__)

Selection = Literal["all"] | Sequence[str | McpToolEntry]


class McpTool(Tool):
    """One tool of an MCP server. Calls go to the server under the tool's original name, so the
    name the model sees may be sanitized, prefixed or aliased freely."""

    def __init__(self, name: str, connection: McpConnection, tool: types.Tool):
        description = (tool.description or tool.title
                       or f"The {tool.name} tool of the MCP server {connection.name}.")
        super().__init__(name, description, input_schema(tool.input_schema))
        self.connection = connection
        self.server = connection.name
        self.mcp_name = tool.name
        self.annotations = tool.annotations
        hints = tool.annotations  # hints only, but the server's word is all there is
        self.read_only = bool(hints and (hints.read_only_hint or hints.idempotent_hint))

    async def call(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        return await self.connection.call(self.mcp_name, args, current_progress_reporter())


class McpServers:
    def __init__(self, specs: Mapping[str, ServerSpec], selection: Mapping[str, Selection], *,
                 call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S, start_timeout_s: float = START_TIMEOUT_S,
                 program_path: Path | None = None, resources: bool = False):
        self.connections = {name: McpConnection(spec, call_timeout_s=call_timeout_s,
                                                start_timeout_s=start_timeout_s)
                            for name, spec in specs.items()}
        self.selection = dict(selection)
        self.program_path = program_path
        self.resources = resources  # add list_mcp_resources / read_mcp_resource
        self._toolset: Toolset | None = None
        self.version = 0  # bumped when the toolset was rebuilt because a server changed its tools
        self._built_from: tuple[int, ...] = ()

    @classmethod
    def from_program(cls, program: LLMProgram, **options: Any) -> McpServers:
        """The servers named in the program's `[tools.mcp]` (not started)."""
        section = program.config.mcp
        options.setdefault("call_timeout_s", section.call_timeout_s if section else DEFAULT_CALL_TIMEOUT_S)
        options.setdefault("resources", section.resources if section else False)
        return cls(program_servers(program), program.config.tools.mcp, program_path=program.path, **options)

    @property
    def toolset(self) -> Toolset:
        if self._toolset is None:
            raise RuntimeError("start the MCP servers first: await servers.start()")
        return self._toolset

    async def start(self) -> Toolset:
        """Start every server concurrently and build the toolset. On any failure the servers that
        did start are stopped again and the error is raised (all failures in one message)."""
        errors: dict[str, MCPServerError] = {}

        async def start_one(connection: McpConnection) -> None:
            try:
                await connection.start()
            except MCPServerError as exc:
                errors[connection.name] = exc

        try:
            async with anyio.create_task_group() as tg:
                for connection in self.connections.values():
                    tg.start_soon(start_one, connection)
            if errors:
                first = next(iter(errors.values()))
                if len(errors) == 1:
                    raise first
                raise MCPServerError(f"{len(errors)} MCP servers did not start:\n\n" +
                                     "\n\n".join(str(e) for e in errors.values()),
                                     server=first.server, command=first.command,
                                     stderr_tail=first.stderr_tail)
            self._toolset = self._build()
            self._built_from = self._tool_versions()
        except BaseException:
            await self.aclose()
            raise
        return self._toolset

    async def refresh(self) -> Toolset:
        """The toolset, rebuilt if a server changed its tools since it was built. Allow-listed
        tools a server no longer has are left out with a warning, not an error: the run goes on."""
        for connection in self.connections.values():
            await connection.refresh_tools()
        versions = self._tool_versions()
        if versions != self._built_from:
            self._built_from = versions
            self._toolset = self._build(strict=False)
            self.version += 1
        return self.toolset

    def _tool_versions(self) -> tuple[int, ...]:
        return tuple(c.tools_version for c in self.connections.values())

    async def aclose(self) -> None:
        """Stop every server, concurrently; bounded (see `connection`)."""
        with anyio.CancelScope(shield=True):
            async with anyio.create_task_group() as tg:
                for connection in self.connections.values():
                    tg.start_soon(connection.aclose)

    async def __aenter__(self) -> McpServers:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _build(self, strict: bool = True) -> Toolset:
        # Names over every tool of every server, so that a tool's name does not depend on which
        # other tools the program picked.
        names = assign_names((server, t.name) for server in self.selection
                             for t in self.connections[server].tools)
        toolsets = []
        for server, selection in self.selection.items():
            connection = self.connections[server]
            ts = Toolset((McpTool(names[server, t.name], connection, t) for t in connection.tools),
                         label=f"MCP server {server!r}")
            if selection == "all":
                toolsets.append(ts)
                continue
            available = [t.name for t in connection.tools]
            picked, descriptions, aliases = set(), {}, {}
            for i, entry in enumerate(selection):
                name = entry.name if isinstance(entry, McpToolEntry) else entry
                if name not in available and not strict:
                    log.warning("the MCP server %r no longer has the tool %r (tools.mcp.%s[%d]); "
                                "it is left out", server, name, server, i)
                    continue
                if name not in available:
                    raise ProgramConfigError(
                        f"the MCP server {server!r} has no tool {name!r}; "
                        f"its tools: {', '.join(available) or 'none'}",
                        path=self.program_path, key=f"tools.mcp.{server}[{i}]")
                shown = names[server, name]
                picked.add(shown)
                if isinstance(entry, McpToolEntry) and entry.description:
                    descriptions[shown] = entry.description
                if isinstance(entry, McpToolEntry) and entry.alias:
                    aliases[shown] = entry.alias
            toolsets.append(aliased(described(filtered(ts, picked), descriptions), aliases))
        if self.resources:
            toolsets.append(Toolset(resource_tools({s: self.connections[s] for s in self.selection}),
                                    label="MCP resources"))
        return combined(*toolsets, label="MCP servers")
