"""`Tool.read_only`: which tools may run again after a crash cut a call off (see
`restore(rerun_read_only=True)`): the builtins that only read, Python tools that say so, and the
wrappers that rename or redescribe a tool."""

from __future__ import annotations

from llmproc.tools import Toolset, tool
from llmproc.tools.base import FunctionTool, Tool
from llmproc.tools.builtin import BUILTIN_TOOLS
from llmproc.tools.builtin.fd_tools import FD_TOOLS
from llmproc.tools.builtin.syscalls import exec_tool, fork, goto, spawn_tool
from llmproc.tools.toolset import aliased, described


def look(key: str) -> str:
    """Look a key up."""
    return key


def test_the_builtins_that_only_read_are_read_only() -> None:
    assert {name: t.read_only for name, t in BUILTIN_TOOLS.items()} == {
        "calculator": True, "read_file": True, "list_dir": True, "glob": True, "grep": True}
    assert FD_TOOLS["read_fd"].read_only and not FD_TOOLS["fd_to_file"].read_only
    linked = {"helper": "helps"}
    assert not any(t.read_only for t in (fork, goto, spawn_tool(linked), exec_tool(linked)))


def test_python_tools_say_so_and_default_to_not() -> None:
    assert Tool.read_only is False
    assert not tool(look).read_only and not FunctionTool(look).read_only
    assert tool(look, read_only=True).read_only and FunctionTool(look, read_only=True).read_only
    assert tool(read_only=True)(look).read_only and not tool(name="peek")(look).read_only


def test_renamed_and_redescribed_tools_keep_the_flag_of_the_tool_they_wrap() -> None:
    ts = Toolset([tool(look, read_only=True), tool(look, name="poke")])
    views = described(aliased(ts, {"look": "peek", "poke": "prod"}), {"peek": "Peek.", "prod": "Prod."})
    assert {t.name: (t.read_only, type(t).__name__) for t in views} == {
        "peek": (True, "_ToolView"), "prod": (False, "_ToolView")}
