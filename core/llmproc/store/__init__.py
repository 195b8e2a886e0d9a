"""Saved processes: state serialization and the embedded SQLite store.

    from llmproc.store import open_store

    store = open_store()                         # $LLMPROC_STATE_DIR/llmproc.db by default
    store.save("notes", process.snapshot())
    process = await LLMProcess.restore(store.load("notes"))
    for saved in store.list(): ...

`state.py` turns a process into a versioned dict and back; `migrations.py` upgrades older
schema versions; `base.py` is the store interface; `sqlite.py` the default backend.
"""

from llmproc.errors import NotFoundError, ProgramChangedError, StateError, StoreError
from llmproc.store.base import ProcessStore, StoredProcess
from llmproc.store.migrations import SCHEMA_VERSION
from llmproc.store.sqlite import SQLiteStore, open_store, state_dir, store_path
from llmproc.store.state import restore, snapshot

__all__ = [
    "NotFoundError", "ProcessStore", "ProgramChangedError", "SCHEMA_VERSION", "SQLiteStore", "StateError",
    "StoreError", "StoredProcess", "open_store", "restore", "snapshot", "state_dir", "store_path",
]
