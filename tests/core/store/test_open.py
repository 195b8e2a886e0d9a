"""`open_store`: which store a path, a URL or `LLMPROC_STORE` opens, and what it says when it
cannot (an unknown scheme, psycopg missing)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from llmproc import store as store_package
from llmproc.errors import StoreError
from llmproc.store import SQLiteStore, open_store


def test_paths_and_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///rel.db") as relative, open_store(f"sqlite:///{tmp_path}/abs.sqlite") as absolute:
        assert isinstance(relative, SQLiteStore) and relative.path == Path("rel.db")
        assert absolute.path == tmp_path / "abs.sqlite" and absolute.location == str(tmp_path / "abs.sqlite")
    with open_store(tmp_path / "dir") as directory:
        assert directory.path == tmp_path / "dir" / "llmproc.db"
    for bad, message in (("sqlite://host/x.db", "three slashes"), ("sqlite:///", "needs a path"),
                         ("mysql://h/db", "unknown store URL scheme 'mysql://'")):
        with pytest.raises(StoreError, match=message):
            open_store(bad)


def test_precedence_argument_then_llmproc_store_then_state_dir(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMPROC_STATE_DIR", str(tmp_path / "state"))
    with open_store() as default:
        assert default.path == tmp_path / "state" / "llmproc.db"
    monkeypatch.setenv("LLMPROC_STORE", f"sqlite:///{tmp_path}/team.db")
    with open_store() as from_env:
        assert from_env.path == tmp_path / "team.db"
    with open_store(tmp_path / "mine.db") as explicit:
        assert explicit.path == tmp_path / "mine.db"
    monkeypatch.setenv("LLMPROC_STORE", "")  # empty: as if unset
    with open_store() as empty:
        assert empty.path == tmp_path / "state" / "llmproc.db"


def test_missing_psycopg_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "llmproc.store.postgres", raising=False)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://me:pw@localhost/db")
    assert str(caught.value) == 'a PostgreSQL store needs psycopg: pip install "llmproc[postgres]"'


def test_postgres_store_is_imported_on_use() -> None:
    pytest.importorskip("psycopg")
    from llmproc.store.postgres import PostgresStore

    assert store_package.PostgresStore is PostgresStore
    with pytest.raises(AttributeError):
        store_package.NoSuchThing  # noqa: B018
