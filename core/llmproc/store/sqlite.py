"""`SQLiteStore`: saved processes in one SQLite file (standard library, WAL mode).

    store = open_store()                       # $LLMPROC_STATE_DIR/llmproc.db, else XDG state dir
    store.save("notes", process.snapshot())
    process = await LLMProcess.restore(store.load("notes"))

Where: `store_path(path_or_dir)` takes a file (`*.db`, `*.sqlite`, `*.sqlite3`, or an existing
file) or a directory; default `$LLMPROC_STATE_DIR`, else `$XDG_STATE_HOME/llmproc`, else
`~/.local/state/llmproc`, with the file `llmproc.db` in it. `open_store` (open.py) also takes
`$LLMPROC_STORE` and PostgreSQL URLs.

Why it survives crashes: each save is one SQL statement, hence one transaction; in WAL mode a
transaction is either wholly in the log or not at all, so a writer killed mid-save (SIGKILL)
leaves every committed state readable. `synchronous=NORMAL` (the default here) is safe against
process crashes; `durable=True` (`synchronous=FULL`) also survives power loss at the cost of an
fsync per save.

Concurrency: one connection per store object, guarded by a lock, so threads may share a store;
other processes (a CLI next to the MCP server) wait up to `BUSY_TIMEOUT_S` for a lock. Every call
is short; the `a*` methods run it in a worker thread for async code; `batch()` commits many
writes at once.

Format: `PRAGMA user_version`. 1: processes, records. 2: + counters (`allocate`); a format-1
file gains the table when it opens (CREATE IF NOT EXISTS is the whole migration).
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llmproc.errors import NotFoundError, StoreError
from llmproc.store import damage
from llmproc.store.base import (
    NAMES_LISTED, AsyncTwins, StoredProcess, check_allocation, check_record_key, dumps_json, not_found_message, prepare_save,
)

DB_NAME = "llmproc.db"
STORE_FORMAT = 2  # PRAGMA user_version of the file; bump with a migration when tables change
BUSY_TIMEOUT_S = 10.0
_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS processes (
    name TEXT PRIMARY KEY,
    program TEXT NOT NULL,
    model TEXT NOT NULL,
    turns INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    cost_usd REAL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    state TEXT NOT NULL  -- last: a listing reads the columns before it and never this one's pages
);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL  -- the next id to hand out
);
"""
_HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)
_SUMMARY_COLUMNS = "name, program, model, turns, messages, tokens, cost_usd, status, created_at, updated_at"


def state_dir() -> Path:
    """The directory saved processes live in: $LLMPROC_STATE_DIR, else the XDG state dir."""
    configured = os.environ.get("LLMPROC_STATE_DIR")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state") / "llmproc"


def store_path(path_or_dir: str | os.PathLike[str] | None = None) -> Path:
    if path_or_dir is None:
        return state_dir() / DB_NAME
    path = Path(path_or_dir).expanduser()
    if path.suffix.lower() in _DB_SUFFIXES or path.is_file():
        return path
    return path / DB_NAME


class SQLiteStore(AsyncTwins):
    def __init__(self, path: str | os.PathLike[str], *, durable: bool = False):
        self.path = Path(path)
        self.location = str(self.path)
        self._lock = threading.RLock()  # re-entrant: save() inside batch()
        try:
            # States hold conversations: keep the directory private to the user.
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            damage.check_not_truncated(self.path)
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the process store {self.path}: {exc}; set LLMPROC_STATE_DIR "
                             "to a writable directory") from None
        try:
            self._setup(durable)
        except BaseException:
            self.close()
            raise

    def _setup(self, durable: bool) -> None:
        # Two processes opening a new file at once race to switch it to WAL; SQLite answers the
        # loser "database is locked" at once, without waiting on its busy timeout. Retry that here.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        delay = 0.002
        while True:
            try:
                return self._configure(durable)
            except StoreError as exc:
                if not _is_busy(exc.__cause__) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay * random.uniform(1, 2))  # jitter: the racers must not retry in step
            delay = min(delay * 2, 0.1)

    def _configure(self, durable: bool) -> None:
        with self._db("open") as db:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":  # e.g. a file system without shared memory
                raise StoreError(f"the process store {self.path} cannot use WAL mode (got {mode!r})")
            db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            db.execute("BEGIN IMMEDIATE")  # two processes creating the file at once: one does it
            try:
                found = db.execute("PRAGMA user_version").fetchone()[0]
                if found > STORE_FORMAT:
                    raise StoreError(f"the process store {self.path} has format {found}, written by a newer "
                                     f"llmproc; this one reads format {STORE_FORMAT}: upgrade llmproc")
                if found < STORE_FORMAT:  # only then: opening a current file writes nothing (a damaged one stays as found)
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version={STORE_FORMAT}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @contextmanager
    def _db(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection, held under the lock; SQLite errors become StoreErrors that name the file."""
        with self._lock:
            if self._conn is None:
                raise StoreError(f"the process store {self.path} is closed")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                if damage.is_corrupt(exc):
                    raise damage.damaged(self.path, f"{doing}: {exc}") from exc
                raise StoreError(f"process store {self.path}: {doing} failed: {exc}") from exc

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Every save, put_record, delete and allocate inside the block in one transaction (one
        commit): all of them or none. The store is held by this thread until the block ends."""
        with self._db("writing a batch") as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if db.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
                    db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error:  # e.g. disk full while writing the log: leave no transaction open
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    # -- saved processes ---------------------------------------------------------------------
    def save(self, name: str, state: dict[str, Any]) -> None:
        info, text = prepare_save(name, state)
        now = time.time()
        with self._db(f"saving {name!r}") as db:
            db.execute(
                f"INSERT INTO processes ({_SUMMARY_COLUMNS}, state) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET program=excluded.program, model=excluded.model, "
                "turns=excluded.turns, messages=excluded.messages, tokens=excluded.tokens, "
                "cost_usd=excluded.cost_usd, status=excluded.status, updated_at=excluded.updated_at, "
                "state=excluded.state",
                (name, info["program"], info["model"], info["turns"], info["messages"], info["tokens"],
                 info["cost_usd"], info["status"], now, now, text))

    def load(self, name: str) -> dict[str, Any]:
        with self._db(f"loading {name!r}") as db:
            # bytes: a value that is not UTF-8 is quarantined, not a failed query
            row = db.execute("SELECT CAST(state AS BLOB) FROM processes WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(self._not_found(name))
        return damage.state(self, name, row[0])

    def exists(self, name: str) -> bool:
        with self._db(f"looking up {name!r}") as db:
            return db.execute("SELECT 1 FROM processes WHERE name = ?", (name,)).fetchone() is not None

    def list(self) -> list[StoredProcess]:
        with self._db("listing") as db:
            rows = db.execute(f"SELECT {_SUMMARY_COLUMNS} FROM processes "
                              "ORDER BY updated_at DESC, name").fetchall()
        return [StoredProcess(*row) for row in rows]

    def delete(self, name: str) -> None:
        with self._db(f"deleting {name!r}") as db:
            deleted = db.execute("DELETE FROM processes WHERE name = ?", (name,)).rowcount
        if not deleted:
            raise NotFoundError(self._not_found(name))

    def _not_found(self, name: str) -> str:
        with self._db("listing") as db:
            names = [r[0] for r in db.execute(
                "SELECT name FROM processes ORDER BY updated_at DESC LIMIT ?", (NAMES_LISTED + 1,))]
        return not_found_message(name, names, str(self.path))

    # -- records: small JSON dicts for front ends --------------------------------------------------
    def put_record(self, kind: str, key: str, value: dict[str, Any]) -> None:
        check_record_key(kind, key)
        text = dumps_json(value)
        with self._db(f"saving record {kind}/{key}") as db:
            db.execute("INSERT INTO records (kind, key, value, updated_at) VALUES (?,?,?,?) "
                       "ON CONFLICT(kind, key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                       (kind, key, text, time.time()))

    def get_record(self, kind: str, key: str) -> dict[str, Any]:
        with self._db(f"loading record {kind}/{key}") as db:
            row = db.execute("SELECT CAST(value AS BLOB) FROM records WHERE kind = ? AND key = ?",
                             (kind, key)).fetchone()
        if row is None:
            raise NotFoundError(f"no record {key!r} of kind {kind!r} in {self.path}")
        return damage.record(self, kind, key, row[0])

    def list_records(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every record of `kind`, key -> value, in the order the keys were first written."""
        with self._db(f"listing records {kind}") as db:
            rows = db.execute("SELECT key, CAST(value AS BLOB) FROM records WHERE kind = ? ORDER BY rowid",
                              (kind,)).fetchall()
        read = ((key, damage.read(self, kind, key, raw)) for key, raw in rows)
        return {key: value for key, value in read if value is not None}  # the unreadable are quarantined

    def raw_records(self, prefix: str = "") -> list[tuple[str, str, bytes]]:
        """(kind, key, stored bytes) of every record whose kind starts with `prefix`, unparsed:
        for `llmproc store check` and the warnings about quarantined rows."""
        with self._db("listing records") as db:
            return db.execute("SELECT kind, key, CAST(value AS BLOB) FROM records WHERE substr(kind, 1, ?) = ? "
                              "ORDER BY kind, rowid", (len(prefix), prefix)).fetchall()

    def _move_to_damaged(self, kind: str | None, key: str, raw: damage.Raw, value: str) -> bool:
        """damage.quarantine's one transaction: the row goes if it still holds `raw`."""
        where = ("DELETE FROM processes WHERE name = ? AND CAST(state AS BLOB) = ?" if kind is None else
                 "DELETE FROM records WHERE kind = ? AND key = ? AND CAST(value AS BLOB) = ?")
        with self._write_locked(f"quarantining {kind or damage.PROCESSES}/{key}") as db:
            if not db.execute(where, (key, raw) if kind is None else (kind, key, raw)).rowcount:
                return False
            db.execute("INSERT OR REPLACE INTO records (kind, key, value, updated_at) VALUES (?,?,?,?)",
                       (damage.DAMAGED + (kind or damage.PROCESSES), key, value, time.time()))
        return True

    def delete_record(self, kind: str, key: str) -> bool:
        """Remove a record; False when there was none."""
        with self._db(f"deleting record {kind}/{key}") as db:
            return db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key)).rowcount > 0

    def swap_record(self, kind: str, key: str, expect: dict[str, Any] | None,
                    value: dict[str, Any] | None) -> bool:
        """See `ProcessStore.swap_record`."""
        check_record_key(kind, key)
        text = None if value is None else dumps_json(value)
        with self._write_locked(f"swapping record {kind}/{key}") as db:  # nobody writes between read and write
            row = db.execute("SELECT value FROM records WHERE kind = ? AND key = ?", (kind, key)).fetchone()
            swapped = (row is None) if expect is None else (row is not None and damage.decode(row[0])[0] == expect)
            if swapped and text is None:
                db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))
            elif swapped:
                db.execute("INSERT INTO records (kind, key, value, updated_at) VALUES (?,?,?,?) "
                           "ON CONFLICT(kind, key) DO UPDATE SET value=excluded.value, "
                           "updated_at=excluded.updated_at", (kind, key, text, time.time()))
        return swapped

    # -- counters: ids unique across everyone sharing the file -------------------------------------
    def allocate(self, counter: str, count: int = 1, *, at_least: int = 1) -> int:
        """See `ProcessStore.allocate`. Allowed inside `batch()` (it joins the batch's transaction)."""
        check_allocation(counter, count, at_least)
        with self._write_locked(f"allocating ids of {counter!r}") as db:
            return _bump(db, counter, count, at_least)

    @contextmanager
    def _write_locked(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection holding SQLite's write lock for the block: a transaction of its own,
        or the batch() already open (which holds it)."""
        with self._db(doing) as db:
            own = not db.in_transaction
            if own:
                db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                if own:
                    db.execute("COMMIT")
            except BaseException:
                if own and db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SQLiteStore {self.path}{' closed' if self._conn is None else ''}>"


def _bump(db: sqlite3.Connection, counter: str, count: int, at_least: int) -> int:
    """Move the counter past `count` ids and return the first; the caller holds the write lock."""
    if _HAS_RETURNING:
        (after,) = db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) "
            "DO UPDATE SET value = max(value, ?) + ? RETURNING value",
            (counter, at_least + count, at_least, count)).fetchone()
    else:  # SQLite < 3.35: the write lock makes UPDATE-then-SELECT just as atomic
        db.execute("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) "
                   "DO UPDATE SET value = max(value, ?) + ?", (counter, at_least + count, at_least, count))
        (after,) = db.execute("SELECT value FROM counters WHERE name = ?", (counter,)).fetchone()
    return after - count


def _is_busy(exc: BaseException | None) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


__all__ = ["BUSY_TIMEOUT_S", "DB_NAME", "STORE_FORMAT", "SQLiteStore", "state_dir", "store_path"]
