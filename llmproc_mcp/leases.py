"""Which servers of a shared store are alive: a lease per server, renewed by a heartbeat.

Several llmproc-mcp servers may use one store (two host windows on the default state folder,
several instances of a team server). Each process row names its `owner`, the server that runs
it or holds it live. A server writes `("server", <its id>)` with the time of its last heartbeat
every `RENEW_S`; a lease older than `TTL_S` is expired, and so is one its server gave up when
it stopped cleanly. Only then may another server mark that owner's runs interrupted or take
its processes over. A server on this machine whose process is gone (SIGKILL, a crash) is dead at
once: a restart need not wait out its lease. Times are wall-clock seconds of the writing machines: servers on several
machines need their clocks within a few seconds of each other (NTP), well under TTL_S.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

RENEW_S = 2.0
TTL_S = 15.0  # seven missed heartbeats (written by a thread, so a busy loop does not miss them)
KIND = "server"


def new_server_id() -> str:
    """host:pid:random: readable in an error message, unique even when a pid is reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Lease:
    server: str
    heartbeat: float  # 0: given up (the server stopped cleanly)

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) - self.heartbeat > TTL_S

    def record(self) -> dict[str, Any]:
        return {"server": self.server, "heartbeat": self.heartbeat}


def live_servers(records: dict[str, dict[str, Any]], now: float | None = None) -> set[str]:
    """The ids of the servers whose lease holds, from the store's `server` records."""
    live = set()
    here = socket.gethostname()
    for key, data in records.items():
        try:
            lease = Lease(str(data.get("server", key)), float(data["heartbeat"]))
        except (KeyError, TypeError, ValueError):  # a damaged row: that server is not known alive
            continue
        if lease.expired(now) or (data.get("host") == here and not _running(data.get("pid"))):
            continue
        live.add(lease.server)
    return live


def _running(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True  # unknown: trust the lease
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


__all__ = ["KIND", "Lease", "RENEW_S", "TTL_S", "live_servers", "new_server_id"]
