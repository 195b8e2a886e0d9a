"""The process table's rows: what a host sees about each process, kept in the store and shared
with the other servers of that store.

Every row names its `owner` (sharing.py). A server writes only its own rows; it reads the
others' from the store for `ps`, `wait` and `read_fd`, refuses `send`, `fork` and `kill` on a
process whose owner is alive (one line saying where to call), and takes over, or marks
interrupted, the rows of an owner that is gone. Answers too long to show are fds, stored once
under ids no server reuses. The runs themselves are table.py's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import anyio
from anyio.abc import TaskGroup
from llmproc.errors import FDError
from llmproc.fd import FDTable
from llmproc.fd.manager import FileDescriptor, normalize_id
from mcp.server.mcpserver.exceptions import ToolError

from llmproc_mcp import clients
from llmproc_mcp.entry import Entry, Status
from llmproc_mcp.persist import Persistence
from llmproc_mcp.settings import ServerSettings
from llmproc_mcp.sharing import Sharing

log = logging.getLogger("llmproc_mcp.rows")


class Rows:
    def __init__(self, settings: ServerSettings, persistence: Persistence):
        self.settings = settings
        self.persistence = persistence
        self.entries: dict[int, Entry] = {}
        self.fds = FDTable(page_size=settings.page_chars, max_direct_chars=settings.page_chars)
        self.sharing = Sharing(persistence)
        self._next_pid = 1  # above every pid of the rows read at start (an older store's counter)
        self._next_fd = 1
        self._watchers: dict[int, set[anyio.Event]] = {}
        self._group: TaskGroup | None = None  # the table's tasks (fd ids are refilled there)

    def _load(self, fds: list[dict[str, Any]], rows: list[dict[str, Any]], *, live: set[str]) -> None:
        readable = []
        for data in fds:  # one bad row must not stop the server: it is kept aside
            if isinstance(data.get("id"), str) and isinstance(data.get("content"), str):
                readable.append(data)
            else:
                self.persistence.quarantine("fd", data, "not an answer fd (a string id and content expected)")
        for data in sorted(readable, key=lambda d: _fd_number(d["id"])):
            self.fds.create(data["content"], source=data.get("source", ""), fd_id=data["id"])
            self._next_fd = max(self._next_fd, _fd_number(data["id"]) + 1)
        for data in rows:
            entry = self._merge(data, live)
            if entry is not None:
                self._next_pid = max(self._next_pid, entry.pid + 1)

    def _merge(self, data: dict[str, Any], live: set[str]) -> Entry | None:
        """A row read from the store into the table: another server's process as it stands there;
        an active run whose owner is gone marked interrupted (this server takes the row over)."""
        try:
            entry = Entry.from_record(data)
        except (KeyError, TypeError, ValueError) as exc:  # the other rows are served; this one is kept aside
            self.persistence.quarantine("process", data, f"not a process row ({type(exc).__name__}: {exc})")
            return None
        known = self.entries.get(entry.pid)
        if known is not None and self.owns(known):
            if known.status.active or entry.owner in ("", self.sharing.server_id):
                return known  # ours: memory is the truth (what it says may not be committed yet)
            self._let_go(known)  # another server took it over while it was idle: its state is newer
        if entry.status.active and entry.owner not in live and not entry.resumable:
            # its server stopped without finishing it, and nobody continues it (a row from before
            # runs were journaled): this server takes it over as interrupted
            entry.status, entry.owner = Status.INTERRUPTED, self.sharing.server_id
            entry.activity = "interrupted: its server stopped"
            self._persist(entry)
        if entry.answer_fd is not None and entry.answer_fd in self.fds:
            entry.answer = self.fds.get(entry.answer_fd).content
        if known is not None:  # keep the live parts (watchers wait on `done`)
            for name in Entry._FIELDS:
                setattr(known, name, getattr(entry, name))
            if not known.status.active:
                known.done.set()
            self._notify(known)
            return known
        self.entries[entry.pid] = entry
        return entry

    def owns(self, entry: Entry) -> bool:
        return entry.owner in ("", self.sharing.server_id)

    def _let_go(self, entry: Entry) -> None:
        """Drop our live copy of a process another server now owns (closed in the background)."""
        process, entry.process = entry.process, None
        if process is not None and self._group is not None:
            self._group.start_soon(_close_quietly, process)

    async def refresh(self, pids: Sequence[int] | None = None) -> None:
        """Read other servers' rows (all, or `pids`) from the store into the table."""
        if not self.persistence.shared:
            return
        live = await self.sharing.live()
        if pids is None:
            rows = list((await self.persistence.arecords("process")).values())
        else:
            found = [await self.persistence.arecord("process", str(pid)) for pid in pids]
            rows = [row for row in found if row is not None]
        for data in rows:
            self._merge(data, live)
        missing = {e.answer_fd for e in self.entries.values() if e.answer_fd and e.answer_fd not in self.fds}
        for fd_id in missing:
            await self.fd(fd_id)

    # -- lookups -----------------------------------------------------------------------------
    async def lookup(self, pid: int) -> Entry:
        """The process `pid` as the store has it now (another server may own it, or have taken
        it over; our own running processes are as memory has them)."""
        await self.refresh([int(pid)])
        return self.get(pid)

    async def fd(self, fd_id: str) -> FileDescriptor | None:
        """An fd of this table, or one another server stored (answers are stored once, by id)."""
        try:
            fd_id = normalize_id(fd_id)
        except (FDError, ValueError, TypeError):
            return None  # read_fd reports the bad id
        if fd_id not in self.fds:
            try:
                data = await self.persistence.arecord("fd", fd_id)
            except ValueError:  # not a key the store can hold
                data = None
            if data is None:
                return None
            if fd_id not in self.fds:
                self.fds.create(data["content"], source=data.get("source", ""), fd_id=data["id"])
        return self.fds.get(fd_id)

    async def claim(self, entry: Entry, doing: str, *, busy: bool = False) -> None:
        """Make `entry` ours before `doing` it. A process that is not running is taken over from
        whichever server held it (its state is restored from the store; that server lets its copy
        go when it next looks); one running on another live server is refused. The take is one
        compare-and-set on its row: of two servers taking it at once, one wins. `busy`: the row
        says `queued` in the same write, so nobody takes it while its run is being prepared."""
        if self.owns(entry):
            return
        stored = await self.persistence.arecord("process", str(entry.pid))
        owner = str((stored or {}).get("owner", ""))
        if stored is not None and _active(stored) and owner in await self.sharing.live():
            raise ToolError(f"process {entry.pid} is {stored['status']} on the llmproc-mcp server "
                            f"{owner}: {doing} it when it has answered (wait)")
        taken = {**(stored or {}), "owner": self.sharing.server_id}
        if busy:
            taken.update(status=Status.QUEUED.value, activity="queued")
        if stored is None or owner != entry.owner or not await self.persistence.aswap(
                "process", str(entry.pid), stored, taken):
            raise ToolError(f"process {entry.pid} was just taken over by another llmproc-mcp server; "
                            f"{doing} it again in a moment")
        entry.owner, entry.process = self.sharing.server_id, None
        self._persist(entry)
        await self.persistence.flush()  # the old owner must see the change before it acts

    def get(self, pid: int) -> Entry:
        """The process `pid`, if the calling client may see it; another client's process is
        refused exactly like one that does not exist."""
        entry = self.entries.get(int(pid))
        client = clients.current.get()
        if entry is None or not client.sees(entry.client):
            mine = [p for p in sorted(self.entries) if client.sees(self.entries[p].client)]
            known = ", ".join(str(p) for p in mine[-20:]) or "none yet"
            raise ToolError(f"no process {pid}; known pids: {known} (see ps)")
        return entry

    def visible(self) -> list[Entry]:
        """The processes the calling client may see, by pid."""
        client = clients.current.get()
        return [e for _pid, e in sorted(self.entries.items()) if client.sees(e.client)]

    async def may_read(self, fd: FileDescriptor) -> bool:
        """True when `fd` holds the answer of a process the calling client may see."""
        if any(e.answer_fd == fd.id for e in self.visible()):
            return True
        await self.refresh()  # the process may be another server's, not read yet
        return any(e.answer_fd == fd.id for e in self.visible())

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

    # -- answers as fds ----------------------------------------------------------------------
    def answer_fd(self, entry: Entry) -> FileDescriptor:
        """The fd holding the entry's answer, created (and stored) on first use."""
        if entry.answer_fd is not None and entry.answer_fd in self.fds:
            return self.fds.get(entry.answer_fd)
        fd = self.fds.create(entry.answer, source=f"answer of process {entry.pid} (run {entry.runs})",
                             fd_id=self.sharing.take_fd_id(self._group))
        self.persistence.put("fd", fd.id, {"id": fd.id, "source": fd.source, "content": fd.content})
        if self.owns(entry):  # another server's row is its to write
            entry.answer_fd = fd.id
            self._persist(entry)
        return fd

    async def flush(self) -> None:
        """Wait until every change made so far is in the store (off the event loop)."""
        await self.persistence.flush()

    def _persist(self, entry: Entry) -> None:
        if not self.owns(entry):
            return
        entry.updated = time.time()
        self.persistence.put("process", str(entry.pid), entry.record())
        self._notify(entry)


async def _close_quietly(process: Any) -> None:
    try:
        await process.aclose()
    except Exception:
        log.exception("could not close a process another server took over")


def _active(row: dict[str, Any]) -> bool:
    try:
        return Status(row.get("status")).active
    except ValueError:  # a damaged row: not known to be running
        return False


def _fd_number(fd_id: str) -> int:
    tail = fd_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


__all__ = ["Rows"]
