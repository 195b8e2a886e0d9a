"""What every store does, run on SQLite and on PostgreSQL (a throw-away server, conftest.py):
save/load/list/delete, records, batches, counters, their errors, and use from threads, async
tasks and several processes at once. Backend-only behaviours: test_sqlite.py, test_postgres.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from llmproc.errors import NotFoundError, StateError, StoreError
from llmproc.store import ProcessStore, open_store

from tests.postgres_server import PostgresServer


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


@dataclass
class Backend:
    name: str
    location: str  # what open_store takes: a directory or a URL

    def open(self) -> Any:
        return open_store(self.location)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", str(tmp_path / "state"))
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return Backend("postgres", server.new_database())


@pytest.fixture
def store(backend: Backend) -> Iterator[Any]:
    with backend.open() as opened:
        yield opened


def test_save_load_list_delete(store: Any) -> None:
    assert isinstance(store, ProcessStore)
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


def test_states_come_back_exactly(store: Any) -> None:
    # Key order, non-ASCII text, NUL and lone surrogates (undecodable tool output) survive.
    state = {**fake_state(), "z": 1, "a": {"b": 2, "a": 1}, "text": "é 漢字 \x00 \udcff", "big": 2**60, "f": 0.1}
    store.save("exact", state)
    loaded = store.load("exact")
    assert loaded == state and list(loaded) == list(state) and list(loaded["a"]) == ["b", "a"]


def test_not_found_is_a_key_error_that_lists_a_few_names(store: Any) -> None:
    where = re.escape(store.location)
    with pytest.raises(NotFoundError, match=rf"no saved process named 'x': the store {where} is empty"):
        store.load("x")
    for i in range(12):
        store.save(f"p{i:02d}", fake_state())
    with pytest.raises(KeyError) as caught:
        store.load("nope")
    message = str(caught.value)
    assert message.startswith(f"no saved process named 'nope' in {store.location}; ") and "llmproc ps" in message
    assert message.count(", ") == 10 and ", …" in message  # ten names, then an ellipsis: never the whole list
    with pytest.raises(NotFoundError):
        store.delete("nope")


@pytest.mark.parametrize("name", ["", "  ", "a/b", "tab\there", "x" * 201, 7])
def test_bad_names_are_refused(store: Any, name: Any) -> None:
    with pytest.raises(ValueError):
        store.save(name, fake_state())


def test_unserializable_state_is_refused_and_nothing_written(store: Any) -> None:
    with pytest.raises(StateError, match="not JSON-serializable"):
        store.save("bad", {**fake_state(), "extra": object()})
    assert store.list() == []


def test_a_batch_commits_all_of_its_writes_or_none(store: Any, backend: Backend) -> None:
    with backend.open() as other:
        with store.batch():
            store.save("one", fake_state())
            store.put_record("row", "1", {"n": 1})
            first = store.allocate("id")
            assert other.list() == [] and other.list_records("row") == {}  # not committed yet
        assert [p.name for p in other.list()] == ["one"] and other.allocate("id") == first + 1
    with pytest.raises(StateError), store.batch():
        store.save("two", fake_state())
        store.put_record("row", "2", {"n": 2})
        store.delete("one")
        store.save("three", {**fake_state(), "extra": object()})  # fails: the batch rolls back
    assert [p.name for p in store.list()] == ["one"]
    assert store.list_records("row") == {"1": {"n": 1}}


def test_a_failed_statement_rolls_the_batch_back(store: Any) -> None:
    store.save("kept", fake_state())
    with pytest.raises(NotFoundError), store.batch():
        store.save("new", fake_state())
        store.allocate("id", 5)
        store.delete("missing")
    assert [p.name for p in store.list()] == ["kept"]
    assert store.allocate("id") == 1  # the reservation rolled back with the batch


def test_records_for_front_ends(store: Any) -> None:
    store.put_record("mcp.process", "2", {"program": "b.toml", "status": "running"})
    store.put_record("mcp.process", "10", {"program": "a.toml", "status": "done", "answer": "ok"})
    store.put_record("mcp.process", "2", {"program": "b.toml", "status": "done"})
    store.put_record("other", "2", {"x": 1})
    assert store.list_records("mcp.process") == {"2": {"program": "b.toml", "status": "done"},
                                                 "10": {"program": "a.toml", "status": "done", "answer": "ok"}}
    assert list(store.list_records("mcp.process")) == ["2", "10"]  # first-written order, not string order
    assert store.get_record("other", "2") == {"x": 1}
    assert store.delete_record("other", "2") is True and store.delete_record("other", "2") is False
    with pytest.raises(NotFoundError, match=f"no record '2' of kind 'other' in {re.escape(store.location)}"):
        store.get_record("other", "2")
    with pytest.raises(ValueError):
        store.put_record("", "k", {})
    assert store.list() == []  # records are not saved processes


def test_swap_record_compares_then_sets(store: Any) -> None:
    assert store.swap_record("run", "7", None, {"owner": "a", "attempt": 1}) is True  # absent: created
    assert store.swap_record("run", "7", None, {"owner": "b", "attempt": 1}) is False  # exists now
    assert store.swap_record("run", "7", {"owner": "x", "attempt": 1}, {"owner": "b"}) is False
    assert store.get_record("run", "7") == {"owner": "a", "attempt": 1}
    assert store.swap_record("run", "7", {"owner": "a", "attempt": 1}, {"owner": "b", "attempt": 2}) is True
    assert store.get_record("run", "7") == {"owner": "b", "attempt": 2}
    assert store.swap_record("run", "7", {"owner": "b", "attempt": 2}, None) is True  # taken away
    assert store.list_records("run") == {}
    assert store.swap_record("run", "7", {"owner": "b", "attempt": 2}, None) is False
    with store.batch():  # joins a batch like the other writes
        assert store.swap_record("run", "8", None, {"owner": "c"}) is True
    assert store.get_record("run", "8") == {"owner": "c"}


SWAPPER = """
import json, sys, time
from llmproc.store import open_store
location, start_at, me = sys.argv[1], float(sys.argv[2]), sys.argv[3]
won = 0
with open_store(location) as store:
    while time.time() < start_at:
        pass
    for i in range(40):  # every one tries to take every record from its dead owner
        won += store.swap_record("run", str(i), {"owner": "dead"}, {"owner": me})
print(json.dumps(won))
"""


def test_of_processes_taking_one_record_at_once_exactly_one_wins(backend: Backend) -> None:
    with backend.open() as store:
        for i in range(40):
            store.put_record("run", str(i), {"owner": "dead"})
    start_at = time.time() + 1.5
    procs = [subprocess.Popen([sys.executable, "-c", SWAPPER, backend.location, str(start_at), f"s{k}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(3)]
    wins = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        wins.append(json.loads(out))
    with backend.open() as store:
        owners = [v["owner"] for v in store.list_records("run").values()]
    assert sum(wins) == 40 and "dead" not in owners, (wins, owners)  # each taken once, by one
    assert sorted(wins) == sorted(owners.count(f"s{k}") for k in range(3))


def test_allocate_hands_out_consecutive_ids(store: Any) -> None:
    assert store.allocate("pid") == 1
    assert store.allocate("pid", 3) == 2  # 2, 3, 4
    assert store.allocate("pid") == 5
    assert store.allocate("pid", at_least=3) == 6  # below the next id: no effect
    assert store.allocate("pid", 2, at_least=100) == 100  # adopting rows up to 99: moves forward
    assert store.allocate("pid") == 102
    assert store.allocate("other", at_least=40) == 40  # a first allocation returns at_least
    assert store.allocate("zero", at_least=0) == 0
    assert store.allocate("pid") == 103  # counters are independent
    assert store.list() == [] and store.list_records("pid") == {}


@pytest.mark.parametrize(("counter", "count", "at_least"),
                         [("", 1, 1), ("a/b", 1, 1), (3, 1, 1), ("c", 0, 1), ("c", -2, 1), ("c", True, 1),
                          ("c", 1.0, 1), ("c", 1, -1), ("c", 1, "5"), ("c", 2, 2**63 - 2)])
def test_allocate_refuses_bad_arguments(store: Any, counter: Any, count: Any, at_least: Any) -> None:
    with pytest.raises(ValueError):
        store.allocate(counter, count, at_least=at_least)


def test_a_reopened_store_keeps_its_counters(backend: Backend) -> None:
    with backend.open() as first:
        assert first.allocate("pid", 10) == 1
        first.save("s", fake_state())
    with backend.open() as again:
        assert again.allocate("pid") == 11
        assert again.allocate("pid", at_least=1) == 12
        assert [p.name for p in again.list()] == ["s"]


def test_closed_store_says_so(backend: Backend) -> None:
    opened = backend.open()
    opened.close()
    opened.close()  # twice is fine
    for call in (opened.list, lambda: opened.allocate("pid"), lambda: opened.save("x", fake_state())):
        with pytest.raises(StoreError, match=f"{re.escape(opened.location)} is closed"):
            call()


def test_threads_share_one_store_and_two_stores_share_a_location(backend: Backend) -> None:
    first, second = backend.open(), backend.open()
    errors: list[BaseException] = []
    ids: list[int] = []

    def writer(index: int) -> None:
        target = first if index % 2 else second
        try:
            for i in range(25):
                target.save(f"t{index}-{i}", fake_state(1, text=f"{index}/{i}"))
                target.save("shared", fake_state(1, text=f"{index}/{i}"))
                assert target.load(f"t{index}-{i}")["history"][0]["parts"][0]["text"] == f"{index}/{i} 0"
                ids.append(target.allocate("t"))
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
    assert sorted(ids) == list(range(1, 8 * 25 + 1))
    assert second.load("shared")["history"][0]["parts"][0]["text"].endswith(" 0")
    first.close()
    second.close()


async def test_async_api_runs_in_worker_threads(store: Any) -> None:
    async def one(i: int) -> None:
        await store.asave(f"a{i}", fake_state(i + 1))
        assert (await store.aload(f"a{i}"))["history"] == fake_state(i + 1)["history"]
        firsts.append(await store.aallocate("async", 2))

    firsts: list[int] = []
    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for i in range(20):
                group.start_soon(one, i)
        assert len(await store.alist()) == 20
        await store.adelete("a0")
        with pytest.raises(NotFoundError):
            await store.aload("a0")
        assert sorted(firsts) == list(range(1, 41, 2))
        assert await store.aallocate("async", at_least=100) == 100


# Each child opens the store, spins until the common start time, then allocates 50 times
# (every 5th a block of 3; one child also jumps the counter with at_least) and prints its ids.
# With the pauses their ids interleave (seen on both backends): the four do race.
ALLOCATOR = r"""
import json, sys, time
from llmproc.store import open_store
location, start_at, k = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
ids = []
with open_store(location) as store:
    while time.time() < start_at:
        pass
    for i in range(50):
        count = 3 if i % 5 == k else 1
        first = store.allocate("pid", count, at_least=1000 if (k, i) == (0, 25) else 1)
        ids += range(first, first + count)
        time.sleep(0.002)  # lets the others in: SQLite's busy wait would otherwise run them one by one
print(json.dumps(ids))
"""


def test_processes_allocating_at_once_never_share_an_id(backend: Backend) -> None:
    with backend.open():  # created first: the race here is the allocation, not the creation
        pass
    start_at = time.time() + 1.5  # past every child's imports
    procs = [subprocess.Popen([sys.executable, "-c", ALLOCATOR, backend.location, str(start_at), str(k)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(4)]
    got: list[list[int]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        got.append(json.loads(out))
    every = [i for ids in got for i in ids]
    assert len(every) == 4 * (50 + 10 * 2)  # 10 blocks of 3 per child
    assert len(set(every)) == len(every), "an id was handed out twice"
    assert 1000 in every
    with backend.open() as store:
        assert store.allocate("pid") == max(every) + 1
