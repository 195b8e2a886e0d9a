"""The SQLite store on real files: where it lives, its file format and the migration to it,
and its own errors. What every store does, SQLite included: test_contract.py."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest

from llmproc.errors import StoreError
from llmproc.store import ProcessStore, SQLiteStore, open_store, state_dir, store_path
from llmproc.store import sqlite as sqlite_module

from tests.core.store.test_contract import fake_state


@pytest.fixture
def store(tmp_path: Path):
    with open_store(tmp_path / "state") as opened:
        yield opened


def test_location_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMPROC_STATE_DIR", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state_dir() == tmp_path / "home" / ".local" / "state" / "llmproc"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert store_path() == tmp_path / "xdg" / "llmproc" / "llmproc.db"
    monkeypatch.setenv("LLMPROC_STATE_DIR", str(tmp_path / "mine"))
    assert store_path() == tmp_path / "mine" / "llmproc.db"
    assert store_path(tmp_path / "x.sqlite") == tmp_path / "x.sqlite"
    assert store_path(tmp_path / "dir") == tmp_path / "dir" / "llmproc.db"
    with open_store() as opened:
        assert opened.path == tmp_path / "mine" / "llmproc.db" and opened.path.is_file()
    assert stat.S_IMODE((tmp_path / "mine").stat().st_mode) == 0o700  # conversations are private
    assert store_path(opened.path) == opened.path  # an existing file is taken as is


def test_file_is_sqlite_in_wal_mode(store: SQLiteStore) -> None:
    store.save("a", fake_state())
    assert isinstance(store, ProcessStore)
    other = sqlite3.connect(store.path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("PRAGMA user_version").fetchone()[0] == sqlite_module.STORE_FORMAT
        assert other.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        text = other.execute("SELECT state FROM processes WHERE name='a'").fetchone()[0]
        assert json.loads(text) == fake_state()
    finally:
        other.close()


def test_not_a_store_file(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.db"
    bogus.write_text("this is not a database " * 100)
    with pytest.raises(StoreError, match=r"notes\.db.*not a database"):
        open_store(bogus)


def test_a_store_of_a_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with open_store(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={sqlite_module.STORE_FORMAT + 1}")
    conn.close()
    with pytest.raises(StoreError, match="written by a newer llmproc"):
        open_store(path)


def test_unwritable_location_names_the_variable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="LLMPROC_STATE_DIR"):
        open_store(blocker / "sub")


def test_a_format_1_file_gains_the_counters_table(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)  # what llmproc wrote before counters existed
    for statement in filter(str.strip, sqlite_module._SCHEMA.split(";")):
        if "counters" not in statement:
            conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    with open_store(path) as store:
        assert store.allocate("pid", at_least=7) == 7
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_module.STORE_FORMAT == 2
    assert conn.execute("SELECT name, value FROM counters").fetchall() == [("pid", 8)]
    conn.close()


def test_allocate_without_returning(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "_HAS_RETURNING", False)  # SQLite < 3.35
    assert store.allocate("pid") == 1 and store.allocate("pid", 4) == 2 and store.allocate("pid", at_least=50) == 50
    with store.batch():
        assert store.allocate("pid") == 51


def test_allocate_inside_a_batch_holds_other_writers(store: SQLiteStore) -> None:
    # The batch holds SQLite's write lock, so another connection's allocate waits for its commit.
    other = open_store(store.path)
    got: list[int] = []
    with store.batch():
        assert store.allocate("pid", 2) == 1
        waiter = threading.Thread(target=lambda: got.append(other.allocate("pid")))
        waiter.start()
        time.sleep(0.2)
        assert got == []
    waiter.join(30)
    assert got == [3]
    other.close()
