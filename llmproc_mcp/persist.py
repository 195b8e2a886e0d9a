"""Where the process table outlives the server: a thin adapter over `llmproc.store`.

Two kinds of records (`process` rows and answer `fd`s) plus one saved process state per pid,
written when a run ends, so that after a restart `send` continues from the last finished turn.
`MemoryPersistence` keeps nothing beyond the server's life (no `--state-dir`, library use).
Writes go through a `StoreWriter` (writer.py): off the event loop, committed in batches, and
flushed before a tool call answers. Store failures are logged, never raised into a tool call:
losing a row must not fail a run.
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import anyio

if TYPE_CHECKING:
    from llmproc.process import LLMProcess
    from llmproc.program import LLMProgram
    from llmproc.providers.base import Provider

log = logging.getLogger("llmproc_mcp.persist")
STATE_PREFIX = "mcp-process-"
RUN_KEY = "mcp_run"  # in a saved state: the run of the process row it was saved in


class Persistence(Protocol):
    durable: bool  # whether a saved process state can be restored (so a live process may be closed)
    shared: bool  # whether other servers may use the same store

    def put(self, kind: str, key: str, data: dict[str, Any] | None) -> None: ...  # None: delete
    def put_now(self, kind: str, key: str, data: dict[str, Any]) -> None: ...  # blocking, from a thread
    def together(self) -> AbstractContextManager[None]: ...
    async def aswap(self, kind: str, key: str, expect: dict[str, Any] | None,
                    value: dict[str, Any] | None) -> bool: ...
    def records(self, kind: str) -> list[dict[str, Any]]: ...
    async def arecords(self, kind: str) -> dict[str, dict[str, Any]]: ...
    async def arecord(self, kind: str, key: str) -> dict[str, Any] | None: ...
    async def adelete(self, kind: str, key: str) -> None: ...
    def quarantine(self, kind: str, data: dict[str, Any], reason: str) -> None: ...  # a row that does not read
    async def allocate(self, counter: str, count: int, at_least: int) -> int: ...
    def allocate_now(self, counter: str, count: int) -> int: ...  # blocking: a last resort
    def save_process(self, pid: int, process: LLMProcess, run: int | None = None) -> None: ...
    async def flush(self) -> bool: ...
    async def load_state(self, pid: int) -> dict[str, Any] | None: ...
    async def restore_process(self, pid: int, program: LLMProgram, provider: Provider, *,
                              state: dict[str, Any] | None = None) -> LLMProcess | None: ...
    def close(self) -> None: ...


class MemoryPersistence:
    """Nothing survives the server; process states are never needed since processes stay live."""

    durable = False
    shared = False

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}

    def put(self, kind: str, key: str, data: dict[str, Any] | None) -> None:
        pass

    def put_now(self, kind: str, key: str, data: dict[str, Any]) -> None:
        pass

    def together(self) -> AbstractContextManager[None]:
        return nullcontext()

    async def aswap(self, kind: str, key: str, expect: dict[str, Any] | None,
                    value: dict[str, Any] | None) -> bool:
        return False  # nothing is shared, so nothing is ever taken over

    def records(self, kind: str) -> list[dict[str, Any]]:
        return []

    async def arecords(self, kind: str) -> dict[str, dict[str, Any]]:
        return {}

    async def arecord(self, kind: str, key: str) -> dict[str, Any] | None:
        return None

    async def adelete(self, kind: str, key: str) -> None:
        pass

    def quarantine(self, kind: str, data: dict[str, Any], reason: str) -> None:
        log.warning("skipping an unreadable %s row (%s): %r", kind, reason, data)

    async def allocate(self, counter: str, count: int, at_least: int) -> int:
        return self.allocate_now(counter, count, at_least)

    def allocate_now(self, counter: str, count: int, at_least: int = 1) -> int:
        first = max(self._counters.get(counter, 1), at_least)
        self._counters[counter] = first + count
        return first

    def save_process(self, pid: int, process: LLMProcess, run: int | None = None) -> None:
        pass

    async def flush(self) -> bool:
        return True

    async def load_state(self, pid: int) -> dict[str, Any] | None:
        return None

    async def restore_process(self, pid: int, program: LLMProgram, provider: Provider, *,
                              state: dict[str, Any] | None = None) -> LLMProcess | None:
        return None

    def close(self) -> None:
        pass


class StorePersistence:
    """The table in `llmproc.store`: SQLite under the state directory, or the store `--store`
    names (a file, or a PostgreSQL URL that several servers share)."""

    durable = True
    shared = True

    def __init__(self, where: str | Path):
        from llmproc.store import open_store

        from llmproc_mcp.writer import StoreWriter

        self.store = open_store(where)  # a new SQLite directory is made private to the user
        self.writer = StoreWriter(self.store)
        self._quarantines: list[threading.Thread] = []

    def put(self, kind: str, key: str, data: dict[str, Any] | None) -> None:
        self.writer.put(kind, key, data)

    def put_now(self, kind: str, key: str, data: dict[str, Any]) -> None:
        """Write at once, bypassing the queue (the lease's thread)."""
        self.store.put_record(kind, key, data)

    def together(self) -> AbstractContextManager[None]:
        return self.writer.together()

    async def aswap(self, kind: str, key: str, expect: dict[str, Any] | None,
                    value: dict[str, Any] | None) -> bool:
        """Compare and set in the store, now (not batched): one server of many wins."""
        await self.flush()  # our own queued write of the key must not land after the swap
        return await self.store.aswap_record(kind, key, expect, value)

    def records(self, kind: str) -> list[dict[str, Any]]:
        return list(self.store.list_records(kind).values())

    async def arecords(self, kind: str) -> dict[str, dict[str, Any]]:
        """What is committed now, other servers' rows included (read in a worker thread)."""
        return await anyio.to_thread.run_sync(self.store.list_records, kind)

    async def arecord(self, kind: str, key: str) -> dict[str, Any] | None:
        from llmproc.errors import NotFoundError

        try:
            return await anyio.to_thread.run_sync(self.store.get_record, kind, key)
        except NotFoundError:
            return None

    async def adelete(self, kind: str, key: str) -> None:
        await self.flush()  # a queued write of the same key must not bring it back
        await anyio.to_thread.run_sync(self.store.delete_record, kind, key)

    def quarantine(self, kind: str, data: dict[str, Any], reason: str) -> None:
        """Move a row its reader cannot use (JSON of the wrong shape) to damaged:<kind>, keeping it
        (llmproc.store.damage; the store names it in a warning). Rows come without their keys and
        this is called on the event loop: a thread finds the key and moves the row."""
        from llmproc.store.damage import quarantine_value

        def move() -> None:
            try:
                for key, value in self.store.list_records(kind).items():
                    if value == data:
                        quarantine_value(self.store, kind, key, value, reason)
                        return
            except Exception:
                log.exception("could not quarantine an unreadable %s row: %r", kind, data)

        thread = threading.Thread(target=move, name="llmproc-mcp-quarantine", daemon=True)
        self._quarantines.append(thread)
        thread.start()

    async def allocate(self, counter: str, count: int, at_least: int) -> int:
        """Fresh ids, unique across every server of the store (committed at once, not batched)."""
        return await self.store.aallocate(counter, count, at_least=at_least)

    def allocate_now(self, counter: str, count: int) -> int:
        return self.store.allocate(counter, count)

    def save_process(self, pid: int, process: LLMProcess, run: int | None = None) -> None:
        """Queue the state of `process`; `run`: which run of the row it is in (durable.py)."""
        try:
            state = process.snapshot()  # now, on the loop: the process may run on while it is written
        except Exception:
            log.exception("could not snapshot the state of process %s", pid)
            return
        if run is not None:
            state[RUN_KEY] = run
        self.writer.save(f"{STATE_PREFIX}{pid}", state)

    async def flush(self) -> bool:
        """Wait until what was queued is written; False if any write failed meanwhile."""
        return await self.writer.flush()

    async def load_state(self, pid: int) -> dict[str, Any] | None:
        from llmproc.errors import NotFoundError

        await self.flush()
        try:
            return await self.store.aload(f"{STATE_PREFIX}{pid}")
        except NotFoundError:
            return None

    async def restore_process(self, pid: int, program: LLMProgram, provider: Provider, *,
                              state: dict[str, Any] | None = None) -> LLMProcess | None:
        """The process saved under `pid` (or from `state`), None when nothing was saved. A state
        saved during a run reruns the read-only tool calls the run left unanswered."""
        from llmproc.errors import ProgramChangedError
        from llmproc.process import LLMProcess

        state = state if state is not None else await self.load_state(pid)
        if state is None:
            return None
        try:
            return await LLMProcess.restore(state, program=program, provider=provider, rerun_read_only=True)
        except ProgramChangedError as exc:  # the host asked to continue: use the program as it is now
            log.warning("process %s continues with a changed program: %s", pid, exc)
            return await LLMProcess.restore(state, program=program, provider=provider,
                                            allow_changed_program=True, rerun_read_only=True)

    def close(self) -> None:
        for thread in self._quarantines:  # before the store closes under them
            thread.join(timeout=10)
        self.writer.close()  # writes what is queued, then closes the store


def open_persistence(where: str | Path | None) -> Persistence:
    return MemoryPersistence() if where is None else StorePersistence(where)


__all__ = ["MemoryPersistence", "Persistence", "StorePersistence", "open_persistence"]
