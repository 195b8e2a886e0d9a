"""The kernel side of the system calls: spawn, fork, goto, exec, and the limits of the tree.

The tools in `llmproc.tools.builtin.syscalls` reach these functions through the process's tool
context. A failure the model should hear about is raised as `ToolError` and becomes an error
result. Limits are checked before any child exists, so a program that spawns itself stops at
`max_depth` instead of running away. Two limits hold for a whole tree: `max_processes_per_tree`
(checked before a child is made) and `max_model_calls_per_run` (every process's model calls in one
run of the top-level process, counted from TurnStart events and checked after each tool turn).
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from llmproc.errors import BudgetExceeded, ChildLimitReached, LLMProcError, ToolError
from llmproc.fd.render import preloaded_notice
from llmproc.messages import Message, ToolCall, ToolResult
from llmproc.process.events import TurnStart
from llmproc.process.history import History
from llmproc.tools.base import SimpleToolContext

if TYPE_CHECKING:
    from llmproc.fd.manager import FileDescriptor
    from llmproc.process.process import LLMProcess

# The tool call being executed (each concurrent call runs in its own context copy).
current_call: contextvars.ContextVar[ToolCall | None] = contextvars.ContextVar("llmproc_call", default=None)


@dataclass
class ProcessToolContext(SimpleToolContext):
    """The context the process hands to its tools: paths, fd table, and the system calls."""

    process: Any = field(default=None, repr=False)

    async def spawn(self, program_name: str, prompt: str, fds: Sequence[str]) -> str:
        return await spawn(self.process, program_name, prompt, fds)

    async def fork(self, prompts: Sequence[str]) -> str:
        return await fork_tool_call(self.process, prompts)

    async def goto(self, message_id: str, message: str) -> str:
        return goto(self.process, message_id, message)

    async def exec(self, program_name: str, message: str | None) -> str:
        return await exec_program(self.process, program_name, message)


# -- limits ---------------------------------------------------------------------------------------
def lineage(process: LLMProcess) -> list[LLMProcess]:
    chain: list[LLMProcess] = []
    node: LLMProcess | None = process
    while node is not None:
        chain.append(node)
        node = node.parent
    return chain


def check_new_children(parent: LLMProcess, count: int) -> None:
    """Refuse children beyond the depth, children, tree size or cost limits of any process up the tree."""
    chain = lineage(parent)
    depth_limit = min(p.program.config.limits.max_depth for p in chain)
    if parent.depth + 1 > depth_limit:
        raise ChildLimitReached("max_depth", depth_limit,
                                f"max_depth={depth_limit} reached: this process is at depth {parent.depth} and "
                                "cannot start children; do the work yourself")
    limit = parent.program.config.limits.max_children
    if len(parent.children) + count > limit:
        raise ChildLimitReached("max_children", limit,
                                f"max_children={limit} reached: this process has {len(parent.children)} "
                                f"children and asked for {count} more")
    tree_limit = min(p.program.config.limits.max_processes_per_tree for p in chain)
    size = tree_size(chain[-1])
    if size + count > tree_limit:
        raise ChildLimitReached("max_processes_per_tree", tree_limit,
                                f"max_processes_per_tree={tree_limit} reached: the process tree has {size} "
                                f"processes and {count} more were asked for; do the work yourself")
    check_cost(parent)


def check_cost(process: LLMProcess) -> None:
    """Raise BudgetExceeded when the cost of any subtree up the lineage reached its limit, or the
    tree used up its model calls for this run. The turn loop calls this after each tool turn."""
    chain = lineage(process)
    for node in chain:
        limit = node.program.config.limits.max_cost_usd
        if limit is not None and node.cost_usd is not None and node.cost_usd >= limit:
            raise BudgetExceeded("max_cost_usd", limit,
                                 f"max_cost_usd={limit} of process {node.pid} reached (spent ${node.cost_usd:.4f})")
    calls_limit = min(p.program.config.limits.max_model_calls_per_run for p in chain)
    calls = _calls_of(chain[-1]).model_calls
    if calls >= calls_limit:
        raise BudgetExceeded("max_model_calls_per_run", calls_limit,
                             f"max_model_calls_per_run={calls_limit} reached: the process tree made {calls} "
                             "model calls in this run (raise it in [limits])")


def tree_size(root: LLMProcess) -> int:
    """Processes in the tree of `root`, `root` and finished children included."""
    size, stack = 0, [root]
    while stack:
        node = stack.pop()
        size += 1
        stack.extend(node.children)
    return size


@dataclass
class _Calls:
    model_calls: int = 0

    def on_root_event(self, event: object) -> None:
        if isinstance(event, TurnStart):  # turn 1: a new top-level run starts the count again
            self.model_calls = 1 if event.turn == 1 else self.model_calls + 1

    def on_event(self, event: object) -> None:
        if isinstance(event, TurnStart):
            self.model_calls += 1


_tree_calls: weakref.WeakKeyDictionary[LLMProcess, _Calls] = weakref.WeakKeyDictionary()


def _calls_of(root: LLMProcess) -> _Calls:
    """The model-call count of `root`'s tree. Counting starts on first use: the root's calls of
    this run so far are read from its history (assistant messages since the last user text)."""
    calls = _tree_calls.get(root)
    if calls is None:
        made = 0
        for message in reversed(root.history):
            if message.role == "assistant":
                made += 1
            elif message.text and not message.tool_results:
                break
        calls = _tree_calls[root] = _Calls(made)
        root.subscribe(calls.on_root_event)
    return calls


def count_model_calls(child: LLMProcess) -> None:
    """Count `child`'s model calls in its tree's total (spawn and fork call this for each child)."""
    child.subscribe(_calls_of(lineage(child)[-1]).on_event)


def _link(process: LLMProcess, program_name: str):  # -> LinkedProgram
    link = process.program.linked_programs.get(program_name)
    if link is None:
        names = ", ".join(process.program.linked_programs) or "none"
        raise ToolError(f"unknown program {program_name!r}; linked programs: {names}")
    return link


# -- spawn ----------------------------------------------------------------------------------------
async def spawn(parent: LLMProcess, program_name: str, prompt: str, fds: Sequence[str] = ()) -> str:
    link = _link(parent, program_name)
    check_new_children(parent, 1)
    handed = _fds_to_hand(parent, fds)  # before the child exists: a bad id starts nothing
    child = await parent.new_child(link.program)
    count_model_calls(child)
    try:
        if handed:
            table = child.fd_table
            if table is None:
                raise ToolError(f"program {program_name!r} has no file descriptors enabled; it cannot take fds")
            table.adopt(handed)
            # The child learns which fds it starts with (ids may have been renumbered).
            prompt = preloaded_notice(table.select(table.ids), read_tool=table.read_tool) + "\n\n" + prompt
        _track(parent, child)
        try:
            result = await child.run(prompt)
        except LLMProcError as exc:  # a child's limit or provider failure is the parent's tool error
            raise ToolError(f"child process {child.pid} ({program_name}) failed: {exc}") from None
        return result.answer
    finally:
        await child.release()


def _fds_to_hand(parent: LLMProcess, fds: Sequence[str]) -> list[FileDescriptor]:
    if not fds:
        return []
    if parent.fd_table is None:
        raise ToolError("fds were given but this process has no file descriptors enabled")
    try:
        return parent.fd_table.select(list(fds))
    except LLMProcError as exc:
        raise ToolError(str(exc)) from None


def _track(parent: LLMProcess, child: LLMProcess) -> None:
    """Remember which children a tool call started, so a cancelled call keeps their output."""
    call = current_call.get()
    if call is not None:
        parent.call_children.setdefault(call.id, []).append(child)


# -- fork -----------------------------------------------------------------------------------------
def fork_copy(parent: LLMProcess) -> LLMProcess:
    """A copy of `parent` as its child: same program, tools and provider; shared history prefix;
    its own fd table. Cheap: nothing is copied in proportion to the history."""
    child = parent.clone_as_child()
    count_model_calls(child)
    child.history = parent.history.fork()
    if parent.fd_table is not None:
        child.fd_table = parent.fd_table.copy()
    return child


def _copy_results(call: ToolCall, calls: Sequence[ToolCall], index: int, count: int,
                  parent: LLMProcess, child: LLMProcess, prompt: str) -> Message:
    results: list[ToolResult] = []
    for other in calls:
        if other.id == call.id:
            text = (f"You are copy {index} of {count} (process {child.pid}), forked from process {parent.pid}. "
                    f"Your task: {prompt}\nYour final answer is returned to process {parent.pid}.")
            results.append(ToolResult(other.id, text, False, other.name))
        else:
            results.append(ToolResult(other.id, "not run in this fork copy", True, other.name))
    return Message("user", tuple(results))


async def fork_tool_call(parent: LLMProcess, prompts: Sequence[str]) -> str:
    call = current_call.get()
    last = parent.history[-1] if len(parent.history) else None
    if call is None or last is None or call not in last.tool_calls:
        raise ToolError("fork can only be called as a tool by the model")
    if not prompts:
        raise ToolError("fork needs at least one prompt")
    check_new_children(parent, len(prompts))
    copies: list[LLMProcess] = []
    for i, prompt in enumerate(prompts, start=1):
        child = fork_copy(parent)
        child.append(_copy_results(call, last.tool_calls, i, len(prompts), parent, child, prompt))
        _track(parent, child)
        copies.append(child)
    answers: list[str] = [""] * len(copies)

    async def run_copy(i: int, child: LLMProcess) -> None:
        try:
            answers[i] = (await child.resume()).answer
        except LLMProcError as exc:
            answers[i] = f"(failed: {exc})"
        finally:
            await child.release()

    async with anyio.create_task_group() as group:
        for i, child in enumerate(copies):
            group.start_soon(run_copy, i, child)
    return "\n\n".join(f"<copy index=\"{i}\" pid=\"{c.pid}\">\n{a}\n</copy>"
                       for i, (c, a) in enumerate(zip(copies, answers), start=1))


# -- goto -----------------------------------------------------------------------------------------
def goto(process: LLMProcess, message_id: str, message: str) -> str:
    targets = [m.id for m in process.history if m.id and m.role == "user" and m.text and not m.tool_results]
    if message_id not in targets:
        raise ToolError(f"cannot go to {message_id!r}: choose the id of a user message: {', '.join(targets)}")
    position = process.history.index_of(message_id)
    process.history.truncate(position)
    process.append(Message.user(message))
    process.history_rewritten(position)
    return f"went back to {message_id}"


# -- exec -----------------------------------------------------------------------------------------
async def exec_program(process: LLMProcess, program_name: str, message: str | None) -> str:
    link = _link(process, program_name)
    text = message or link.program.config.prompt.user
    if not text:
        raise ToolError(f"exec needs a message: program {program_name!r} has no [prompt] user message")
    await process.replace_program(link.program)
    process.history = History()
    process.append(Message.user(text))
    process.history_rewritten(0)
    return f"now running {program_name}"
