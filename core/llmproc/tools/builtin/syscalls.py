"""The system-call tools: spawn, fork, goto, exec.

They only describe the calls to the model; the kernel work happens in the process, reached
through the tool context (`SyscallContext`), so tools never import the process package.
spawn and exec list the linked programs in their schema (an enum) and their description.
"""

# No `from __future__ import annotations`: the enum of program names is a runtime type.
from collections.abc import Mapping, Sequence
from typing import Literal, Optional, Protocol

from llmproc.tools.base import Tool, ToolContext, tool


class SyscallContext(ToolContext, Protocol):
    async def spawn(self, program_name: str, prompt: str, fds: Sequence[str]) -> str: ...
    async def fork(self, prompts: Sequence[str]) -> str: ...
    async def goto(self, message_id: str, message: str) -> str: ...
    async def exec(self, program_name: str, message: Optional[str]) -> str: ...


def _lead(fn: object, paragraphs: int) -> str:
    """The first paragraphs of a function's docstring, on one line (the tool description)."""
    doc = getattr(fn, "__doc__", None) or ""
    return " ".join(" ".join(p.split()) for p in doc.split("\n\n")[:paragraphs])


def _programs_text(linked: Mapping[str, str]) -> str:
    lines = [f"- {name}: {text}" if text else f"- {name}" for name, text in linked.items()]
    return "Programs:\n" + "\n".join(lines)


def _names_type(linked: Mapping[str, str]) -> object:
    return Literal[tuple(linked)] if linked else str


def spawn_tool(linked: Mapping[str, str]) -> Tool:
    """The spawn tool for a program whose linked programs are `linked` (name -> description)."""

    async def spawn(program_name: str, prompt: str, ctx: SyscallContext, fds: Optional[list[str]] = None) -> str:
        """Start a child process from a linked program, send it a prompt, and return its answer.

        Several spawn calls in one turn run at the same time. The child starts with a fresh
        conversation: put everything it needs into the prompt (or pass file descriptors).

        Args:
            program_name: Which linked program to start.
            prompt: The task for the child, complete and self-contained.
            fds: File descriptor ids (like fd:1) the child starts with.
        """
        return await ctx.spawn(program_name, prompt, fds or [])

    spawn.__annotations__["program_name"] = _names_type(linked)
    return tool(spawn, description=_lead(spawn, 2) + "\n\n" + _programs_text(linked))


@tool
async def fork(prompts: list[str], ctx: SyscallContext) -> str:
    """Copy this process, whole conversation included, once per prompt; the copies work at the same time and their final answers come back here as this tool's result.

    Args:
        prompts: One task per copy; each copy continues from this point knowing its task.
    """
    return await ctx.fork(prompts)


@tool
async def goto(message_id: str, message: str, ctx: SyscallContext) -> str:
    """Go back to an earlier point of this conversation: the message with `message_id` and everything after it are forgotten, and the conversation continues from there with `message`.

    Use it to retry from a better point or to compact a long conversation: put into `message`
    what you want to keep (a summary, the next step). Message ids are shown as [message m3] at
    the start of user messages.

    Args:
        message_id: The id of a user message, such as m3.
        message: The new user message that replaces it.
    """
    return await ctx.goto(message_id, message)


def exec_tool(linked: Mapping[str, str]) -> Tool:
    """The exec tool for a program whose linked programs are `linked`."""

    async def exec(program_name: str, ctx: SyscallContext, message: Optional[str] = None) -> str:
        """Replace this process's program with a linked program (its system prompt, tools and model), keeping the process id. The conversation starts over with `message`.

        Args:
            program_name: Which linked program to become.
            message: The first user message for the new program (what to carry forward).
        """
        return await ctx.exec(program_name, message)

    exec.__annotations__["program_name"] = _names_type(linked)
    return tool(exec, description=_lead(exec, 1) + "\n\n" + _programs_text(linked))
