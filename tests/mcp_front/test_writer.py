"""The process table's store writer: writes leave the event loop, the newest value per key wins,
one bad value does not sink a batch, and closing writes everything that was queued."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import anyio
import pytest
from llmproc.store import open_store

from llmproc_mcp.writer import StoreWriter


def state(n: int) -> dict:
    return {"kind": "llmproc.process", "version": 1, "program": {"path": "p.toml"}, "history": [],
            "usage": {}, "cost_usd": 0.0, "status": "idle", "n": n}


def test_the_newest_value_of_each_key_is_written(tmp_path: Path) -> None:
    writer = StoreWriter(open_store(tmp_path / "s.db"))
    for n in range(500):
        writer.put("process", str(n % 5), {"n": n})
        writer.save("mcp-process-1", state(n))
    assert writer.wait_written(10)
    records = writer.store.list_records("process")
    assert {key: value["n"] for key, value in records.items()} == {str(k): 495 + k for k in range(5)}
    assert writer.store.load("mcp-process-1")["n"] == 499
    writer.close()


async def test_flush_waits_for_the_writes_without_blocking_the_loop(tmp_path: Path) -> None:
    writer = StoreWriter(open_store(tmp_path / "s.db"))
    held, release = threading.Event(), threading.Event()

    def hold_the_store() -> None:  # as a slow disk would: the writer thread cannot commit meanwhile
        with writer.store.batch():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_store)
    holder.start()
    assert held.wait(10)
    writer.put("process", "1", {"status": "done"})
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await anyio.sleep(0.01)
            ticks += 1

    async with anyio.create_task_group() as group:
        group.start_soon(tick)
        threading.Timer(0.3, release.set).start()
        started = time.monotonic()
        with anyio.fail_after(10):
            await writer.flush()
        waited = time.monotonic() - started
        group.cancel_scope.cancel()
    holder.join()
    assert waited >= 0.25  # it did wait for the commit...
    assert ticks >= 10  # ...and the loop went on meanwhile
    assert writer.store.get_record("process", "1") == {"status": "done"}
    writer.close()


async def test_a_bad_value_is_logged_and_the_rest_written(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    writer = StoreWriter(open_store(tmp_path / "s.db"))
    with caplog.at_level(logging.ERROR, logger="llmproc_mcp.writer"):
        writer.put("process", "1", {"ok": True})
        writer.save("mcp-process-2", {**state(2), "unserializable": object()})
        writer.put("process", "3", {"ok": True})
        with anyio.fail_after(10):
            assert not await writer.flush()  # a write failed: nobody may count on it being stored
    assert set(writer.store.list_records("process")) == {"1", "3"}
    assert "could not write state/mcp-process-2" in caplog.text
    writer.save("mcp-process-2", state(2))  # its next write succeeds: all is stored again
    with anyio.fail_after(10):
        assert await writer.flush()
    assert writer.store.load("mcp-process-2")["n"] == 2
    writer.close()


def test_close_writes_what_was_queued(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    writer = StoreWriter(open_store(db))
    for n in range(200):
        writer.put("fd", f"fd:{n}", {"n": n})
    writer.close()
    with open_store(db) as store:
        assert len(store.list_records("fd")) == 200
    writer.put("fd", "late", {"n": -1})  # after close: logged, never raised into a run
