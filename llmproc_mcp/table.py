"""The process table: the runs in the background, on top of its rows (rows.py: pids, status,
the store shared with other servers).

Every run is a task in the table's own task group, never in the tool call that started it: a
call can return (bounded wait) or be cancelled while its process goes on or is stopped on
purpose. Each run sits in a cancel scope created when it is scheduled, so a run can be stopped
even while it is still queued for a slot (`max_processes`). Stopping a run cancels the whole
process tree under it: the engine's turn loop cancels the tool calls in flight and with them
any children they started; the history stays consistent and what was produced is kept.

Shutdown marks the runs still going as `interrupted` (so does the next start for rows a killed
server left `running`), and `send` continues them from the last saved state.

A server runs only the processes it owns; `send`, `fork` and `kill` claim a process first (see
rows.py). Idle processes are closed by idle.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Self

import anyio
from llmproc.errors import BudgetExceeded, LLMProcError
from mcp.server.mcpserver.exceptions import ToolError

from llmproc_mcp import clients, idle, ratelimit_store, signals
from llmproc_mcp.durable import Journal, go_on
from llmproc_mcp.entry import Entry, Status, partial_output
from llmproc_mcp.persist import Persistence
from llmproc_mcp.programs import ProgramRegistry
from llmproc_mcp.rows import Rows
from llmproc_mcp.settings import ServerSettings
from llmproc_mcp.sharing import FD_BLOCK

if TYPE_CHECKING:
    from llmproc.process import LLMProcess
    from llmproc.process.result import RunResult
    from llmproc.program import LLMProgram

log = logging.getLogger("llmproc_mcp.table")

STOP_TIMEOUT_S = 10.0  # how long a stop waits for a run to unwind (cleanup is shielded)
CLOSE_TIMEOUT_S = 10.0
POLL_S = 0.25  # how often `wait` reads the store for a run another server owns


class ProcessTable(Rows):
    def __init__(self, settings: ServerSettings, registry: ProgramRegistry, persistence: Persistence):
        super().__init__(settings, persistence)
        self.registry = registry
        self._limiter = anyio.CapacityLimiter(settings.max_processes)
        self.restore_lock = anyio.Lock()
        self._stack = AsyncExitStack()
        self._evictor = anyio.CancelScope()
        self.journal = Journal(self)
        self._budget: ratelimit_store.StoreBudget | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        stored = await anyio.to_thread.run_sync(  # a big table takes a while to read: not on the loop
            lambda: (self.persistence.records("fd"), self.persistence.records("process")))
        self._load(*stored, live=await self.sharing.live())
        await self.sharing.reserve_fd_ids(FD_BLOCK, at_least=self._next_fd)
        self._group = await self._stack.enter_async_context(anyio.create_task_group())
        if self.persistence.shared:
            self._budget = ratelimit_store.install(self.persistence)  # one budget per account across servers
            self.sharing.keep_alive()
            self._group.start_soon(signals.obey, self)
            self._group.start_soon(self.journal.sweep_forever)
        if self.settings.idle_s and self.persistence.durable:
            self._group.start_soon(idle.close_idle_forever, self, self._evictor)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._evictor.cancel()
        try:
            active = [e for e in self.entries.values() if e.status.active and self.owns(e)]
            if self.journal.on and self.sharing.others_seen:  # at the last look (no await here:
                for entry in active:  # the runs may be cancelled by now); they continue them
                    entry.handing_over = True
            await self.stop(active, Status.INTERRUPTED)
            if self._group is not None:  # the lease's heartbeat and the idle sweep
                self._group.cancel_scope.cancel()
            await self._stack.aclose()  # every run has ended: the task group closes at once
            self.sharing.give_up()
            with anyio.CancelScope(shield=True):
                await self.persistence.flush()  # the interrupted rows are stored before the slow part
                with anyio.move_on_after(CLOSE_TIMEOUT_S):
                    await self._close_processes()
                    await self.registry.aclose()
        finally:
            ratelimit_store.uninstall(self._budget)  # before its store closes
            self.persistence.close()

    async def _close_processes(self) -> None:
        """Close the live processes (their MCP servers stop), all at once but fork copies before the
        processes they were copied from, since copies use their MCP connections."""
        levels: dict[int, list[LLMProcess]] = {}
        for entry in self.entries.values():
            if entry.process is not None:
                levels.setdefault(self._depth(entry), []).append(entry.process)
        for depth in sorted(levels, reverse=True):
            async with anyio.create_task_group() as group:
                for process in levels[depth]:
                    group.start_soon(_close, process)

    def _depth(self, entry: Entry) -> int:
        depth, parent = 0, entry.parent
        while parent is not None and parent in self.entries:
            depth, parent = depth + 1, self.entries[parent].parent
        return depth

    # -- starting runs -----------------------------------------------------------------------
    async def start(self, program_ref: str, prompt: str) -> Entry:
        return (await self.start_many([(program_ref, prompt)]))[0]

    async def start_many(self, tasks: Sequence[tuple[str, str]]) -> list[Entry]:
        """Start a process per (program, prompt); every program loads before any process starts,
        and their pids come from the store in one allocation."""
        loaded = [await self.registry.aload(ref) for ref, _prompt in tasks]
        pids = await self.sharing.new_pids(len(tasks), at_least=self._next_pid)
        entries = []
        for pid, (name, program), (_ref, prompt) in zip(pids, loaded, tasks, strict=True):
            entry = self._add_entry(pid, name, str(program.path))
            self._schedule(entry, prompt, lambda p=program: self._start(p))
            entries.append(entry)
        return entries

    async def send(self, pid: int, prompt: str) -> Entry:
        entry = await self.lookup(pid)
        if entry.status.active:
            raise ToolError(f"process {pid} is {entry.status.value}; collect it with wait or stop it "
                            "with kill")
        if entry.status is Status.KILLED:
            raise ToolError(f"process {pid} was killed; start a new one with run_program")
        previous, entry.status = entry.status, Status.QUEUED  # a second send now finds it busy
        try:
            await self.claim(entry, "continue", busy=True)
            process = await self._live(entry)
        except BaseException:
            entry.status = previous
            self._persist(entry)
            raise
        self._schedule(entry, prompt, lambda: _ready(process))
        return entry

    async def fork(self, pid: int, prompts: Sequence[str]) -> list[Entry]:
        entry = await self.lookup(pid)
        if not prompts:
            raise ToolError("fork needs at least one prompt")
        if entry.status.active:
            raise ToolError(f"process {pid} is {entry.status.value}; fork it when it has answered (wait)")
        if entry.status is Status.KILLED:
            raise ToolError(f"process {pid} was killed; it cannot be forked")
        await self.claim(entry, "fork")
        process = await self._live(entry)
        copies: list[tuple[Entry, LLMProcess]] = []
        entry.pins += 1  # not closed for idleness between the copies
        try:
            children = []
            for _ in prompts:
                try:
                    copy = await process.fork()
                    copy.bills_parent = False  # a row of its own: the original's row must not count it too
                    children.append(copy)
                except (BudgetExceeded, LLMProcError) as exc:
                    for child in children:
                        await child.aclose()
                    raise ToolError(f"cannot fork process {pid}: {exc}") from None
            for copy, child in zip(await self._new_entries(len(children), entry.program, entry.path, pid),
                                   children, strict=True):
                copies.append((copy, child))
                if self.journal.on:  # what a server that takes the copy's run over starts from
                    self.persistence.save_process(copy.pid, child, run=0)
        finally:
            entry.pins -= 1
        for (copy, child), prompt in zip(copies, prompts, strict=True):
            self._schedule(copy, prompt, lambda c=child: _ready(c))
        return [copy for copy, _ in copies]

    async def _new_entries(self, count: int, program: str, path: str, parent: int | None = None) -> list[Entry]:
        """New rows under pids from the store: unique across its servers, never reused."""
        pids = await self.sharing.new_pids(count, at_least=self._next_pid)
        return [self._add_entry(pid, program, path, parent) for pid in pids]

    def _add_entry(self, pid: int, program: str, path: str, parent: int | None = None) -> Entry:
        entry = Entry(pid=pid, program=program, path=path, parent=parent, owner=self.sharing.server_id,
                      client=clients.current.get().name)
        entry.listener = self._notify
        self.entries[pid] = entry
        return entry

    async def _live(self, entry: Entry) -> LLMProcess:
        """The entry's process, restored from the store (or started afresh) after a restart or
        after it was closed for being idle."""
        entry.last_used = time.monotonic()
        if entry.process is not None:  # live: no lock, so an idle sweep never delays it
            return entry.process
        async with self.restore_lock:
            entry.last_used = time.monotonic()
            if entry.process is None:
                _name, program = await self.registry.aload(entry.path)
                provider = await self.registry.aprovider_for(program)
                restored = await self.persistence.restore_process(entry.pid, program, provider)
                entry.process = restored or await self._start(program)
            return entry.process

    async def _start(self, program: LLMProgram) -> LLMProcess:
        return await program.start(cwd=self.settings.cwd, provider=await self.registry.aprovider_for(program))

    def _schedule(self, entry: Entry, prompt: str, make: Callable, *, taken: dict | None = None,
                  note: str = "queued") -> None:
        assert self._group is not None, "the table is not running (use `async with table:`)"
        entry.status, entry.prompt, entry.error, entry.stop_status = Status.QUEUED, prompt, None, None
        entry.answer, entry.answer_fd, entry.turns = "", None, 0
        entry.scope, entry.done = anyio.CancelScope(), anyio.Event()
        entry.listener, entry.from_history, entry.handing_over = self._notify, False, False
        self.journal.begin(entry, taken)
        entry.set_activity(note)
        self._persist(entry)
        self._group.start_soon(self._run, entry, prompt, make)

    async def _run(self, entry: Entry, prompt: str, make: Callable) -> None:
        assert entry.scope is not None
        result: RunResult | None = None
        try:
            with entry.scope:
                async with self._limiter:
                    entry.status = Status.RUNNING
                    entry.set_activity("starting" if entry.activity == "queued" else entry.activity)
                    self._persist(entry)
                    process = entry.process = await make()
                    entry.history_mark = len(process.history)
                    unsubscribe = process.subscribe(entry.on_event)
                    process.on_checkpoint = self.journal.checkpoint(entry)
                    try:
                        result = await (go_on(process) if entry.from_history else process.run(prompt))
                    except LLMProcError as exc:
                        entry.error = str(exc)
                    except Exception as exc:  # a bug must not take the server down: report it
                        log.exception("process %s failed", entry.pid)
                        entry.error = f"internal error: {type(exc).__name__}: {exc}"
                    finally:
                        unsubscribe()
                        process.on_checkpoint = None
        except LLMProcError as exc:  # e.g. a missing API key when the process starts
            entry.error = str(exc)
        except Exception as exc:
            log.exception("process %s did not start", entry.pid)
            entry.error = f"could not start: {type(exc).__name__}: {exc}"
        finally:
            self._finish(entry, result)  # synchronous: nothing can cancel it half-way

    def _finish(self, entry: Entry, result: RunResult | None) -> None:
        process = entry.process
        if not self.owns(entry):  # another server took the run over (see lose)
            entry.done.set()
            return
        if entry.handing_over and result is None:
            return self._hand_over(entry)
        entry.runs += 1
        if result is not None:
            entry.status, entry.answer, entry.turns = Status.DONE, result.answer, result.turns
        else:
            entry.status = entry.stop_status or Status.FAILED
            if process is not None:
                entry.answer = partial_output(process, entry.history_mark)
        if len(entry.answer) > self.settings.max_answer_chars:
            entry.answer_fd = self.answer_fd(entry).id
        entry.set_activity(_summary(entry))
        entry.last_used = time.monotonic()
        with self.persistence.together():  # state, row and journal: all or none
            if process is not None:
                entry.usage, entry.cost_usd = process.usage.to_dict(), process.cost_usd
                self.persistence.save_process(entry.pid, process, run=entry.runs)
            self._persist(entry)
            self.journal.end(entry.pid)
        entry.done.set()

    def _hand_over(self, entry: Entry) -> None:
        """A clean stop while another server is up: the run stays active in the store, its
        checkpoint current, for that server to continue (durable.py)."""
        process = entry.process
        entry.set_activity("handed over: its server stopped; another continues it")
        with self.persistence.together():
            if process is not None:
                self.persistence.save_process(entry.pid, process, run=entry.runs + 1)
            self._persist(entry)
        self.journal.handed_over(entry.pid)
        entry.done.set()

    # -- closing idle processes (idle.py) ------------------------------------------------------
    async def close_idle(self) -> list[int]:
        """Close the live processes idle for `idle_s` whose state is safely stored; their pids."""
        return await idle.close_idle(self)

    # -- stopping and waiting ----------------------------------------------------------------
    async def stop(self, entries: Sequence[Entry], why: Status) -> None:
        """Cancel the runs of `entries` (their process trees with them) and wait until they end."""
        active = [e for e in entries if e.status.active and e.scope is not None]
        for entry in active:
            entry.stop_status = why
            entry.scope.cancel()  # type: ignore[union-attr]
        with anyio.CancelScope(shield=True), anyio.move_on_after(STOP_TIMEOUT_S):
            for entry in active:
                await entry.done.wait()

    async def kill(self, pid: int) -> list[Entry]:
        entry = await self.lookup(pid)
        await self.refresh()  # copies another server made count too
        tree = [entry, *self.descendants(entry)]
        live = await self.sharing.live()
        elsewhere = [m for m in tree if not self.owns(m) and m.status.active and m.owner in live]
        if elsewhere:  # their servers stop them (signals.py)
            await signals.ask_to_kill(self, elsewhere)
        here = [m for m in tree if m not in elsewhere]
        for member in here:
            await self.claim(member, "kill")
        await self.stop(here, Status.KILLED)
        for member in sorted(here, key=lambda e: -e.pid):  # fork copies share their parent's client
            member.status = Status.KILLED
            member.set_activity("killed")
            if member.process is not None:
                with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
                    await member.process.aclose()
            self._persist(member)
            self.journal.end(member.pid)
        return tree

    async def wait(self, entries: Sequence[Entry], timeout_s: float) -> bool:
        """Wait until every entry's current run ended, at most `timeout_s`; True if they all did.
        Another server's runs are followed by reading the store every POLL_S."""
        with anyio.move_on_after(timeout_s):
            for entry in entries:
                while not self.owns(entry) and entry.status.active:
                    await anyio.sleep(POLL_S)
                    await self.refresh([entry.pid])
                await entry.done.wait()
        return all(not e.status.active for e in entries)

async def _ready(process: LLMProcess) -> LLMProcess:
    return process


async def _close(process: LLMProcess) -> None:
    try:
        await process.aclose()
    except Exception:  # the others still close
        log.exception("could not close a process cleanly")


def _summary(entry: Entry) -> str:
    if entry.status is Status.DONE:
        return f"answered after {entry.turns} turn{'s' if entry.turns != 1 else ''}"
    if entry.error:
        return f"{entry.status.value}: {entry.error}"
    return entry.status.value


__all__ = ["ProcessTable"]
