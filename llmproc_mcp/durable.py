"""Runs that survive their server: a journal of the runs in progress, checkpoints, take-over.

Every run a server starts on a shared store has a `run` record (key: its pid) naming its owner,
which run of the process it is, and how many servers have had it (`attempt`). While it runs, the
process's state is saved after every model call, committed before that call's tools start, and
after every tool result (queued); each checkpoint names its run (persist.RUN_KEY). The record is
deleted in the same transaction as the run's final state and row.

Every server sweeps the journal every RENEW_S. A run whose owner is gone (lease expired, its
process dead on this machine, or stopped cleanly and handed its runs over) is taken with one
compare-and-set in the store, so exactly one server continues it:
- from this run's checkpoint when there is one: no finished model call is sent again; a tool call
  the crash cut off is answered as interrupted, or run again if its tool is read-only;
- else from its prompt (its server died before the first model call answered).
A run taken over MAX_ATTEMPTS times is not taken again but marked interrupted: a run that kills
every server it lands on must not go round them forever. A server that finds one of its own runs
taken by another (it stalled longer than its lease) stops its copy without writing anything.

Why leases of our own rather than a durable-execution library: docs/architecture.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from llmproc.messages import Usage
from llmproc.process.result import RunResult

from llmproc_mcp import leases
from llmproc_mcp.entry import Status
from llmproc_mcp.persist import RUN_KEY

if TYPE_CHECKING:
    from llmproc.process import LLMProcess

    from llmproc_mcp.entry import Entry
    from llmproc_mcp.table import ProcessTable

log = logging.getLogger("llmproc_mcp.durable")

KIND = "run"
MAX_ATTEMPTS = 3  # servers that may have one run: the first, and two that took it over

Checkpoint = Callable[["LLMProcess", str], Awaitable[None]]


class Journal:
    def __init__(self, table: ProcessTable):
        self.table = table
        self.persistence = table.persistence
        self.me = table.sharing.server_id
        self.mine: dict[int, dict[str, Any]] = {}  # pid -> the record this server wrote or took

    @property
    def on(self) -> bool:
        return self.persistence.shared

    # -- the owner's side ------------------------------------------------------------------------
    def begin(self, entry: Entry, taken: dict[str, Any] | None = None) -> None:
        """Record a run as this server's (a new one, or `taken` from a server that is gone)."""
        if not self.on:
            return
        record = taken or {"owner": self.me, "run": entry.runs + 1, "attempt": 1}
        self.mine[entry.pid] = record
        entry.resumable = True
        if taken is None:  # a taken record is in the store already
            self.persistence.put(KIND, str(entry.pid), record)

    def end(self, pid: int) -> None:
        """The run ended (answered, failed, killed, interrupted): nothing left to resume. Kill
        calls this for runs a dead server left too, so the record goes even when not ours."""
        self.mine.pop(pid, None)
        if self.on:
            self.persistence.put(KIND, str(pid), None)

    def handed_over(self, pid: int) -> None:
        """A clean stop left the run to another server: its record stays for them to take."""
        self.mine.pop(pid, None)

    def checkpoint(self, entry: Entry) -> Checkpoint | None:
        """The hook that saves the running process of `entry` (LLMProcess.on_checkpoint)."""
        record = self.mine.get(entry.pid)
        if record is None:
            return None
        run = int(record["run"])

        async def save(process: LLMProcess, after: str) -> None:
            if self.mine.get(entry.pid) is not record:  # taken by another server: write nothing
                return
            self.persistence.save_process(entry.pid, process, run=run)
            if after == "model":  # durable before its tool calls start
                await self.persistence.flush()

        return save

    # -- every server ----------------------------------------------------------------------------
    async def sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # a store hiccup: try again at the next beat
                log.exception("could not sweep the run journal")
            await anyio.sleep(leases.RENEW_S)

    async def sweep(self) -> None:
        """Take the runs whose owner is gone; let go of ours that another server took."""
        records = await self.persistence.arecords(KIND)
        if not records and not self.mine:
            return
        live = await self.table.sharing.live()
        for key, record in records.items():
            try:
                pid, owner = int(key), str(record["owner"])
                int(record["run"])
            except (KeyError, TypeError, ValueError):
                log.warning("skipping an unreadable run record %s: %r", key, record)
                continue
            if owner == self.me:
                continue
            if pid in self.mine:  # ours, taken by another server while we stalled
                self.mine.pop(pid)
                self.lose(pid, owner)
            elif owner not in live:
                await self.take(pid, record, owner)

    async def take(self, pid: int, record: dict[str, Any], owner: str) -> None:
        attempt = int(record.get("attempt", 1))
        if attempt >= MAX_ATTEMPTS:
            if await self.persistence.aswap(KIND, str(pid), record, None):
                await self.give_up(pid, f"not resumed again: {attempt} servers stopped during this run")
            return
        taken = {**record, "owner": self.me, "attempt": attempt + 1, "from": owner}
        if not await self.persistence.aswap(KIND, str(pid), record, taken):
            return  # another server took it first
        await self.resume(pid, taken, owner)

    async def resume(self, pid: int, taken: dict[str, Any], owner: str) -> None:
        """Continue a run that `owner` left: from its checkpoint, else from its prompt."""
        table = self.table
        await table.refresh([pid])
        entry = table.entries.get(pid)
        if entry is None or not entry.status.active:  # it ended; only its record was left
            self.persistence.put(KIND, str(pid), None)
            return
        entry.owner, entry.process = self.me, None
        note = f"resumed on {self.me} after {owner} stopped"
        log.info("process %s %s (attempt %s)", pid, note, taken["attempt"])
        table._schedule(entry, entry.prompt, lambda: self._restart(entry, int(taken["run"])), taken=taken,
                        note=note)

    async def _restart(self, entry: Entry, run: int) -> LLMProcess:
        registry = self.table.registry
        _name, program = await registry.aload(entry.path)
        provider = await registry.aprovider_for(program)
        state = await self.persistence.load_state(entry.pid)
        process = await self.persistence.restore_process(entry.pid, program, provider, state=state)
        entry.from_history = process is not None and state is not None and state.get(RUN_KEY) == run
        return process or await self.table._start(program)

    async def give_up(self, pid: int, why: str) -> None:
        """A run not to be resumed again: interrupted (`send` continues it)."""
        table = self.table
        await table.refresh([pid])
        entry = table.entries.get(pid)
        if entry is not None and entry.status.active:
            entry.owner, entry.status, entry.error = self.me, Status.INTERRUPTED, why
            entry.set_activity(f"interrupted: {why}")
            table._persist(entry)
            entry.done.set()

    def lose(self, pid: int, owner: str) -> None:
        """Our run was taken by `owner` (we stalled past our lease): stop our copy, write nothing."""
        entry = self.table.entries.get(pid)
        if entry is None:
            return
        log.warning("process %s was taken over by %s: stopping the copy here", pid, owner)
        entry.owner = owner
        if entry.scope is not None:
            entry.scope.cancel()
        self.table._let_go(entry)


async def go_on(process: LLMProcess) -> RunResult:
    """A run taken over: continue from the history; if its answer had come already, keep it."""
    last = process.history[-1] if len(process.history) else None
    if last is not None and last.role == "assistant" and not last.tool_calls:
        return RunResult(last.text, 0, (), Usage(), 0.0, "end", 0.0, ())
    return await process.resume()


__all__ = ["KIND", "MAX_ATTEMPTS", "Journal", "go_on"]
