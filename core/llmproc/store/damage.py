"""A damaged store, contained: unreadable rows are quarantined, a damaged file is reported.

Rows: a stored value that is not UTF-8, not JSON, or not a JSON object (a record's value, a
process's state) is moved, in one transaction, to the records kind `damaged:<kind>` (process
states: `damaged:processes`, keyed by the process name) as `{"raw": the text, "reason", "kind",
"key", "at"}`, so nothing is lost, and a warning names it. The rest of the store is served as
before; `llmproc store check` lists the quarantined rows (and `--discard-quarantined` drops them).

Files: SQLite's "file is not a database" and "database disk image is malformed" (at open or at
any read), and a zero-byte file older than `TRUNCATED_AFTER_S` (a creator racing us has a
zero-byte file for a moment; SQLite would silently start over in it, reusing pids), raise
`DamagedStoreError`: one line saying what is wrong and what to do. A new store is started only
when asked (`move_aside`, used by `llmproc store check --move-aside` and `llmproc-mcp
--new-store-if-damaged`): the file and its -wal/-shm go to `<file>.damaged-<UTC time>`.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Protocol

from llmproc.errors import DamagedStoreError, NotFoundError, StateError
from llmproc.store.base import dumps_json

log = logging.getLogger("llmproc.store")

DAMAGED = "damaged:"  # prefix of the records kinds quarantined rows are kept under
PROCESSES = "processes"  # the "kind" of a process state, in damaged:processes and messages
TRUNCATED_AFTER_S = 10.0
_CORRUPT_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
_SIDE_FILES = ("-wal", "-shm", "-journal")

Raw = str | bytes  # a stored value as the backend read it (SQLite: bytes, so bad UTF-8 is kept)


class Quarantining(Protocol):
    location: str

    def _move_to_damaged(self, kind: str | None, key: str, raw: Raw, value: str) -> bool: ...


# -- rows ------------------------------------------------------------------------------------------
def decode(raw: Raw) -> tuple[dict[str, Any] | None, str]:
    """The JSON object stored as `raw`, or None and why it is not one."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    else:
        text = raw
    try:
        value = json.loads(text)
    except ValueError as exc:
        return None, f"not valid JSON ({exc})"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not an object"
    return value, ""


def read(store: Quarantining, kind: str | None, key: str, raw: Raw) -> dict[str, Any] | None:
    """The value of a row; None when it was unreadable and is now quarantined. `kind` None: a
    process state (the processes table)."""
    value, reason = decode(raw)
    if value is None:
        quarantine(store, kind, key, raw, reason)
    return value


def quarantine(store: Quarantining, kind: str | None, key: str, raw: Raw, reason: str) -> bool:
    """Move a row to damaged:<kind>, keeping its text; False when it changed meanwhile (someone
    rewrote it: the new value is read next time)."""
    text = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
    shown = kind or PROCESSES
    # ASCII JSON: lone surrogates (undecodable bytes) survive as \\udcXX escapes, on any backend
    value = dumps_json({"raw": text, "reason": reason, "kind": shown, "key": key, "at": time.time()},
                       ascii_only=True)
    moved = store._move_to_damaged(kind, key, raw, value)
    if moved:
        log.warning("quarantined damaged record %s/%s in %s: %s; `llmproc store check` lists it",
                    shown, key, store.location, reason)
    return moved


def quarantine_value(store: Any, kind: str, key: str, value: dict[str, Any], reason: str) -> bool:
    """Quarantine a record that is JSON but of the wrong shape for its reader (an MCP process
    row missing fields), if it still holds `value`: one transaction."""
    with store.batch():
        if not store.swap_record(kind, key, value, None):
            return False
        store.put_record(DAMAGED + kind, key, {"raw": dumps_json(value), "reason": reason, "kind": kind,
                                               "key": key, "at": time.time()})
    log.warning("quarantined damaged record %s/%s in %s: %s; `llmproc store check` lists it",
                kind, key, store.location, reason)
    return True


def state(store: Quarantining, name: str, raw: Raw) -> dict[str, Any]:
    """A process state read from the store; StateError (one line) when it is unreadable: it is
    quarantined, so `llmproc ps` stops offering it and the other processes go on."""
    value, reason = decode(raw)
    if value is not None:
        return value
    quarantine(store, None, name, raw, reason)
    raise StateError(f"the saved process {name!r} in {store.location} is damaged ({reason}); it was moved "
                     f"to {DAMAGED}{PROCESSES}/{name}, which `llmproc store check` lists: start it anew")


def record(store: Quarantining, kind: str, key: str, raw: Raw) -> dict[str, Any]:
    """A record read from the store; NotFoundError when it is unreadable (now quarantined)."""
    value, reason = decode(raw)
    if value is not None:
        return value
    quarantine(store, kind, key, raw, reason)
    raise NotFoundError(f"the record {kind}/{key} in {store.location} was damaged ({reason}) and is "
                        f"quarantined as {DAMAGED}{kind}/{key} (llmproc store check)")


# -- files -----------------------------------------------------------------------------------------
def is_corrupt(exc: BaseException | None) -> bool:
    """Whether a SQLite error says the file itself is damaged (not a busy or full disk)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code is not None and (code & 0xFF) in _CORRUPT_CODES


def damaged(path: str | os.PathLike[str], detail: str) -> DamagedStoreError:
    return DamagedStoreError(
        f"the process store {path} is damaged ({detail}): move it aside and start a new store with "
        f"`llmproc store check --store {path} --move-aside` (llmproc-mcp: --new-store-if-damaged); "
        "the moved file keeps what it holds for recovery", path=str(path))


def check_not_truncated(path: Path) -> None:
    """DamagedStoreError for an old zero-byte store file (a new SQLite file has its first page
    at once; SQLite would take an empty file for a new store and hand out pids from 1 again)."""
    try:
        info = path.stat()
    except OSError:
        return
    if info.st_size == 0 and time.time() - info.st_mtime > TRUNCATED_AFTER_S:
        raise damaged(path, "the file is empty: truncated")


def move_aside(path: str | os.PathLike[str]) -> Path:
    """Rename a damaged store file (and its -wal/-shm, which belong to it) to
    `<file>.damaged-<UTC time>`; the new path."""
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    os.replace(path, target)
    for side in _SIDE_FILES:
        if os.path.exists(f"{path}{side}"):
            os.replace(f"{path}{side}", f"{target}{side}")
    return target


def moved_line(exc: DamagedStoreError, target: Path, started: bool = False) -> str:
    """One line for a store that was moved aside (the message of the damage, then where)."""
    detail = str(exc).split(": move it aside")[0]
    then = "a new store was started there" if started else "the next use starts a new store there"
    return f"{detail}: moved to {target}; {then}"


__all__ = ["DAMAGED", "PROCESSES", "TRUNCATED_AFTER_S", "check_not_truncated", "damaged", "decode",
           "is_corrupt", "move_aside", "moved_line", "quarantine", "quarantine_value", "read", "record", "state"]
