"""The SQLite store on real files: where it lives, what it keeps and lists, its errors, and
concurrent use from threads, from async tasks and from two connections."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from llmproc.errors import NotFoundError, StateError, StoreError
from llmproc.store import ProcessStore, SQLiteStore, open_store, state_dir, store_path
from llmproc.store import sqlite as sqlite_module


def fake_state(turns: int = 1, *, text: str = "hi", cost: float | None = 0.25, path: str = "/p/agent.toml",
               status: str = "idle") -> dict[str, Any]:
    history = []
    for i in range(turns):
        history += [{"role": "user", "parts": [{"type": "text", "text": f"{text} {i}"}]},
                    {"role": "assistant", "parts": [{"type": "text", "text": f"answer {i}"}]}]
    return {"kind": "llmproc.process", "version": 1, "program": {"path": path, "name": "agent", "model": "m"},
            "history": history, "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_tokens": 100,
                                          "cache_write_tokens": 1, "reasoning_tokens": 2},
            "cost_usd": cost, "status": status}


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


def test_save_load_list_delete(store: SQLiteStore) -> None:
    store.save("first", fake_state(2, cost=None, status="running"))
    time.sleep(0.01)
    store.save("second", fake_state(5))
    assert store.load("second") == fake_state(5)
    listed = store.list()
    assert [p.name for p in listed] == ["second", "first"]  # most recent first
    first = listed[1]
    assert (first.program, first.model, first.turns, first.messages, first.tokens, first.cost_usd, first.status) == \
        ("/p/agent.toml", "m", 2, 4, 116, None, "running")
    assert first.to_dict()["name"] == "first"
    created = first.created_at
    time.sleep(0.01)
    store.save("first", fake_state(3))  # replaces, keeps its creation time
    again = {p.name: p for p in store.list()}["first"]
    assert again.turns == 3 and again.created_at == created and again.updated_at > created
    assert store.exists("first")
    store.delete("first")
    assert not store.exists("first") and [p.name for p in store.list()] == ["second"]


def test_not_found_is_a_key_error_that_lists_a_few_names(store: SQLiteStore) -> None:
    with pytest.raises(NotFoundError, match=r"no saved process named 'x': the store .*llmproc\.db is empty"):
        store.load("x")
    for i in range(12):
        store.save(f"p{i:02d}", fake_state())
    with pytest.raises(KeyError) as caught:
        store.load("nope")
    message = str(caught.value)
    assert message.startswith("no saved process named 'nope' in ") and "llmproc ps" in message
    assert message.count(", ") == 10 and ", …" in message  # ten names, then an ellipsis: never the whole list
    with pytest.raises(NotFoundError):
        store.delete("nope")


@pytest.mark.parametrize("name", ["", "  ", "a/b", "tab\there", "x" * 201, 7])
def test_bad_names_are_refused(store: SQLiteStore, name: Any) -> None:
    with pytest.raises(ValueError):
        store.save(name, fake_state())


def test_unserializable_state_is_refused_and_nothing_written(store: SQLiteStore) -> None:
    with pytest.raises(StateError, match="not JSON-serializable"):
        store.save("bad", {**fake_state(), "extra": object()})
    assert store.list() == []


def test_a_batch_commits_all_of_its_writes_or_none(store: SQLiteStore, tmp_path: Path) -> None:
    with store.batch():
        store.save("one", fake_state())
        store.put_record("row", "1", {"n": 1})
        # not committed yet: another connection to the file does not see them
        other = sqlite3.connect(store.path)
        assert other.execute("SELECT count(*) FROM processes").fetchone()[0] == 0
    assert other.execute("SELECT count(*) FROM processes").fetchone()[0] == 1
    other.close()
    with pytest.raises(StateError), store.batch():
        store.save("two", fake_state())
        store.save("three", {**fake_state(), "extra": object()})  # fails: the batch rolls back
    assert [p.name for p in store.list()] == ["one"]
    assert store.get_record("row", "1") == {"n": 1}


def test_records_for_front_ends(store: SQLiteStore) -> None:
    store.put_record("mcp.process", "2", {"program": "b.toml", "status": "running"})
    store.put_record("mcp.process", "10", {"program": "a.toml", "status": "done", "answer": "ok"})
    store.put_record("mcp.process", "2", {"program": "b.toml", "status": "done"})
    store.put_record("other", "2", {"x": 1})
    assert store.list_records("mcp.process") == {"2": {"program": "b.toml", "status": "done"},
                                                 "10": {"program": "a.toml", "status": "done", "answer": "ok"}}
    assert list(store.list_records("mcp.process")) == ["2", "10"]  # first-written order, not string order
    assert store.get_record("other", "2") == {"x": 1}
    assert store.delete_record("other", "2") is True and store.delete_record("other", "2") is False
    with pytest.raises(NotFoundError, match="no record '2' of kind 'other'"):
        store.get_record("other", "2")
    with pytest.raises(ValueError):
        store.put_record("", "k", {})
    assert store.list() == []  # records are not saved processes


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


def test_closed_store_says_so(tmp_path: Path) -> None:
    opened = open_store(tmp_path)
    opened.close()
    opened.close()  # twice is fine
    with pytest.raises(StoreError, match="is closed"):
        opened.list()


def test_unwritable_location_names_the_variable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="LLMPROC_STATE_DIR"):
        open_store(blocker / "sub")


def test_threads_share_one_store_and_two_stores_share_a_file(tmp_path: Path) -> None:
    first, second = open_store(tmp_path), open_store(tmp_path)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        target = first if index % 2 else second
        try:
            for i in range(25):
                target.save(f"t{index}-{i}", fake_state(1, text=f"{index}/{i}"))
                target.save("shared", fake_state(1, text=f"{index}/{i}"))
                assert target.load(f"t{index}-{i}")["history"][0]["parts"][0]["text"] == f"{index}/{i} 0"
                target.list()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(first.list()) == 8 * 25 + 1
    assert second.load("shared")["history"][0]["parts"][0]["text"].endswith(" 0")
    first.close()
    second.close()


async def test_async_api_runs_in_worker_threads(store: SQLiteStore) -> None:
    async def one(i: int) -> None:
        await store.asave(f"a{i}", fake_state(i + 1))
        assert (await store.aload(f"a{i}"))["history"] == fake_state(i + 1)["history"]

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for i in range(20):
                group.start_soon(one, i)
        assert len(await store.alist()) == 20
        await store.adelete("a0")
        with pytest.raises(NotFoundError):
            await store.aload("a0")
