"""Closing idle processes: a finished process left idle for `idle_s` is closed (its MCP servers
stop, its memory is freed) once its state is in the store; `send` and `fork` restore it the way
they do after a restart. Fork copies go before the process they were copied from, since copies
use its MCP connections. Only this server's own live processes are ever closed.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import anyio

from llmproc_mcp.entry import Entry, Status

if TYPE_CHECKING:
    from llmproc.process import LLMProcess

    from llmproc_mcp.table import ProcessTable

log = logging.getLogger("llmproc_mcp.idle")
CLOSE_TIMEOUT_S = 10.0


async def close_idle_forever(table: ProcessTable, scope: anyio.CancelScope) -> None:
    with scope:
        while True:
            await anyio.sleep(min(max(table.settings.idle_s / 4, 0.05), 30.0))
            await close_idle(table)


async def close_idle(table: ProcessTable) -> list[int]:
    """Close the live processes idle for `idle_s` whose state is safely stored; their pids.
    Decided under the restore lock (states saved and committed first), closed outside it."""
    closing: list[tuple[Entry, LLMProcess]] = []
    async with table.restore_lock:  # no restore (send, fork of a closed process) meanwhile
        candidates = [e for e in sorted(table.entries.values(), key=lambda e: -e.pid) if is_idle(table, e)]
        if candidates:  # one another server took over is let go, never saved over its newer state
            await table.refresh([e.pid for e in candidates])
            candidates = [e for e in candidates if table.owns(e) and is_idle(table, e)]
        for entry in candidates:  # live: is_idle checked, with no await since
            if entry.status is not Status.KILLED and entry.process is not None:  # killed: never restored
                table.persistence.save_process(entry.pid, entry.process)
        if candidates and not await table.persistence.flush():
            log.warning("idle processes stay in memory: their states could not be stored")
            return []
        for entry in candidates:  # copies first, so a parent is checked after its copies left
            process = entry.process
            if process is not None and is_idle(table, entry):  # not used while the states were written
                entry.process = None
                closing.append((entry, process))
    with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT_S):
        async with anyio.create_task_group() as group:
            for _entry, process in closing:
                group.start_soon(process.aclose)
    if closing:
        log.info("closed idle processes %s (their states are stored)", [e.pid for e, _ in closing])
    return [e.pid for e, _ in closing]


def is_idle(table: ProcessTable, entry: Entry) -> bool:
    """Live, not running, not in use, unused for idle_s, and no copy of it still live or running."""
    return (entry.process is not None and not entry.status.active and not entry.pins
            and time.monotonic() - entry.last_used >= table.settings.idle_s
            and not any(d.process is not None or d.status.active for d in table.descendants(entry)))


__all__ = ["close_idle", "close_idle_forever", "is_idle"]
