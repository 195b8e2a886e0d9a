"""One provider account's rate-limit budget shared by the servers of one store
(llmproc_mcp/ratelimit_store.py, the engine's hook in llmproc/providers/ratelimit_shared.py).

The limiters here each stand for a server: each has its own `StoreBudget` on its own connection
to one store file. The slow tests run two real processes forking out against one fake account."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import anyio
import pytest

from llmproc.providers import ratelimit
from llmproc.providers.ratelimit import AccountLimiter
from llmproc.store import open_store
from llmproc.testing import FakeLLMServer, RateLimits, Reply
from llmproc_mcp.ratelimit_store import KIND, StoreBudget

ACCOUNT = "https://api.example key#0123456789abcdef"


def anthropic_headers(limit: int, remaining: int, reset_at: float) -> dict[str, str]:
    from datetime import datetime, timezone

    stamp = datetime.fromtimestamp(reset_at, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"anthropic-ratelimit-requests-limit": str(limit),
            "anthropic-ratelimit-requests-remaining": str(remaining),
            "anthropic-ratelimit-requests-reset": stamp}


def server(path: Path) -> AccountLimiter:
    limiter = AccountLimiter()
    limiter.account, limiter.shared = ACCOUNT, StoreBudget(open_store(path))
    return limiter


async def test_two_servers_take_one_window_between_them(tmp_path: Path) -> None:
    a, b = server(tmp_path / "s.db"), server(tmp_path / "s.db")
    reset_at = time.time() + 30
    for limiter in (a, b):  # each learned from its probe: 10 a window, 8 left (both probes spent)
        probe = await limiter.acquire(0)
        limiter.observe(probe, 200, anthropic_headers(10, 8, reset_at))
    let_go = []

    async def one(limiter: AccountLimiter) -> None:
        await limiter.acquire(0)
        let_go.append(limiter)

    tasks = [asyncio.create_task(one(x)) for x in (a, b) for _ in range(10)]
    deadline = time.monotonic() + 10  # each take is a store round trip in a thread: slow when loaded
    while len(let_go) < 8 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # time for any request that would slip past the window's limit
    # alone, each would let 8 go (its headers' remaining); together they let 8 go in all
    assert len(let_go) == 8
    assert a._held_until == pytest.approx(reset_at, abs=0.01) or b._held_until == pytest.approx(reset_at, abs=0.01)
    for task in tasks:
        task.cancel()


async def test_a_slow_take_carrying_the_probe_lets_no_request_too_many_go(tmp_path: Path) -> None:
    """Takes are concurrent thread hops, so they reach the store in any order. The take that also
    numbers a server's probe goes first of that server's: else its others would take numbers the
    probe, already counted by the provider, should have had."""
    slow, other = server(tmp_path / "s.db"), server(tmp_path / "s.db")
    reset_at = time.time() + 30
    for limiter in (slow, other):
        probe = await limiter.acquire(0)
        limiter.observe(probe, 200, anthropic_headers(10, 8, reset_at))
    answered = []

    def counted(limiter: AccountLimiter, delay_probe: bool) -> None:
        assert isinstance(limiter.shared, StoreBudget)
        real_take = limiter.shared.take

        async def take(account: str, claims: list, now: float):  # type: ignore[no-untyped-def]
            if delay_probe and any(c.budget == "requests" and c.need > 1 for c in claims):
                await asyncio.sleep(0.5)  # the probe's claim reaches the store last
            verdict = await real_take(account, claims, now)
            answered.append(verdict.allowed)
            return verdict

        limiter.shared.take = take  # type: ignore[method-assignment]

    counted(slow, delay_probe=True)
    counted(other, delay_probe=False)
    tasks = [asyncio.create_task(slow.acquire(0)) for _ in range(8)]
    await asyncio.sleep(0.2)  # the slow server's probe claim is on its way (its others too, unless held)
    tasks += [asyncio.create_task(other.acquire(0)) for _ in range(8)]
    deadline = time.monotonic() + 10  # each take is a store round trip in a thread: slow when loaded
    while len(answered) < 16 and time.monotonic() < deadline:  # every request has had its answer
        await asyncio.sleep(0.02)
    assert len(answered) == 16 and answered.count(True) == 8  # 10 in the window, 2 of them the probes
    await asyncio.sleep(0)
    assert sum(t.done() for t in tasks) == 8  # the refused wait for the window's end, 30 s away
    for task in tasks:
        task.cancel()


async def test_a_429_on_one_server_pauses_the_other(tmp_path: Path) -> None:
    a, b = server(tmp_path / "s.db"), server(tmp_path / "s.db")
    reset_at = time.time() + 30
    for limiter in (a, b):
        probe = await limiter.acquire(0)
        limiter.observe(probe, 200, anthropic_headers(100, 90, reset_at))
    ticket = await a.acquire(0)
    a.observe(ticket, 429, {**anthropic_headers(100, 0, reset_at), "retry-after": "5"})
    record: dict[str, object] = {}
    for _ in range(100):  # written by a thread of its own
        assert isinstance(a.shared, StoreBudget)
        record = a.shared._read(ACCOUNT)
        if record:
            break
        await asyncio.sleep(0.02)
    assert float(record["paused_until"]) == pytest.approx(time.time() + 5, abs=1)  # type: ignore[arg-type]
    await asyncio.sleep(0.25)  # past b's cache of the record
    task = asyncio.create_task(b.acquire(0))
    await asyncio.sleep(0.3)
    assert not task.done() and b.paused_until == pytest.approx(time.time() + 4.5, abs=1)
    task.cancel()


async def test_a_server_held_by_a_spent_window_learns_its_end_from_the_others(tmp_path: Path) -> None:
    """The window after a known one is named by its start; a server whose requests it refused,
    with none in flight, learns its end from the record another server wrote."""
    a, b = server(tmp_path / "s.db"), server(tmp_path / "s.db")
    first_end = time.time() + 0.3
    for limiter in (a, b):
        probe = await limiter.acquire(0)
        limiter.observe(probe, 200, anthropic_headers(2, 0, first_end))
    await asyncio.sleep(0.35)  # the first window is over: both are in the next, end unknown
    second_end = time.time() + 30
    t1 = await asyncio.wait_for(a.acquire(0), 2)  # a takes the whole window (2)
    t2 = await asyncio.wait_for(a.acquire(0), 2)
    a.observe(t1, 200, anthropic_headers(2, 1, second_end))  # ... and learns its end: published
    a.observe(t2, 200, anthropic_headers(2, 0, second_end))
    await asyncio.sleep(0.1)
    task = asyncio.create_task(b.acquire(0))
    await asyncio.sleep(0.3)
    assert not task.done()
    assert b._held_until == pytest.approx(second_end, abs=0.01)  # not a poll every AFTER_POLL_S
    assert b._budgets["requests"].reset_at == pytest.approx(second_end, abs=0.01)
    task.cancel()


async def test_without_a_hook_the_limiter_is_the_loops_own() -> None:
    assert ratelimit.current_shared() is None
    limiter = AccountLimiter()
    probe = await limiter.acquire(0)
    limiter.observe(probe, 200, anthropic_headers(10, 9, time.time() + 30))
    assert [await limiter.acquire(0) for _ in range(8)]


async def test_a_store_that_fails_lets_requests_go(tmp_path: Path) -> None:
    limiter = server(tmp_path / "s.db")
    assert isinstance(limiter.shared, StoreBudget)
    limiter.shared.store.close()
    probe = await limiter.acquire(0)
    limiter.observe(probe, 200, anthropic_headers(10, 9, time.time() + 30))
    assert await asyncio.wait_for(limiter.acquire(0), 2)


async def test_the_table_installs_the_hook_on_its_loop(tmp_path: Path) -> None:
    from llmproc_mcp.persist import StorePersistence
    from llmproc_mcp.ratelimit_store import install, uninstall

    persistence = StorePersistence(tmp_path / "s.db")
    budget = install(persistence)
    assert isinstance(budget, StoreBudget) and ratelimit.current_shared() is budget
    limiter = ratelimit.limiter_for(ACCOUNT + "-installed")
    assert limiter.shared is budget and limiter.account == ACCOUNT + "-installed"
    uninstall(budget)
    assert ratelimit.current_shared() is None and limiter.shared is None
    persistence.close()
    assert KIND == "ratelimit"


# -- two processes, one fake account ----------------------------------------------------------------

def _bench():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_rate_limits_shared

    return bench_rate_limits_shared


def _fan_out(store_at: str) -> tuple[int, int]:
    """Two processes x 15 forks against 10 requests a 1 s window: (429s, failed runs)."""
    with FakeLLMServer(lambda _r: Reply(text="ok", delay=0.02),
                       rate_limits=RateLimits(requests_per_minute=10, window_s=1.0)) as fake:
        results = _bench().run_pair(fake.url, store_at, 15)
        return fake.rate_limited, sum(int(r["failed"]) for r in results)


@pytest.mark.slow
def test_two_processes_on_one_sqlite_store_share_the_budget(tmp_path: Path) -> None:
    alone, failed_alone = _fan_out("-")
    shared, failed = _fan_out(str(tmp_path / "shared.db"))
    assert failed == failed_alone == 0
    assert shared <= 3  # 3 windows: at most about one each (a request crossing a window's end)
    assert alone >= shared + 5, (alone, shared)


@pytest.mark.slow
def test_two_processes_on_one_postgres_store_share_the_budget(postgres_url: str) -> None:
    shared, failed = _fan_out(postgres_url)
    assert failed == 0 and shared <= 3


async def test_a_request_cancelled_while_it_takes_from_the_store_frees_its_place(tmp_path: Path) -> None:
    limiter = server(tmp_path / "s.db")
    probe = await limiter.acquire(0)
    limiter.observe(probe, 200, anthropic_headers(10, 9, time.time() + 30))

    class Slow(StoreBudget):
        async def take(self, *args, **kwargs):  # type: ignore[no-untyped-def, override]
            await asyncio.sleep(10)

    assert isinstance(limiter.shared, StoreBudget)
    real, limiter.shared = limiter.shared, Slow(limiter.shared.store)
    task = asyncio.create_task(limiter.acquire(0))
    await asyncio.sleep(0.1)
    assert limiter._pending == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limiter._pending == 0
    limiter.shared = real


# -- two llmproc-mcp HTTP servers ---------------------------------------------------------------------

async def _two_servers(tmp_path: Path, fake: FakeLLMServer, one_store: bool) -> None:
    """Two HTTP servers (one state folder, or one each) spawn 15 runs each at once and collect them.
    Each first runs a warm-up program on another account: a server's first run imports and
    connects for most of a second, which would keep the two servers' windows apart."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from .conftest import STEP_S, HttpServer, program_toml

    programs = tmp_path / "programs"
    programs.mkdir(parents=True)
    toml = program_toml(fake).replace("max_retries = 0", "max_retries = 20\nretry_max_delay_s = 1.0")
    (programs / "helper.toml").write_text(toml)
    warm_up = FakeLLMServer(lambda _r: Reply(text="ready")).start()
    (programs / "warmup.toml").write_text(program_toml(warm_up))
    servers = [HttpServer(programs, tmp_path / ("state" if one_store else f"state-{i}"), log=tmp_path / f"{i}.log")
               for i in range(2)]
    try:
        for s in servers:
            s.start()

        connected, go = [], anyio.Event()

        async def fan_out(s: HttpServer) -> None:
            async with Client(streamable_http_client(s.url), mode="legacy") as client:
                await client.call_tool("run_program", {"program": "warmup", "prompt": "hi"})
                connected.append(s)  # both spawn at once, or a slow start would keep them apart
                if len(connected) == len(servers):
                    go.set()
                await go.wait()
                tasks = [{"program": "helper", "prompt": f"run {i}"} for i in range(15)]
                spawned = await client.call_tool("spawn", {"tasks": tasks})
                pids = [p["pid"] for p in spawned.structured_content["processes"]]  # type: ignore[index]
                while True:
                    done = await client.call_tool("wait", {"pids": pids})
                    rows = done.structured_content["processes"]  # type: ignore[index]
                    if all(r["status"] != "running" for r in rows):
                        assert all(r["status"] == "done" for r in rows), rows
                        return

        with anyio.fail_after(STEP_S * 4):
            async with anyio.create_task_group() as group:
                for s in servers:
                    group.start_soon(fan_out, s)
    finally:
        for s in servers:
            s.stop()
        warm_up.stop()


@pytest.mark.slow
async def test_two_mcp_servers_on_one_store_share_the_budget(tmp_path: Path) -> None:
    limits = RateLimits(requests_per_minute=10, window_s=1.0)
    with FakeLLMServer(lambda _r: Reply(text="ok", delay=0.02), rate_limits=limits) as fake:
        await _two_servers(tmp_path / "apart", fake, one_store=False)
        apart = fake.rate_limited
    with FakeLLMServer(lambda _r: Reply(text="ok", delay=0.02), rate_limits=limits) as fake:
        await _two_servers(tmp_path / "shared", fake, one_store=True)
        shared = fake.rate_limited
    assert shared <= 3 and apart >= shared + 5, (apart, shared)  # 30 requests: 3 windows
