"""`StoreWriter`: the process table's writes, committed by a thread of their own.

Every status change of every process is a row write, and every finished run saves a process
state of the size of its history. Made on the event loop, these SQLite writes stall every
other call the server is serving. Here `put` and `save` only queue the newest value per key
(a row written twice before the thread gets to it is written once) and return; the thread
commits what is queued in one transaction. `flush()` waits until everything queued before it is
committed, without blocking the loop or holding a worker thread (the writer wakes it): the server
calls it before it answers a tool call, so what a host was told survives a SIGKILL right after.

A write that fails is logged with what was lost and never raised into a run: a full disk must
not fail the processes (persist.py has the same rule).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from llmproc.store import PostgresStore, SQLiteStore

log = logging.getLogger("llmproc_mcp.writer")

FLUSH_TIMEOUT_S = 30.0  # a flush never holds a tool call longer than this
CLOSE_TIMEOUT_S = 30.0

Key = tuple[str, ...]  # ("record", kind, key) or ("state", name)


class StoreWriter:
    def __init__(self, store: SQLiteStore | PostgresStore):
        self.store = store
        self._pending: dict[Key, dict[str, Any] | None] = {}
        self._changed = threading.Condition()
        self._queued = 0  # writes queued so far
        self._done = 0  # of those, how many the thread has finished (committed or given up)
        self.failed: set[Key] = set()  # keys whose latest write failed (until one succeeds)
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, anyio.Event]] = []
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="llmproc-mcp-store-writer", daemon=True)
        self._thread.start()

    def put(self, kind: str, key: str, value: dict[str, Any] | None) -> None:
        """Queue a record write; None deletes the record."""
        self._queue(("record", kind, key), value)

    def save(self, name: str, state: dict[str, Any]) -> None:
        self._queue(("state", name), state)

    def _queue(self, key: Key, value: dict[str, Any] | None) -> None:
        with self._changed:
            if self._closing:
                log.error("store writer closed: %s not written", "/".join(key))
                return
            self._pending[key] = value
            self._queued += 1
            self._changed.notify_all()

    @contextmanager
    def together(self) -> Iterator[None]:
        """Writes queued inside the block reach the store in one transaction: the thread cannot
        take the queue while the block holds its lock (a run's end: state, row, journal)."""
        with self._changed:
            yield

    def wait_written(self, timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
        """Block until everything queued before this call is written; False on timeout."""
        with self._changed:
            target = self._queued
            return self._changed.wait_for(lambda: self._done >= target, timeout_s)

    async def flush(self) -> bool:
        """Wait until what was queued before this call is written. True if it all is and no key's
        latest write failed; False after a failure (conservative) or FLUSH_TIMEOUT_S."""
        done = anyio.Event()
        with self._changed:
            target = self._queued
            if self._done < target:
                self._waiters.append((target, asyncio.get_running_loop(), done))
            else:
                done.set()
        with anyio.move_on_after(FLUSH_TIMEOUT_S):
            await done.wait()
        return done.is_set() and not self.failed

    def close(self) -> None:
        """Write what is queued, stop the thread, close the store."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join(CLOSE_TIMEOUT_S)
        if self._thread.is_alive():
            log.error("the store writer did not finish within %s s; closing the store anyway", CLOSE_TIMEOUT_S)
        self.store.close()

    # -- the thread --------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending or self._closing)
                if not self._pending:  # closing, and nothing left to write
                    return
                batch, self._pending = self._pending, {}
                upto = self._queued
            self._write(batch)
            with self._changed:
                self._done = upto
                self._changed.notify_all()
                woken = [w for w in self._waiters if w[0] <= upto]
                self._waiters = [w for w in self._waiters if w[0] > upto]
            for _, loop, event in woken:
                try:
                    loop.call_soon_threadsafe(event.set)
                except RuntimeError:  # that loop is closed: nobody waits any more
                    pass

    def _write(self, batch: dict[Key, dict[str, Any] | None]) -> None:
        try:
            with self.store.batch():
                for key, value in batch.items():
                    self._write_one(key, value)
            self.failed.difference_update(batch)
            return
        except Exception:  # one bad value must not sink the others: write them one by one
            log.warning("a batch of %d store writes failed; writing them one at a time", len(batch),
                        exc_info=True)
        for key, value in batch.items():
            try:
                self._write_one(key, value)
                self.failed.discard(key)
            except Exception:
                self.failed.add(key)
                log.exception("could not write %s to the store %s", "/".join(key), self.store.path)

    def _write_one(self, key: Key, value: dict[str, Any] | None) -> None:
        if key[0] == "state":
            assert value is not None
            self.store.save(key[1], value)
        elif value is None:
            self.store.delete_record(key[1], key[2])
        else:
            self.store.put_record(key[1], key[2], value)


__all__ = ["StoreWriter"]
