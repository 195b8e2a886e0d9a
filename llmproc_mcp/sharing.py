"""What a server needs to share one store with other servers: its lease, and ids nobody reuses.

- Pids and fd ids come from the store's counters (`allocate`), so two servers never hand out the
  same one and none is ever reused. Pids are allocated when processes are created (one call for a
  whole spawn); fd ids are reserved in blocks ahead of use, since an answer becomes an fd in code
  that must not wait (a run's end, a result being rendered), and a block left unused when the
  server stops only leaves a gap in the numbers.
- The lease (leases.py) says this server is alive; `live()` says which others are, so a server
  marks a run interrupted, or takes a process over, only when its owner is gone.
Without a store (`--no-state`) nothing is shared: ids come from memory and only this server lives.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import anyio

from llmproc_mcp import leases
from llmproc_mcp.persist import Persistence

log = logging.getLogger("llmproc_mcp.sharing")
FD_BLOCK = 64  # fd ids reserved at a time; more than the runs that may end in one tick


class Sharing:
    def __init__(self, persistence: Persistence):
        self.persistence = persistence
        self.server_id = leases.new_server_id() if persistence.shared else "this server"
        self._fd_ids: list[int] = []
        self._refilling = False
        self._pids_wanted: list[_PidRequest] = []
        self._pid_lock = anyio.Lock()
        self._beating: threading.Event | None = None
        self.others_seen = False  # whether live() last saw another server alive (the sweep asks often)

    # -- the lease -----------------------------------------------------------------------------
    def renew(self, heartbeat: float | None = None) -> None:
        self.persistence.put(leases.KIND, self.server_id, self._lease(time.time() if heartbeat is None else heartbeat))

    def _lease(self, heartbeat: float) -> dict[str, Any]:
        return {**leases.Lease(self.server_id, heartbeat).record(), "host": socket.gethostname(), "pid": os.getpid()}

    def keep_alive(self) -> None:
        """Renew the lease every RENEW_S from a thread of its own, written straight to the store:
        a busy event loop (or a queue of big writes) is not a dead server, and must not let the
        lease expire and the server's runs be taken over while it is still running them."""
        self.renew()
        self._beating = threading.Event()
        threading.Thread(target=self._beat, args=(self._beating,), name="llmproc-mcp-lease", daemon=True).start()

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(leases.RENEW_S):
            try:
                self.persistence.put_now(leases.KIND, self.server_id, self._lease(time.time()))
            except Exception as exc:  # the store is away: the lease lapses if this goes on
                log.warning("could not renew this server's lease: %s", exc)

    def give_up(self) -> None:
        """A clean stop: other servers need not wait for the lease to expire."""
        if self._beating is not None:
            self._beating.set()
        if self.persistence.shared:
            self.renew(heartbeat=0.0)

    async def live(self) -> set[str]:
        """The servers whose lease holds now, this one included."""
        if not self.persistence.shared:
            return {self.server_id}
        live = leases.live_servers(await self.persistence.arecords(leases.KIND))
        self.others_seen = bool(live - {self.server_id})
        return live | {self.server_id}

    # -- ids -------------------------------------------------------------------------------------
    async def new_pids(self, count: int, at_least: int) -> list[int]:
        """`count` new pids. Requests made while an allocation is under way share the next one:
        a burst of runs costs a few store transactions, not one each."""
        request = _PidRequest(count)
        self._pids_wanted.append(request)
        async with self._pid_lock:
            if request.pids is None and request.error is None:  # allocate for all that wait
                batch, self._pids_wanted = self._pids_wanted, []
                try:
                    first = await self.persistence.allocate("pid", sum(r.count for r in batch), at_least)
                except Exception as exc:
                    for waiting in batch:
                        waiting.error = exc
                    raise
                for waiting in batch:
                    waiting.pids, first = list(range(first, first + waiting.count)), first + waiting.count
        if request.error is not None:
            raise request.error
        assert request.pids is not None
        return request.pids

    async def reserve_fd_ids(self, count: int, at_least: int = 1) -> None:
        """Have at least `count` fd ids in hand (reserved in the store, unused by anyone)."""
        while len(self._fd_ids) < count:
            first = await self.persistence.allocate("fd", FD_BLOCK, at_least)
            self._fd_ids.extend(range(first, first + FD_BLOCK))

    def take_fd_id(self, group: Any) -> str:
        """An fd id from the reserve, refilled in the background (`group`: the table's tasks).
        The reserve is FD_BLOCK deep, so running dry takes FD_BLOCK answers in one tick; then an
        id is allocated right here (one short store transaction on the event loop, logged)."""
        if not self._fd_ids:
            log.warning("fd id reserve ran dry: allocating on the event loop")
            first = self.persistence.allocate_now("fd", FD_BLOCK)
            self._fd_ids.extend(range(first, first + FD_BLOCK))
        fd = self._fd_ids.pop(0)
        if len(self._fd_ids) < FD_BLOCK // 2 and not self._refilling and group is not None:
            self._refilling = True
            group.start_soon(self._refill)
        return f"fd:{fd}"

    async def _refill(self) -> None:
        try:
            await self.reserve_fd_ids(FD_BLOCK)
        finally:
            self._refilling = False


class _PidRequest:
    def __init__(self, count: int):
        self.count = count
        self.pids: list[int] | None = None
        self.error: Exception | None = None


__all__ = ["FD_BLOCK", "Sharing"]
