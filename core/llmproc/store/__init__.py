"""Saved processes: state serialization and the stores that keep them (SQLite, PostgreSQL).

    from llmproc.store import open_store

    store = open_store()                         # $LLMPROC_STORE, else $LLMPROC_STATE_DIR/llmproc.db
    store.save("notes", process.snapshot())
    process = await LLMProcess.restore(store.load("notes"))
    for saved in store.list(): ...

`state.py` turns a process into a versioned dict and back; `migrations.py` upgrades older
schema versions; `base.py` is the store interface; `sqlite.py` the default backend;
`postgres.py` the shared one (optional extra `postgres`); `open.py` picks one from a path or URL.
"""

from typing import TYPE_CHECKING, Any

from llmproc.errors import DamagedStoreError, NotFoundError, ProgramChangedError, StateError, StoreError
from llmproc.store.base import ProcessStore, StoredProcess
from llmproc.store.migrations import SCHEMA_VERSION
from llmproc.store.open import open_store
from llmproc.store.sqlite import SQLiteStore, state_dir, store_path
from llmproc.store.state import restore, snapshot

if TYPE_CHECKING:
    from llmproc.store.postgres import PostgresStore


def __getattr__(name: str) -> Any:
    if name == "PostgresStore":  # imported on use: psycopg is optional
        from llmproc.store.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DamagedStoreError", "NotFoundError", "PostgresStore", "ProcessStore", "ProgramChangedError", "SCHEMA_VERSION", "SQLiteStore",
    "StateError", "StoreError", "StoredProcess", "open_store", "restore", "snapshot", "state_dir", "store_path",
]
