"""Toolsets: named collections of tools, and the small wrappers that reshape them.

Every tool source (builtins, an MCP server, linked programs) becomes a `Toolset`; what a
program file says about tools (allow-lists, aliases, description overrides) is applied with
`filtered`, `aliased` and `described`, and `combined` merges the results. Wrappers return new
toolsets and never change the tools they wrap: a renamed tool still runs as its original,
which matters for tools that use their own name (an MCP tool calls its server by it).

`Toolset.call` is where failures become results: it never raises for a tool problem, only
lets cancellation (and other BaseExceptions) through.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from llmproc.errors import DuplicateToolError, ToolError
from llmproc.providers.base import ToolSpec
from llmproc.tools.base import Tool, ToolContext, ToolOutput, check_tool_name

log = logging.getLogger(__name__)


class _ToolView(Tool):
    """A tool under another name and/or description; calls go to the original."""

    def __init__(self, inner: Tool, *, name: str | None = None, description: str | None = None):
        super().__init__(name or inner.name, inner.description if description is None else description,
                         inner.parameters)
        self.inner = inner

    @property
    def original_name(self) -> str:
        return self.inner.original_name if isinstance(self.inner, _ToolView) else self.inner.name

    @property
    def read_only(self) -> bool:
        return self.inner.read_only

    async def call(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        return await self.inner.call(args, ctx)


class Toolset:
    """Tools by the name the model sees, in order. `label` names the source in error messages."""

    def __init__(self, tools: Iterable[Tool] = (), *, label: str | None = None):
        self.label = label
        self._tools: dict[str, Tool] = {}
        for t in tools:
            if t.name in self._tools:
                raise DuplicateToolError(
                    f"tool name {t.name!r} is used twice in {self._where()}: "
                    f"{_describe(self._tools[t.name])} and {_describe(t)}")
            self._tools[t.name] = t

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def specs(self) -> list[ToolSpec]:
        return [t.spec() for t in self._tools.values()]

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __repr__(self) -> str:
        return f"<Toolset {self.label!r} {self.names}>"

    def _where(self) -> str:
        return f"toolset {self.label!r}" if self.label else "a toolset"

    async def call(self, name: str, args: Mapping[str, Any] | str | None, ctx: ToolContext) -> ToolOutput:
        """Run a tool. Every tool problem comes back as ToolOutput(is_error=True)."""
        t = self._tools.get(name)
        if t is None:
            available = ", ".join(self._tools) or "none"
            return ToolOutput(f"unknown tool {name!r}; available tools: {available}", is_error=True)
        parsed = _parse_args(name, args)
        if isinstance(parsed, ToolOutput):
            return parsed
        try:
            return await t.call(parsed, ctx)
        except ToolError as err:
            return ToolOutput(str(err) or type(err).__name__, is_error=True)
        except Exception as err:  # a bug or an unexpected failure inside the tool
            log.debug("tool %r raised", name, exc_info=True)
            detail = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            return ToolOutput(f"tool {name} failed: {detail}", is_error=True)


def _parse_args(name: str, args: Mapping[str, Any] | str | None) -> dict[str, Any] | ToolOutput:
    # Models occasionally send the arguments as a JSON string, or nothing at all.
    if args is None or args == "":
        return {}
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError as err:
            return ToolOutput(f"invalid arguments for {name}: not valid JSON ({err})", is_error=True)
    if not isinstance(args, Mapping):
        return ToolOutput(f"invalid arguments for {name}: expected a JSON object, got "
                          f"{type(args).__name__}", is_error=True)
    return dict(args)


def _describe(t: Tool) -> str:
    if isinstance(t, _ToolView) and t.original_name != t.name:
        return f"{t.original_name!r} renamed to {t.name!r}"
    return repr(t.name)


def _check_known(toolset: Toolset, names: Iterable[str], what: str) -> None:
    unknown = [n for n in names if n not in toolset]
    if unknown:
        raise ValueError(f"{what} names unknown tool(s) {', '.join(map(repr, unknown))} in "
                         f"{toolset._where()}; available: {', '.join(toolset.names) or 'none'}")


def aliased(toolset: Toolset, aliases: Mapping[str, str]) -> Toolset:
    """Show tools under other names: `aliases` maps original name -> name the model sees."""
    _check_known(toolset, aliases, "alias")
    tools = []
    for t in toolset:
        alias = aliases.get(t.name)
        tools.append(_ToolView(t, name=check_tool_name(alias)) if alias and alias != t.name else t)
    return Toolset(tools, label=toolset.label)


def described(toolset: Toolset, descriptions: Mapping[str, str]) -> Toolset:
    """Replace the descriptions of some tools (keyed by the name the model sees)."""
    _check_known(toolset, descriptions, "description override")
    return Toolset(
        (_ToolView(t, description=descriptions[t.name]) if t.name in descriptions else t for t in toolset),
        label=toolset.label,
    )


def filtered(toolset: Toolset, allowed: Collection[str], *, strict: bool = True) -> Toolset:
    """Keep only the tools named in `allowed`, in the toolset's order. With `strict`, a name
    that matches no tool is an error (a typo in a program file should not pass silently)."""
    if strict:
        _check_known(toolset, allowed, "allow-list")
    return Toolset((t for t in toolset if t.name in allowed), label=toolset.label)


def combined(*toolsets: Toolset, label: str | None = None) -> Toolset:
    """Merge toolsets; a name present in two of them is an error naming both sources."""
    seen: dict[str, tuple[str, Tool]] = {}
    tools: list[Tool] = []
    for index, ts in enumerate(toolsets, start=1):
        source = f"toolset {ts.label!r}" if ts.label else f"toolset #{index}"
        for t in ts:
            if t.name in seen:
                other_source, other = seen[t.name]
                raise DuplicateToolError(
                    f"tool name {t.name!r} is defined twice: {_describe(other)} from "
                    f"{other_source} and {_describe(t)} from {source}; "
                    "rename one with an alias or leave one out")
            seen[t.name] = (source, t)
            tools.append(t)
    return Toolset(tools, label=label)
