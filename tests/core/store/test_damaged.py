"""A damaged store is contained (llmproc.store.damage): damaged the way a review did it, with real
files and the real commands. A row that does not read is quarantined under damaged:<kind> with
its text and a warning naming it, and the rest is served; a damaged file is one `error:` line,
and a new store is started only when asked (`llmproc store check --move-aside`)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from llmproc.errors import DamagedStoreError, NotFoundError, StateError
from llmproc.store import SQLiteStore, open_store
from llmproc.store.damage import TRUNCATED_AFTER_S

from tests.core.cli.conftest import ECHO, script
from tests.core.store.test_contract import fake_state

PAGE = 4096


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**{k: v for k, v in os.environ.items() if k != "LLMPROC_STORE"}, **(env or {})}
    return subprocess.run([script(str(args[0])), *map(str, args[1:])], capture_output=True, text=True,
                          timeout=60, env=full)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The stderr of a command that failed cleanly: exactly one `error:` line, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def filled_store(path: Path, count: int = 300) -> None:
    """Small states, each within its page: the middle page is one of the tables' b-tree pages
    (random bytes in an overflow page are only a damaged row, quarantined as above)."""
    with SQLiteStore(path) as store:
        for i in range(count):
            store.save(f"p{i}", fake_state())
    assert path.stat().st_size > 40 * PAGE  # closing checkpointed the log into the file


def scribble_middle(path: Path) -> bytes:
    """4 KiB of random bytes over the page in the middle of the file, as the review did; the
    page as it is now."""
    middle = path.stat().st_size // 2 // PAGE * PAGE
    noise = os.urandom(PAGE)
    with path.open("r+b") as f:
        f.seek(middle)
        f.write(noise)
    assert noise in path.read_bytes()
    return noise


def moved_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.damaged-*"))


# -- rows ------------------------------------------------------------------------------------------
def test_a_record_of_invalid_json_is_quarantined_and_the_others_served(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "s.db"
    with SQLiteStore(db) as store:
        for key in ("1", "2", "3"):
            store.put_record("process", key, {"pid": int(key)})
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE records SET value = '{\"pid\": 2, trunc' WHERE key = '2'")
    conn.close()
    with caplog.at_level(logging.WARNING, logger="llmproc.store"), SQLiteStore(db) as store:
        assert store.list_records("process") == {"1": {"pid": 1}, "3": {"pid": 3}}
        [warning] = [r.getMessage() for r in caplog.records]
        assert warning.startswith(f"quarantined damaged record process/2 in {db}: not valid JSON")
        assert warning.endswith("`llmproc store check` lists it")
        kept = store.list_records("damaged:process")["2"]
        assert kept["raw"] == '{"pid": 2, trunc' and kept["kind"] == "process" and kept["key"] == "2"
        with pytest.raises(NotFoundError):
            store.get_record("process", "2")
        store.put_record("process", "2", {"pid": 2})  # a new value under the key reads again
        assert store.get_record("process", "2") == {"pid": 2}


def test_a_record_read_alone_is_quarantined_too(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with SQLiteStore(db) as store:
        store.put_record("fd", "fd:1", {"id": "fd:1", "content": "x"})
        store.put_record("fd", "fd:2", {"id": "fd:2", "content": "y"})
    with sqlite3.connect(db) as conn:  # not UTF-8, and a JSON list: two other ways a row goes bad
        conn.execute("UPDATE records SET value = CAST(x'7b22ff22' AS TEXT) WHERE key = 'fd:1'")
        conn.execute("UPDATE records SET value = '[1, 2]' WHERE key = 'fd:2'")
    conn.close()
    with SQLiteStore(db) as store:
        with pytest.raises(NotFoundError, match=r"record fd/fd:1 .* damaged \(not UTF-8 text"):
            store.get_record("fd", "fd:1")
        assert store.list_records("fd") == {}
        kept = store.list_records("damaged:fd")
        assert kept["fd:1"]["raw"].encode("utf-8", "surrogateescape") == b'{"\xff"'  # byte for byte
        assert kept["fd:2"]["raw"] == "[1, 2]" and "a JSON list, not an object" in kept["fd:2"]["reason"]


def test_a_state_of_invalid_json_is_one_error_and_quarantined(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with SQLiteStore(db) as store:
        store.save("good", fake_state())
        store.save("bad", fake_state())
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE processes SET state = substr(state, 1, 40) WHERE name = 'bad'")
    conn.close()
    with SQLiteStore(db) as store:
        with pytest.raises(StateError) as caught:
            store.load("bad")
        message = str(caught.value)
        assert "\n" not in message and "'bad'" in message and str(db) in message
        assert "damaged:processes/bad" in message and "llmproc store check" in message
        assert store.load("good") == fake_state()
        assert [s.name for s in store.list()] == ["good"]
        assert len(store.list_records("damaged:processes")["bad"]["raw"]) == 40


def test_ps_warns_check_lists_and_resume_fails_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    for name in ("good", "bad"):
        saved = run("llmproc-demo", ECHO, "-p", "hi", "--save", name, "--store", db)
        assert saved.returncode == 0, saved.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE processes SET state = 'not json' WHERE name = 'bad'")
    conn.close()

    resumed = run("llmproc-demo", "--resume", "bad", "-p", "again", "--store", db)
    assert resumed.returncode == 2
    line = one_error_line(resumed)
    assert "'bad'" in line and str(db) in line and "damaged" in line
    assert run("llmproc-demo", "--resume", "good", "-p", "again", "--store", db).returncode == 0

    ps = run("llmproc", "ps", "--store", db)
    assert ps.returncode == 0 and ps.stdout.splitlines()[1].startswith("good")
    assert ps.stderr.strip() == f"warning: 1 damaged row quarantined in {db}: processes/bad (llmproc store check)"

    check = run("llmproc", "store", "check", "--store", db)
    assert check.returncode == 1, check.stderr
    assert "quarantined damaged:processes/bad: not valid JSON" in check.stdout
    report = json.loads(run("llmproc", "store", "check", "--store", db, "--json").stdout)
    assert report["ok"] is False and report["integrity"] == ["ok"]
    assert [(q["kind"], q["key"]) for q in report["quarantined"]] == [("processes", "bad")]

    assert run("llmproc", "store", "check", "--store", db, "--discard-quarantined").returncode == 1
    clean = run("llmproc", "store", "check", "--store", db)
    assert clean.returncode == 0 and clean.stdout.strip().endswith("ok"), clean.stdout
    assert run("llmproc", "ps", "--store", db).stderr == ""


# -- files -----------------------------------------------------------------------------------------
def test_random_bytes_in_the_middle_are_one_line_and_moved_aside_only_when_asked(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    filled_store(db)
    noise = scribble_middle(db)

    with pytest.raises(DamagedStoreError) as caught:  # at open or at the first read of the bad page
        with SQLiteStore(db) as store:
            for saved in store.list():
                store.load(saved.name)
    assert "\n" not in str(caught.value) and caught.value.path == str(db)
    assert "--move-aside" in str(caught.value) and "--new-store-if-damaged" in str(caught.value)

    check = run("llmproc", "store", "check", "--store", db)
    assert check.returncode == 1 and "Traceback" not in check.stderr
    assert "--move-aside" in check.stdout + check.stderr
    assert noise in db.read_bytes() and not moved_files(db)  # nothing moved unless asked

    damaged = db.read_bytes()
    moved = run("llmproc", "store", "check", "--store", db, "--move-aside")
    assert moved.returncode == 1, moved.stderr
    [target] = moved_files(db)
    assert str(target) in moved.stdout + moved.stderr and "new store" in moved.stdout + moved.stderr
    assert target.read_bytes() == damaged  # the damaged file is kept whole, for recovery
    assert not db.exists()
    fresh = run("llmproc", "ps", "--store", db)
    assert fresh.returncode == 0 and "no saved processes" in fresh.stderr
    assert run("llmproc", "store", "check", "--store", db).returncode == 0


def test_a_file_that_is_not_a_database_cannot_be_opened(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    filled_store(db)
    with db.open("r+b") as f:  # the header page: SQLite no longer knows the file
        f.write(os.urandom(PAGE))
    damaged = db.read_bytes()
    with pytest.raises(DamagedStoreError, match="file is not a database"):
        open_store(db)

    for command in (("llmproc", "ps"), ("llmproc", "store", "check"),
                    ("llmproc-demo", "--resume", "p1", "-p", "hi")):
        result = run(*command, "--store", db)
        assert result.returncode == 2, (command, result.stderr)
        line = one_error_line(result)
        assert line.startswith(f"error: the process store {db} is damaged (open: file is not a database)")
        assert f"llmproc store check --store {db} --move-aside" in line
    assert db.read_bytes() == damaged

    moved = run("llmproc", "store", "check", "--store", db, "--move-aside", "--json")
    assert moved.returncode == 1
    [target] = moved_files(db)
    assert json.loads(moved.stdout)["moved_to"] == str(target) and target.read_bytes() == damaged


def test_an_old_empty_file_is_truncated_a_new_one_is_being_created(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    db.touch()  # a racing creator's file: SQLite starts the store in it
    with SQLiteStore(db) as store:
        store.save("a", fake_state())
    db.write_bytes(b"")
    old = time.time() - TRUNCATED_AFTER_S - 5
    os.utime(db, (old, old))
    with pytest.raises(DamagedStoreError, match=r"is damaged \(the file is empty: truncated\)"):
        SQLiteStore(db)
    result = run("llmproc", "ps", "--store", db)
    assert result.returncode == 2 and "the file is empty: truncated" in one_error_line(result)
    assert db.stat().st_size == 0  # not silently started over (pids would restart at 1)
    assert run("llmproc", "store", "check", "--store", db, "--move-aside").returncode == 1
    assert [p.stat().st_size for p in moved_files(db)] == [0]
    assert run("llmproc", "store", "check", "--store", db).returncode == 0


# -- PostgreSQL --------------------------------------------------------------------------------------
def test_postgres_rows_are_quarantined_the_same_way(postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:
    psycopg = pytest.importorskip("psycopg")
    with open_store(postgres_url) as store:
        store.save("good", fake_state())
        store.save("bad", fake_state())
        store.put_record("process", "1", {"pid": 1})
        store.put_record("process", "2", {"pid": 2})
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE llmproc_processes SET state = 'oops' WHERE name = 'bad'")
        conn.execute("UPDATE llmproc_records SET value = '{' WHERE key = '2'")

    env = {"LLMPROC_STORE": postgres_url}
    check = run("llmproc", "store", "check", env=env)
    assert check.returncode == 1, check.stderr
    assert "quarantined damaged:processes/bad" in check.stdout and "quarantined damaged:process/2" in check.stdout
    assert "integrity" not in check.stdout  # no PRAGMA on PostgreSQL
    ps = run("llmproc", "ps", env=env)
    assert ps.returncode == 0 and "good" in ps.stdout and "2 damaged rows quarantined" in ps.stderr

    with open_store(postgres_url) as store:
        assert store.list_records("process") == {"1": {"pid": 1}}
        assert store.list_records("damaged:process")["2"]["raw"] == "{"
        assert store.list_records("damaged:processes")["bad"]["raw"] == "oops"
        store.put_record("process", "3", {"pid": 3})
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE llmproc_records SET value = 'null' WHERE key = '3'")
    with caplog.at_level(logging.WARNING, logger="llmproc.store"), open_store(postgres_url) as store:
        with pytest.raises(NotFoundError):
            store.get_record("process", "3")
    assert any("quarantined damaged record process/3" in r.getMessage() for r in caplog.records)
