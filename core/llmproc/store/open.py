"""`open_store`: the store a path or URL names, SQLite or PostgreSQL.

    open_store()                                   # $LLMPROC_STORE, else the default SQLite file
    open_store("~/notes")                          # SQLite: a directory holding llmproc.db, or a *.db file
    open_store("sqlite:///notes.db")               # SQLite: the path after sqlite:/// (4 slashes: absolute)
    open_store("postgresql://me@db.example/llm")   # PostgreSQL (pip install "llmproc[postgres]")

Precedence of the location: the argument, else `$LLMPROC_STORE` (a path or a URL, as above),
else `$LLMPROC_STATE_DIR/llmproc.db`, else the XDG state directory (sqlite.py). PostgreSQL is
imported only when a URL asks for it: psycopg is an optional extra.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from llmproc.errors import StoreError
from llmproc.store.sqlite import SQLiteStore, store_path

if TYPE_CHECKING:
    from llmproc.store.postgres import PostgresStore

ENV_VAR = "LLMPROC_STORE"
POSTGRES_SCHEMES = ("postgresql", "postgres")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_INSTALL = 'pip install "llmproc[postgres]"'


def open_store(path_or_url: str | os.PathLike[str] | None = None, *,
               durable: bool = False) -> SQLiteStore | PostgresStore:
    """Open (creating its tables if needed) the store at `path_or_url`; see the module docstring.
    `durable` makes SQLite fsync each commit; PostgreSQL commits are durable as the server is set."""
    if path_or_url is None:
        path_or_url = os.environ.get(ENV_VAR) or None
    location = os.fspath(path_or_url) if path_or_url is not None else None
    path = sqlite_file(location)
    if path is not None:
        return SQLiteStore(path, durable=durable)
    assert location is not None
    return _postgres_store_class()(location)


def sqlite_file(path_or_url: str | os.PathLike[str] | None) -> Path | None:
    """The SQLite file a location names (None: the default one), None for a PostgreSQL URL; StoreError
    for a location that names neither. Read without opening (a damaged file is moved by path)."""
    location = os.fspath(path_or_url) if path_or_url is not None else None
    scheme = _SCHEME.match(location) if location else None
    if scheme is None or location is None:
        return store_path(location)
    name = scheme.group(1).lower()
    if name == "sqlite":
        path = location[len(scheme.group(0)):]
        if not path.startswith("/"):
            raise StoreError(f"a SQLite store URL is sqlite:///PATH (three slashes), not {location!r}")
        if len(path) == 1:
            raise StoreError("a SQLite store URL needs a path after sqlite:///")
        return store_path(path[1:])
    if name in POSTGRES_SCHEMES:
        return None
    raise StoreError(f"unknown store URL scheme {name + '://'!r}: use a path, sqlite:///PATH or postgresql://...")


def _postgres_store_class() -> type[PostgresStore]:
    try:
        from llmproc.store.postgres import PostgresStore
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("psycopg", "psycopg_pool"):
            raise
        raise StoreError(f"a PostgreSQL store needs psycopg: {_INSTALL}") from None
    return PostgresStore


__all__ = ["ENV_VAR", "POSTGRES_SCHEMES", "open_store", "sqlite_file"]
