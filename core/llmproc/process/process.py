"""`LLMProcess`: a running program. It owns the history, the provider client and the tools.

    process = await program.start()
    result = await process.run("Hello!")
    print(process.get_last_message())
    await process.aclose()

States: IDLE (ready), RUNNING (one run at a time), CLOSED (client released). Misuse, such as
running a closed process or two runs at once, is a clear error.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import anyio

from llmproc.errors import BudgetExceeded, ChildLimitReached, DuplicateToolError, LLMProcError
from llmproc.fd import FDTable, capture_references, offload_output, page_user_input
from llmproc.messages import Message, TextPart, ToolCall, ToolResult, Usage
from llmproc.process.events import Event, Subscriber, ToolProgress
from llmproc.process.history import History
from llmproc.process import state as saved_state
from llmproc.process.loop import TurnLoop
from llmproc.process.result import RunResult
from llmproc.process.syscalls import ProcessToolContext
from llmproc.process.tracing import start_run
from llmproc.prompt import visible_tool_name
from llmproc.providers.base import Provider, ToolSpec
from llmproc.tools.base import Tool, ToolOutput, reporting_progress
from llmproc.tools.toolset import Toolset, combined

if TYPE_CHECKING:
    from llmproc.program import LLMProgram
    from llmproc.tools.mcp import McpServers

log = logging.getLogger("llmproc.process")


class ProcessState(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    CLOSED = "closed"


_pids = itertools.count(1)


class LLMProcess:
    def __init__(self, program: LLMProgram, provider: Provider, toolset: Toolset, *,
                 system_prompt: str, cwd: Path | None = None, parent: LLMProcess | None = None):
        self.pid = next(_pids)
        self.parent = parent
        self.depth = parent.depth + 1 if parent else 0
        self.children: list[LLMProcess] = []
        self.call_children: dict[str, list[LLMProcess]] = {}  # tool call id -> children it started
        self.program = program
        self.provider = provider
        self.toolset = toolset
        self.system_prompt = system_prompt
        self.tool_specs: Sequence[ToolSpec] = tuple(toolset.specs())
        self.history = History()
        self.usage = Usage()
        self.cost_usd: float | None = 0.0
        # False for a copy a front end made (llmproc-mcp's fork): its own row counts what it spends
        self.bills_parent = True
        self.state = ProcessState.IDLE
        self.cwd = (cwd or Path.cwd()).resolve()
        roots = program.allowed_roots or (self.cwd,)
        fd_config = program.config.file_descriptor
        self.tool_context = ProcessToolContext(allowed_roots=list(roots), cwd=self.cwd, process=self)
        self.fd_table = FDTable.from_config(fd_config) if fd_config.enabled else None
        self.mcp_servers: McpServers | None = None  # set by create(); closed by aclose()
        # The tools shown: local ones plus those of MCP servers (own, or a parent's for copies),
        # which may change while the process lives (see refresh_tools).
        self._local_tools: Toolset = toolset
        self._tool_servers: McpServers | None = None
        self._tools_version = 0
        self._subscribers: list[Subscriber] = []
        self.next_message_id = 1  # message ids are m1, m2, ...; a restore continues the count
        self.saved_pid: int | None = None  # a restored stand-in child: the pid it had (add_stand_in)
        self._owns_provider = True
        self._rewritten_at: int | None = None  # set by goto/exec: where the history was rewritten
        # Awaited with "model", "tool" or "results" where a crash-safe caller saves (see loop.py);
        # set by the caller, never copied to children or fork copies.
        self.on_checkpoint: Callable[[LLMProcess, str], Awaitable[None]] | None = None
        self._loop: TurnLoop | None = None  # the run in progress

    @classmethod
    async def create(cls, program: LLMProgram, *, provider: Provider | None = None,
                     tools: Sequence[Tool] = (), cwd: str | Path | None = None,
                     include_env: bool = True, parent: LLMProcess | None = None) -> Self:
        """Build the provider client (unless one is given, e.g. a ScriptedProvider) and the tools.

        `tools` adds Python tools (see `llmproc.tools.tool`) to the program's enabled ones.
        """
        provider, local, toolset, prompt, mcp_servers = await _runtime(program, provider, tools, include_env)
        process = cls(program, provider, toolset, system_prompt=prompt, cwd=Path(cwd) if cwd else None,
                      parent=parent)
        process.mcp_servers = mcp_servers
        process._show_tools_of(local, mcp_servers)
        return process

    # -- events ----------------------------------------------------------------------------
    def subscribe(self, subscriber: Subscriber) -> Any:
        """Call `subscriber(event)` for every event; returns a function that unsubscribes."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def emit(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:  # a broken display must not break the run
                log.exception("event subscriber %r failed on %r", subscriber, event)

    # -- history -----------------------------------------------------------------------------
    def append(self, message: Message) -> Message:
        """Add a message to the history with the next stable id (ids are what goto targets)."""
        message = Message(message.role, message.parts, f"m{self.next_message_id}")
        self.next_message_id += 1
        self.history.append(message)
        if message.role == "assistant" and self.fd_table is not None \
                and self.program.config.file_descriptor.enable_references:
            capture_references(self.fd_table, message.text, source=f"reference in message {message.id}")
        return message

    @property
    def fd_table(self) -> FDTable | None:
        """The file descriptors (None unless `[file_descriptor] enabled`). Fork: give the copy
        `fd_table.copy()`; spawn: `child.fd_table.adopt(parent.fd_table.select(ids))`."""
        return self.tool_context.fd_table

    @fd_table.setter
    def fd_table(self, table: FDTable | None) -> None:
        self.tool_context.fd_table = table
        if table is not None:  # hints in fd results name the tools as this program shows them
            table.read_tool = visible_tool_name(self.program, "read_fd")
            table.write_tool = visible_tool_name(self.program, "fd_to_file")

    def _add_user_text(self, text: str) -> None:
        fd = self.program.config.file_descriptor
        if self.fd_table is not None and fd.page_user_input:
            text = page_user_input(self.fd_table, text, limit=fd.max_input_chars)
        last = self.history[-1] if self.history else None
        if last is not None and last.role == "user":
            # After a run stopped by a limit the history ends with tool results: one user turn.
            self.history.replace_last(Message("user", (*last.parts, TextPart(text)), last.id))
        else:
            self.append(Message.user(text))

    def get_last_message(self) -> str:
        """The text of the last assistant message ("" when there is none)."""
        return next((m.text for m in reversed(self.history) if m.role == "assistant"), "")

    def add_usage(self, usage: Usage, cost: float | None) -> None:
        """Count a model call's usage here and in every ancestor (totals cover the subtree)."""
        node: LLMProcess | None = self
        while node is not None:
            node.usage += usage
            node.cost_usd = None if cost is None or node.cost_usd is None else node.cost_usd + cost
            node = node.parent if node.bills_parent else None

    # -- saving and restoring (logic in process/state.py) ----------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """This process's state as a JSON-serializable dict, for `LLMProcess.restore` or a store."""
        return saved_state.snapshot(self)

    @classmethod
    async def restore(cls, state: dict[str, Any], *, program: LLMProgram | None = None,
                      allow_changed_program: bool = False, provider: Provider | None = None,
                      tools: Sequence[Tool] = (), cwd: str | Path | None = None,
                      rerun_read_only: bool = False) -> Self:
        """A new idle process continuing `state`; it sends the request the original would have
        sent next. See `llmproc.process.state.restore` for the options."""
        return await saved_state.restore(cls, state, program=program, allow_changed_program=allow_changed_program,
                                         provider=provider, tools=tools, cwd=cwd, rerun_read_only=rerun_read_only)

    @property
    def finished_results(self) -> tuple[ToolResult, ...]:
        """The results of the running turn's tool calls that finished so far, in call order."""
        return self._loop.finished_results if self._loop is not None else ()

    # -- running -----------------------------------------------------------------------------
    async def call_tool(self, call: ToolCall) -> ToolOutput:
        """Run a tool call; a long output comes back as a preview of the fd now holding it."""
        return self.store_long_output(call, await self.run_tool(call))

    async def run_tool(self, call: ToolCall) -> ToolOutput:
        """Run a tool call, its progress reported as events; the output as the tool gave it."""
        def progress(done: float, total: float | None, message: str | None) -> None:
            self.emit(ToolProgress(call, done, total, message))

        with reporting_progress(progress):
            return await self.toolset.call(call.name, call.arguments, self.tool_context)

    def store_long_output(self, call: ToolCall, output: ToolOutput) -> ToolOutput:
        """With fds enabled, an output over max_direct_output_chars becomes an fd and its preview
        (unless it is `bounded` already: a read of an fd)."""
        if self.fd_table is not None and not output.bounded:
            content = offload_output(self.fd_table, output.content, source=f"output of {call.name}")
            if content is not output.content:
                output = dataclasses.replace(output, content=content)
        return output

    async def run(self, prompt: str | None = None, *, stream: bool | None = None,
                  max_turns: int | None = None) -> RunResult:
        """Send `prompt` (default: the program's `[prompt] user`) and run until the model answers.

        Raises BudgetExceeded (max_turns, timeout_s, max_cost_usd) and ProviderError; either way
        the history stays consistent and `run()` can be called again.
        """
        if self.state is ProcessState.CLOSED:
            raise LLMProcError("this process is closed; start a new one with `await program.start()`")
        if self.state is ProcessState.RUNNING:
            raise LLMProcError("this process is already running; await the current run first")
        text = prompt if prompt is not None else self.program.config.prompt.user
        if text is None:
            raise ValueError("run() needs a prompt (or a [prompt] user message in the program)")
        self.state = ProcessState.RUNNING
        self._add_user_text(text)
        return await self._drive(stream, max_turns, text)

    async def resume(self, *, stream: bool | None = None, max_turns: int | None = None) -> RunResult:
        """Run from the history as it is (a fork copy continues after its fork call's result)."""
        if self.state is not ProcessState.IDLE:
            raise LLMProcError(f"process {self.pid} is {self.state.value}; it cannot resume now")
        self.state = ProcessState.RUNNING
        return await self._drive(stream, max_turns)

    async def _drive(self, stream: bool | None, max_turns: int | None, prompt: str | None = None) -> RunResult:
        params, limits = self.program.config.parameters, self.program.config.limits
        loop = self._loop = TurnLoop(self, stream=stream if stream is not None else bool(params.stream),
                                     max_turns=max_turns or limits.max_turns)
        loop.trace = start_run(self, prompt)  # spans of this run (process/tracing.py); a no-op when off
        try:
            with loop.trace:
                if limits.timeout_s is None:
                    await loop.run()
                else:
                    try:
                        with anyio.fail_after(limits.timeout_s):
                            await loop.run()
                    except TimeoutError:
                        raise BudgetExceeded("timeout_s", limits.timeout_s,
                                             f"timeout_s={limits.timeout_s} reached before a final answer") from None
        finally:
            loop.finish()
            self._loop = None
            self.state = ProcessState.IDLE
        return loop.result()

    async def aclose(self) -> None:
        if self.state is not ProcessState.CLOSED:
            self.state = ProcessState.CLOSED
            try:
                if self._owns_provider:
                    await self.provider.aclose()
            finally:
                if self.mcp_servers is not None:  # bounded; leaves no server process behind
                    await self.mcp_servers.aclose()

    async def __aenter__(self) -> LLMProcess:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the process tree (see process/syscalls.py) ----------------------------------------------
    async def new_child(self, program: LLMProgram) -> LLMProcess:
        """A child running `program`: its own history, tools and fd table. The provider client is
        shared when the child runs this very program (nothing mutable lives in it)."""
        if program is self.program:
            return self.clone_as_child()
        child = await LLMProcess.create(program, cwd=self.cwd, parent=self)
        self.children.append(child)
        return child

    def clone_as_child(self) -> LLMProcess:
        child = LLMProcess(self.program, self.provider, self.toolset, system_prompt=self.system_prompt,
                           cwd=self.cwd, parent=self)
        child._owns_provider = False
        child._local_tools, child._tool_servers = self._local_tools, self._tool_servers
        child._tools_version = self._tools_version  # the toolset it got is the parent's current one
        child.next_message_id = self.next_message_id
        self.children.append(child)
        return child

    def add_stand_in(self, saved_pid: int | None) -> LLMProcess:
        """A closed child that only remembers the pid it had (`saved_pid`): a restored process
        keeps one per child it had started, so that max_children still counts them."""
        child = self.clone_as_child()
        child.state = ProcessState.CLOSED
        child.saved_pid = saved_pid
        return child

    async def fork(self) -> LLMProcess:
        """Python API: a copy of this idle process (history shared, fd table copied) as a child."""
        from llmproc.process.syscalls import check_new_children, fork_copy

        if self.state is not ProcessState.IDLE:
            raise LLMProcError(f"process {self.pid} is {self.state.value}; fork it when it is idle")
        try:
            check_new_children(self, 1)
        except ChildLimitReached as exc:  # a limit of the tree, not a tool's failure, for a Python caller
            raise BudgetExceeded(exc.limit, exc.value, str(exc)) from None
        return fork_copy(self)

    async def release(self) -> None:
        """A finished child lets go of its clients; its history stays readable."""
        await self.aclose()

    async def replace_program(self, program: LLMProgram) -> None:
        """exec: become `program` (prompt, tools, model); the pid and the fd table stay."""
        provider, local, toolset, prompt, mcp_servers = await _runtime(program, None, (), True)
        old_provider, owned, old_mcp = self.provider, self._owns_provider, self.mcp_servers
        self.program, self.provider, self.toolset = program, provider, toolset
        self._show_tools_of(local, mcp_servers)
        self.system_prompt, self.tool_specs = prompt, tuple(toolset.specs())
        self.mcp_servers, self._owns_provider = mcp_servers, True
        self.tool_context.allowed_roots = list(program.allowed_roots or (self.cwd,))  # the new program's roots
        self.fd_table = self.fd_table  # the same fds, their hints now in the new program's tool names
        if owned:
            await old_provider.aclose()
        if old_mcp is not None:
            await old_mcp.aclose()

    def _show_tools_of(self, local: Toolset, servers: McpServers | None) -> None:
        self._local_tools, self._tool_servers = local, servers
        self._tools_version = servers.version if servers is not None else 0

    async def refresh_tools(self) -> None:
        """Before a model call: show the current tools of the MCP servers, which may have
        announced a change (the request's tool list, and with it the cache prefix, changes)."""
        servers = self._tool_servers
        if servers is None:
            return
        toolset = await servers.refresh()
        if servers.version == self._tools_version:
            return
        self._tools_version = servers.version
        try:
            self.toolset = combined(self._local_tools, toolset)
        except DuplicateToolError as exc:  # a new MCP tool took a local tool's name: keep the old list
            log.warning("process %s keeps its tools: %s", self.pid, exc)
            return
        self.tool_specs = tuple(self.toolset.specs())

    def history_rewritten(self, position: int) -> None:
        """goto/exec replaced the history from `position` on: the turn's other results are void."""
        self._rewritten_at = position if self._rewritten_at is None else min(position, self._rewritten_at)

    def take_rewrite(self) -> int | None:
        position, self._rewritten_at = self._rewritten_at, None
        return position

    def __repr__(self) -> str:
        return f"<LLMProcess pid={self.pid} {self.program.name} {self.state.value} messages={len(self.history)}>"


async def _runtime(program: LLMProgram, provider: Provider | None, tools: Sequence[Tool],
                   include_env: bool) -> tuple[Provider, Toolset, Toolset, str, McpServers | None]:
    """What running `program` takes: its provider client, its local tools and all its tools (MCP
    servers' included), its system prompt and its MCP servers (started concurrently; `aclose()`
    stops them). For create() and exec."""
    from llmproc.process.tooling import build_toolset
    from llmproc.providers.registry import create_provider, settings_for

    local = build_toolset(program)
    if tools:
        local = combined(local, Toolset(tools, label="tools passed to start()"))
    if provider is None:
        provider = create_provider(settings_for(program))
    prompt = program.enriched_system_prompt(include_env=include_env)
    for warning in prompt.warnings:
        log.warning("%s", warning)
    toolset, mcp_servers = local, None
    if program.config.tools.mcp:
        from llmproc.tools.mcp import McpServers

        mcp_servers = McpServers.from_program(program)
        try:
            toolset = combined(local, await mcp_servers.start())
        except BaseException:
            await mcp_servers.aclose()
            await provider.aclose()  # nothing else will close it: the process never existed
            raise
    return provider, local, toolset, prompt.text, mcp_servers


__all__ = ["LLMProcess", "ProcessState"]
