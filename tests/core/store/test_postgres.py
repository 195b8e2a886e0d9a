"""PostgreSQL-only behaviours, on a throw-away server (conftest.py): the schema and its format
number, processes creating one database at once, passwords kept out of messages, a role that
may only read and write rows, dropped connections, non-UTF-8 databases, `LLMPROC_STORE`."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from llmproc.errors import StoreError
from llmproc.store import open_store

from tests.core.store.test_contract import fake_state
from tests.postgres_server import PostgresServer

psycopg = pytest.importorskip("psycopg")
postgres = pytest.importorskip("llmproc.store.postgres")


def sql(url: str, statement: str, *params: object) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement, params or None)
        return cursor.fetchall() if cursor.description else []


def test_schema_and_format(postgres_url: str) -> None:
    with open_store(postgres_url) as store:
        assert type(store).__name__ == "PostgresStore" and store.location == postgres_url
        store.save("a", fake_state())
    assert sql(postgres_url, "SELECT value FROM llmproc_meta WHERE key = 'format'") == [(str(postgres.STORE_FORMAT),)]
    tables = {r[0] for r in sql(postgres_url, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'llmproc_%%'")}
    assert tables == {"llmproc_meta", "llmproc_processes", "llmproc_records", "llmproc_counters"}
    # Text, not jsonb: the state is kept byte for byte, key order included.
    (kind,) = sql(postgres_url, "SELECT pg_typeof(state)::text FROM llmproc_processes")[0]
    assert kind == "text"


def test_a_store_of_a_newer_format_is_refused(postgres_url: str) -> None:
    with open_store(postgres_url):
        pass
    sql(postgres_url, "UPDATE llmproc_meta SET value = %s WHERE key = 'format'", str(postgres.STORE_FORMAT + 1))
    with pytest.raises(StoreError, match=r"has format \d+, written by a newer llmproc; .* upgrade llmproc"):
        open_store(postgres_url)


OPENER = r"""
import sys, time
from llmproc.store import open_store
start_at = float(sys.argv[3])
while time.time() < start_at:
    pass
with open_store(sys.argv[1]) as store:
    store.save(sys.argv[2], {"kind": "llmproc.process", "version": 1, "program": {"path": "w.toml"},
                             "history": [], "usage": {}, "cost_usd": 0.0, "status": "idle"})
    print(store.allocate("pid"))
"""


def test_processes_creating_a_new_database_at_once_all_open_it(postgres_server: PostgresServer) -> None:
    # Without the advisory lock, concurrent CREATE TABLE IF NOT EXISTS fails with a unique violation.
    for _ in range(2):  # without the lock, 15 of 20 openers failed in 5 rounds
        url = postgres_server.new_database()
        start_at = time.time() + 1.0
        procs = [subprocess.Popen([sys.executable, "-c", OPENER, url, f"p{k}", str(start_at)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(4)]
        ids = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            ids.append(int(out))
        assert sorted(ids) == [1, 2, 3, 4]
        with open_store(url) as store:
            assert sorted(p.name for p in store.list()) == ["p0", "p1", "p2", "p3"]


def test_the_password_never_shows(postgres_server: PostgresServer) -> None:
    assert postgres.redact("postgresql://me:s3cr%40t@h:5/db?sslmode=require&password=x2") == \
        "postgresql://me:***@h:5/db?sslmode=require&password=***"
    assert postgres.redact("postgres://h/db") == "postgres://h/db"
    closed = f"postgresql://me:hunter2-s3cret@127.0.0.1:{_closed_port()}/db?sslpassword=other-s3cret"
    with pytest.raises(StoreError) as caught:
        open_store(closed)
    message = str(caught.value)
    assert message.startswith("cannot open the process store postgresql://me:***@127.0.0.1:")
    assert "s3cret" not in message and "\n" not in message.strip()


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_role_that_may_only_use_rows_uses_a_store_someone_created(postgres_url: str) -> None:
    with open_store(postgres_url) as owner:
        owner.save("by-owner", fake_state())
    role = f"worker_{postgres_url.rsplit('_', 1)[1]}"
    sql(postgres_url, f"CREATE ROLE {role} LOGIN")
    sql(postgres_url, f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {role}")
    sql(postgres_url, f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    sql(postgres_url, f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    with open_store(postgres_url.replace("postgres@", f"{role}@")) as store:
        assert [p.name for p in store.list()] == ["by-owner"]
        store.put_record("k", "1", {"v": 1})
        assert store.allocate("pid") == 1


def test_dropped_connections_are_replaced(postgres_url: str) -> None:
    with open_store(postgres_url) as store:
        store.save("a", fake_state())
        sql(postgres_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        assert [p.name for p in store.list()] == ["a"]  # the pool's check found the dead connection


def test_a_batch_does_not_hold_other_threads(postgres_url: str) -> None:
    with open_store(postgres_url) as store:
        seen: list[list[str]] = []
        with store.batch():
            store.save("in-batch", fake_state())
            reader = threading.Thread(target=lambda: seen.append([p.name for p in store.list()]))
            reader.start()
            reader.join(10)
            assert seen == [[]]  # another thread: another connection, the batch not committed yet
        assert [p.name for p in store.list()] == ["in-batch"]


def test_a_database_not_in_utf8_gets_ascii_json(postgres_server: PostgresServer) -> None:
    sql(postgres_server.url(), "CREATE DATABASE latin ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
                               "TEMPLATE template0")
    with open_store(postgres_server.url("latin")) as store:
        state = {**fake_state(), "text": "漢字 é"}
        store.save("a", state)
        store.put_record("k", "1", {"t": "漢字"})
        assert store.load("a") == state and store.get_record("k", "1") == {"t": "漢字"}


def test_llmproc_store_selects_postgres_for_the_cli(postgres_url: str, tmp_path: Path) -> None:
    url = postgres_url.replace("postgresql://", "postgres://")  # the short scheme works too
    with open_store(url) as store:
        store.save("shared", fake_state())
    llmproc = Path(sys.executable).parent / "llmproc"
    env = {**os.environ, "LLMPROC_STORE": url, "LLMPROC_STATE_DIR": str(tmp_path)}
    listed = subprocess.run([str(llmproc), "ps", "--json"], capture_output=True, text=True, timeout=60, env=env)
    assert listed.returncode == 0, listed.stderr
    assert '"name": "shared"' in listed.stdout
    assert not list(tmp_path.iterdir())  # LLMPROC_STORE won over LLMPROC_STATE_DIR
