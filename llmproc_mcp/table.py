"""The process table: pids, parents, status, the runs in the background, and their persistence.

Every run is a task in the table's own task group, never in the tool call that started it: a
call can return (bounded wait) or be cancelled while its process goes on or is stopped on
purpose. Each run sits in a cancel scope created when it is scheduled, so a run can be stopped
even while it is still queued for a slot (`max_processes`). Stopping a run cancels the whole
process tree under it: the engine's turn loop cancels the tool calls in flight and with them
any children they started; the history stays consistent and what was produced is kept.

Shutdown marks the runs still going as `interrupted` (so does the next start for rows a killed
server left `running`), and `send` continues them from the last saved state.

A finished process left idle for `idle_s` is closed (its MCP servers stop, its memory is freed)
once its state is in the store; `send` and `fork` restore it the way they do after a restart.
Fork copies go before the process they were copied from, since copies use its MCP connections.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Self

import anyio
from anyio.abc import TaskGroup
from llmproc.errors import BudgetExceeded, LLMProcError
from llmproc.fd import FDTable
from llmproc.fd.manager import FileDescriptor
from mcp.server.mcpserver.exceptions import ToolError

from llmproc_mcp.entry import Entry, Status, partial_output
from llmproc_mcp.persist import Persistence
from llmproc_mcp.programs import ProgramRegistry
from llmproc_mcp.settings import ServerSettings

if TYPE_CHECKING:
    from llmproc.process import LLMProcess
    from llmproc.process.result import RunResult
    from llmproc.program import LLMProgram

log = logging.getLogger("llmproc_mcp.table")

STOP_TIMEOUT_S = 10.0  # how long a stop waits for a run to unwind (cleanup is shielded)
CLOSE_TIMEOUT_S = 10.0


class ProcessTable:
    def __init__(self, settings: ServerSettings, registry: ProgramRegistry, persistence: Persistence):
        self.settings = settings
        self.registry = registry
        self.persistence = persistence
        self.entries: dict[int, Entry] = {}
        self.fds = FDTable(page_size=settings.page_chars, max_direct_chars=settings.page_chars)
        self._limiter = anyio.CapacityLimiter(settings.max_processes)
        self._next_pid = 1
        self._watchers: dict[int, set[anyio.Event]] = {}
        self._restore_lock = anyio.Lock()
        self._stack = AsyncExitStack()
        self._group: TaskGroup | None = None
        self._evictor = anyio.CancelScope()

    # -- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        stored = await anyio.to_thread.run_sync(  # a big table takes a while to read: not on the loop
            lambda: (self.persistence.records("fd"), self.persistence.records("process")))
        self._load(*stored)
        self._group = await self._stack.enter_async_context(anyio.create_task_group())
        if self.settings.idle_s and self.persistence.durable:
            self._group.start_soon(self._close_idle_processes)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._evictor.cancel()
        try:
            await self.stop([e for e in self.entries.values() if e.status.active], Status.INTERRUPTED)
            await self._stack.aclose()  # every run has ended: the task group closes at once
            with anyio.CancelScope(shield=True):
                await self.persistence.flush()  # the interrupted rows are stored before the slow part
                with anyio.move_on_after(CLOSE_TIMEOUT_S):
                    await self._close_processes()
                    await self.registry.aclose()
        finally:
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

    def _load(self, fds: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
        for data in sorted(fds, key=lambda d: _fd_number(d["id"])):
            self.fds.create(data["content"], source=data.get("source", ""), fd_id=data["id"])
        for data in rows:
            try:
                entry = Entry.from_record(data)
            except (KeyError, TypeError, ValueError):
                log.warning("skipping an unreadable process row: %r", data)
                continue
            if entry.status.active:  # the server stopped without finishing it
                entry.status = Status.INTERRUPTED
                entry.activity = "interrupted by a server restart"
                self._persist(entry)
            if entry.answer_fd is not None and entry.answer_fd in self.fds:
                entry.answer = self.fds.get(entry.answer_fd).content
            self.entries[entry.pid] = entry
            self._next_pid = max(self._next_pid, entry.pid + 1)

    # -- lookups -----------------------------------------------------------------------------
    def get(self, pid: int) -> Entry:
        entry = self.entries.get(int(pid))
        if entry is None:
            known = ", ".join(str(p) for p in sorted(self.entries)[-20:]) or "none yet"
            raise ToolError(f"no process {pid}; known pids: {known} (see ps)")
        return entry

    def descendants(self, entry: Entry) -> list[Entry]:
        found, frontier = [], [entry.pid]
        while frontier:
            pid = frontier.pop()
            kids = [e for e in self.entries.values() if e.parent == pid]
            found.extend(kids)
            frontier.extend(k.pid for k in kids)
        return found

    def watch(self, entries: Sequence[Entry]) -> anyio.Event:
        """An event set at the next change of activity or status of any of `entries`; pass it to
        `unwatch` when done. Only the watchers of the entry that changed wake up."""
        event = anyio.Event()
        for entry in entries:
            self._watchers.setdefault(entry.pid, set()).add(event)
        return event

    def unwatch(self, entries: Sequence[Entry], event: anyio.Event) -> None:
        for entry in entries:
            self._watchers.get(entry.pid, set()).discard(event)

    def _notify(self, entry: Entry) -> None:
        for event in self._watchers.get(entry.pid, ()):
            event.set()

    # -- starting runs -----------------------------------------------------------------------
    async def start(self, program_ref: str, prompt: str) -> Entry:
        name, program = await self.registry.aload(program_ref)
        entry = self._new_entry(name, str(program.path))
        self._schedule(entry, prompt, lambda: self._start(program))
        return entry

    async def send(self, pid: int, prompt: str) -> Entry:
        entry = self.get(pid)
        if entry.status.active:
            raise ToolError(f"process {pid} is {entry.status.value}; collect it with wait or stop it "
                            "with kill")
        if entry.status is Status.KILLED:
            raise ToolError(f"process {pid} was killed; start a new one with run_program")
        process = await self._live(entry)
        self._schedule(entry, prompt, lambda: _ready(process))
        return entry

    async def fork(self, pid: int, prompts: Sequence[str]) -> list[Entry]:
        entry = self.get(pid)
        if not prompts:
            raise ToolError("fork needs at least one prompt")
        if entry.status.active:
            raise ToolError(f"process {pid} is {entry.status.value}; fork it when it has answered (wait)")
        if entry.status is Status.KILLED:
            raise ToolError(f"process {pid} was killed; it cannot be forked")
        process = await self._live(entry)
        copies: list[tuple[Entry, LLMProcess]] = []
        entry.pins += 1  # not closed for idleness between the copies
        try:
            for _ in prompts:
                try:
                    child = await process.fork()
                except (BudgetExceeded, LLMProcError) as exc:
                    raise ToolError(f"cannot fork process {pid}: {exc}") from None
                copy = self._new_entry(entry.program, entry.path, parent=pid)
                copies.append((copy, child))
        finally:
            entry.pins -= 1
        for (copy, child), prompt in zip(copies, prompts, strict=True):
            self._schedule(copy, prompt, lambda c=child: _ready(c))
        return [copy for copy, _ in copies]

    def _new_entry(self, program: str, path: str, parent: int | None = None) -> Entry:
        entry = Entry(pid=self._next_pid, program=program, path=path, parent=parent)
        self._next_pid += 1
        entry.listener = self._notify
        self.entries[entry.pid] = entry
        return entry

    async def _live(self, entry: Entry) -> LLMProcess:
        """The entry's process, restored from the store (or started afresh) after a restart or
        after it was closed for being idle."""
        entry.last_used = time.monotonic()
        if entry.process is not None:  # live: no lock, so an idle sweep never delays it
            return entry.process
        async with self._restore_lock:
            entry.last_used = time.monotonic()
            if entry.process is None:
                _name, program = await self.registry.aload(entry.path)
                provider = await self.registry.aprovider_for(program)
                restored = await self.persistence.restore_process(entry.pid, program, provider)
                entry.process = restored or await self._start(program)
            return entry.process

    async def _start(self, program: LLMProgram) -> LLMProcess:
        return await program.start(cwd=self.settings.cwd, provider=await self.registry.aprovider_for(program))

    def _schedule(self, entry: Entry, prompt: str, make: Callable) -> None:
        assert self._group is not None, "the table is not running (use `async with table:`)"
        entry.status, entry.prompt, entry.error, entry.stop_status = Status.QUEUED, prompt, None, None
        entry.answer, entry.answer_fd, entry.turns = "", None, 0
        entry.scope, entry.done = anyio.CancelScope(), anyio.Event()
        entry.listener = self._notify
        entry.set_activity("queued")
        self._persist(entry)
        self._group.start_soon(self._run, entry, prompt, make)

    async def _run(self, entry: Entry, prompt: str, make: Callable) -> None:
        assert entry.scope is not None
        result: RunResult | None = None
        try:
            with entry.scope:
                async with self._limiter:
                    entry.status = Status.RUNNING
                    entry.set_activity("starting")
                    self._persist(entry)
                    process = entry.process = await make()
                    entry.history_mark = len(process.history)
                    unsubscribe = process.subscribe(entry.on_event)
                    try:
                        result = await process.run(prompt)
                    except LLMProcError as exc:
                        entry.error = str(exc)
                    except Exception as exc:  # a bug must not take the server down: report it
                        log.exception("process %s failed", entry.pid)
                        entry.error = f"internal error: {type(exc).__name__}: {exc}"
                    finally:
                        unsubscribe()
        except LLMProcError as exc:  # e.g. a missing API key when the process starts
            entry.error = str(exc)
        except Exception as exc:
            log.exception("process %s did not start", entry.pid)
            entry.error = f"could not start: {type(exc).__name__}: {exc}"
        finally:
            self._finish(entry, result)  # synchronous: nothing can cancel it half-way

    def _finish(self, entry: Entry, result: RunResult | None) -> None:
        process = entry.process
        entry.runs += 1
        if result is not None:
            entry.status, entry.answer, entry.turns = Status.DONE, result.answer, result.turns
        else:
            entry.status = entry.stop_status or Status.FAILED
            if process is not None:
                entry.answer = partial_output(process, entry.history_mark)
        if process is not None:
            entry.usage, entry.cost_usd = process.usage.to_dict(), process.cost_usd
            self.persistence.save_process(entry.pid, process)
        if len(entry.answer) > self.settings.max_answer_chars:
            entry.answer_fd = self.answer_fd(entry).id
        entry.set_activity(_summary(entry))
        entry.last_used = time.monotonic()
        self._persist(entry)
        entry.done.set()

    # -- closing idle processes --------------------------------------------------------------
    async def _close_idle_processes(self) -> None:
        with self._evictor:
            while True:
                await anyio.sleep(min(max(self.settings.idle_s / 4, 0.05), 30.0))
                await self.close_idle()

    async def close_idle(self) -> list[int]:
        """Close the live processes idle for `idle_s` whose state is safely stored; their pids.
        Decided under the restore lock (states saved and committed first), closed outside it."""
        closing: list[tuple[Entry, LLMProcess]] = []
        async with self._restore_lock:  # no restore (send, fork of a closed process) meanwhile
            candidates = [e for e in sorted(self.entries.values(), key=lambda e: -e.pid) if self._idle(e)]
            for entry in candidates:
                if entry.status is not Status.KILLED:  # forks since the run changed it; killed: never restored
                    self.persistence.save_process(entry.pid, entry.process)  # type: ignore[arg-type]
            if candidates and not await self.persistence.flush():
                log.warning("idle processes stay in memory: their states could not be stored")
                return []
            for entry in candidates:  # copies first, so a parent is checked after its copies left
                process = entry.process
                if process is not None and self._idle(entry):  # not used while the states were written
                    entry.process = None
                    closing.append((entry, process))
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT_S):
            async with anyio.create_task_group() as group:
                for _entry, process in closing:
                    group.start_soon(process.aclose)
        if closing:
            log.info("closed idle processes %s (their states are stored)", [e.pid for e, _ in closing])
        return [e.pid for e, _ in closing]

    def _idle(self, entry: Entry) -> bool:
        """Live, not running, not in use, unused for idle_s, and no copy of it still live or running."""
        return (entry.process is not None and not entry.status.active and not entry.pins
                and time.monotonic() - entry.last_used >= self.settings.idle_s
                and not any(d.process is not None or d.status.active for d in self.descendants(entry)))

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
        entry = self.get(pid)
        tree = [entry, *self.descendants(entry)]
        await self.stop(tree, Status.KILLED)
        for member in sorted(tree, key=lambda e: -e.pid):  # fork copies share their parent's client
            member.status = Status.KILLED
            member.set_activity("killed")
            if member.process is not None:
                with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
                    await member.process.aclose()
            self._persist(member)
        return tree

    async def wait(self, entries: Sequence[Entry], timeout_s: float) -> bool:
        """Wait until every entry's current run ended, at most `timeout_s`; True if they all did."""
        with anyio.move_on_after(timeout_s):
            for entry in entries:
                await entry.done.wait()
        return all(not e.status.active for e in entries)

    # -- answers as fds ----------------------------------------------------------------------
    def answer_fd(self, entry: Entry) -> FileDescriptor:
        """The fd holding the entry's answer, created (and stored) on first use."""
        if entry.answer_fd is not None and entry.answer_fd in self.fds:
            return self.fds.get(entry.answer_fd)
        fd = self.fds.create(entry.answer, source=f"answer of process {entry.pid} (run {entry.runs})")
        entry.answer_fd = fd.id
        self.persistence.put("fd", fd.id, {"id": fd.id, "source": fd.source, "content": fd.content})
        self._persist(entry)
        return fd

    async def flush(self) -> None:
        """Wait until every change made so far is in the store (off the event loop)."""
        await self.persistence.flush()

    def _persist(self, entry: Entry) -> None:
        entry.updated = time.time()
        self.persistence.put("process", str(entry.pid), entry.record())
        self._notify(entry)


async def _ready(process: LLMProcess) -> LLMProcess:
    return process


async def _close(process: LLMProcess) -> None:
    try:
        await process.aclose()
    except Exception:  # the others still close
        log.exception("could not close a process cleanly")


def _fd_number(fd_id: str) -> int:
    tail = fd_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _summary(entry: Entry) -> str:
    if entry.status is Status.DONE:
        return f"answered after {entry.turns} turn{'s' if entry.turns != 1 else ''}"
    if entry.error:
        return f"{entry.status.value}: {entry.error}"
    return entry.status.value


__all__ = ["ProcessTable"]
