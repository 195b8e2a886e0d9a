"""The provider accounts' rate-limit budgets, shared by every server of one store.

The engine's limiter (llmproc.providers.ratelimit) holds requests for its own event loop; this is
the `SharedBudget` hook it calls on a server with a store, so servers on one account spend one
budget between them rather than one each (ratelimit_shared.py says how windows are named):

- each request takes a number of its window's counter, `rl:<account hash>:<budget>:<window>`,
  with `allocate` (atomic across servers); a number past the limit waits for the window's end;
- the record ("ratelimit", <account hash>) holds the last 429's pause, `paused_until` (raised
  with compare-and-set, never lowered), and each budget's latest window, `windows`: {budget:
  [start, end]}; takes read it at most every PAUSE_CACHE_S, and when a window refuses them.
A take is one worker-thread hop (a counter or two, sometimes the record): nothing blocks the
loop. Counters of past windows stay in the store (a row each, a few bytes); nothing reads them.
A store that fails lets requests go (logged once): the provider's own 429s still hold them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio.to_thread
from llmproc.errors import NotFoundError
from llmproc.providers import ratelimit
from llmproc.providers.ratelimit_shared import Claim, Verdict, account_id
from llmproc.store.base import ProcessStore

log = logging.getLogger("llmproc_mcp.ratelimit_store")
KIND = "ratelimit"
PAUSE_CACHE_S = 0.2  # how stale another server's 429 pause may be when a request goes


class StoreBudget:
    def __init__(self, store: ProcessStore):
        self.store = store
        self._pauses: dict[str, tuple[float, float]] = {}  # account -> (read at, monotonic; paused until)
        self._warned = False

    async def take(self, account: str, claims: Sequence[Claim], now: float) -> Verdict:
        read_at, paused = self._pauses.get(account, (-1.0, 0.0))
        fresh = time.monotonic() - read_at < PAUSE_CACHE_S
        if not fresh:  # the others read it now: one read per PAUSE_CACHE_S, not one per request
            self._pauses[account] = (time.monotonic(), paused)
        try:
            verdict, record = await anyio.to_thread.run_sync(self._take, account, claims, not fresh)
        except Exception as exc:
            if not self._warned:
                self._warned = True
                log.warning("the store did not answer for the shared rate limits; requests go unshared: %s", exc)
            return Verdict(True, paused_until=paused)
        if record is not None:
            paused = float(record.get("paused_until", 0.0))
            self._pauses[account] = (time.monotonic(), paused)
        return Verdict(verdict.allowed, verdict.retry_at, paused, verdict.budget, verdict.window_end)

    def _take(self, account: str, claims: Sequence[Claim], read: bool) -> tuple[Verdict, dict[str, Any] | None]:
        """In a worker thread: (the verdict, the account's record when read)."""
        refused: Claim | None = None
        for claim in claims:
            if claim.need > claim.limit:  # never fits a window: let the provider decide
                continue
            first = self.store.allocate(claim.counter, claim.need, at_least=claim.at_least)
            if first + claim.need - 1 > claim.limit:
                refused = claim
                break  # the other budgets keep what this request did not use
        end = None
        if refused is not None and refused.start is not None:  # the spent window's end, if known
            read = True
        record = self._read(account) if read else None
        if refused is None:
            return Verdict(True), record
        window = (record or {}).get("windows", {}).get(refused.budget)
        if refused.start is not None and window and abs(float(window[0]) - refused.start) < 0.05:
            end = float(window[1])
        return Verdict(False, refused.retry_at if end is None else end, 0.0, refused.budget, end), record

    def _read(self, account: str) -> dict[str, Any]:
        try:
            return self.store.get_record(KIND, account_id(account))
        except NotFoundError:
            return {}

    def publish_pause(self, account: str, until: float) -> None:
        self._pauses[account] = (time.monotonic(), until)

        def change(old: dict[str, Any]) -> dict[str, Any] | None:
            return None if float(old.get("paused_until", 0.0)) >= until else {**old, "paused_until": until}

        self._publish(account, change)

    def publish_window(self, account: str, budget: str, start: float, end: float) -> None:
        def change(old: dict[str, Any]) -> dict[str, Any] | None:
            known = old.get("windows", {}).get(budget)
            if known and float(known[0]) >= start - 0.05:  # this one or a later one is there
                return None
            return {**old, "windows": {**old.get("windows", {}), budget: [start, end]}}

        self._publish(account, change)

    def _publish(self, account: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        """Apply `change` to the account's record with compare-and-set, in a thread of its own: a
        429 or a new window is rare (once a window per server), a thread simpler than a queue."""
        def run() -> None:
            key = account_id(account)
            try:
                for _ in range(10):  # another server's write in between: read again
                    try:
                        old: dict[str, Any] | None = self.store.get_record(KIND, key)
                    except NotFoundError:
                        old = None
                    new = change(old or {})
                    if new is None or self.store.swap_record(KIND, key, old, new):
                        return
            except Exception as exc:
                log.warning("could not share a rate-limit record: %s", exc)

        threading.Thread(target=run, name="llmproc-mcp-ratelimit", daemon=True).start()


def install(persistence: object) -> StoreBudget | None:
    """Share the running loop's rate limits through `persistence`'s store, if it has one."""
    store = getattr(persistence, "store", None)
    if not getattr(persistence, "shared", False) or store is None:
        return None
    budget = StoreBudget(store)
    ratelimit.set_shared(budget)
    return budget


def uninstall(budget: StoreBudget | None) -> None:
    if budget is not None and ratelimit.current_shared() is budget:
        ratelimit.set_shared(None)


__all__ = ["KIND", "StoreBudget", "install", "uninstall"]
