"""Several llmproc-mcp servers on one store (two host windows on the default state folder): pids
are unique across them, each sees every process, follows the others' runs, reads their fds,
refuses to continue a process another live server owns, takes it over once that server is gone,
and finishes the runs a killed server left (durable.py). Real servers: stdio subprocesses driven by the MCP client and HTTP subprocesses, SIGKILLed
at random moments.
"""

from __future__ import annotations

import random
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from llmproc.store import open_store
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .conftest import STEP_S, HttpServer, first, stdio_params, text_of

ECHO = '[model]\nname = "echo"\nprovider = "scripted"\n'
SLOW = '[model]\nname = "slow"\nprovider = "scripted"\nreplies = [{ text = "slow answer", delay = 1.5 }]\n'
STUCK = '[model]\nname = "stuck"\nprovider = "scripted"\nreplies = [{ text = "never", delay = 60 }]\n'
LONG = "\n".join(f"line {i:03d} of a long answer" for i in range(400))  # 10,399 characters


@pytest.fixture(params=["sqlite", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path, tuple[str, ...]]:
    """Programs, the state folder every server is given (as with the default), and the flags that
    choose the store: that folder's SQLite file, or one PostgreSQL database."""
    folder = tmp_path / "programs"
    folder.mkdir()
    (folder / "echo.toml").write_text(ECHO)
    (folder / "slow.toml").write_text(SLOW)
    (folder / "stuck.toml").write_text(STUCK)
    store = ("--store", request.getfixturevalue("postgres_url")) if request.param == "postgres" else ()
    return folder, tmp_path / "state", store


@asynccontextmanager
async def http_client(server: HttpServer) -> AsyncIterator[Client]:
    async with Client(streamable_http_client(server.url), mode="legacy") as client:
        yield client


def pids_of(result: object) -> list[int]:
    return [p["pid"] for p in result.structured_content["processes"]]  # type: ignore[attr-defined]


async def test_two_servers_share_pids_processes_and_fds(shared: tuple[Path, Path, tuple[str, ...]],
                                                         tmp_path: Path) -> None:
    programs, state, store = shared
    flags = ("--max-answer-chars", "3000", "--preview-chars", "500", *store)
    http = HttpServer(programs, state, *flags, log=tmp_path / "a.log").start()
    try:
        with anyio.fail_after(STEP_S * 3):
            async with http_client(http) as a, Client(stdio_params(programs, state, *flags), mode="legacy") as b:
                # started in step on a new store: pids never collide
                async with anyio.create_task_group() as group:
                    found: dict[str, list[int]] = {}

                    async def spawn(name: str, client: Client) -> None:
                        tasks = [{"program": "echo", "prompt": f"{name}-{i}"} for i in range(5)]
                        found[name] = pids_of(await client.call_tool("spawn", {"tasks": tasks}))

                    group.start_soon(spawn, "a", a)
                    group.start_soon(spawn, "b", b)
                assert len(set(found["a"] + found["b"])) == 10, found
                # each sees every process, and collects the other's answers
                listing = await b.call_tool("ps", {})
                assert listing.structured_content["total"] == 10  # type: ignore[index]
                collected = await b.call_tool("wait", {"pids": found["a"]})
                assert all(f"a-{i}" in text_of(collected) for i in range(5)), text_of(collected)
                # a run of A is followed from B until it ends
                slow = pids_of(await a.call_tool("spawn", {"tasks": [{"program": "slow", "prompt": "x"}]}))[0]
                followed = await b.call_tool("wait", {"pids": [slow]})
                assert first(followed)["status"] == "done" and "slow answer" in text_of(followed)
                # A's long answer is an fd that B pages through
                long_run = await a.call_tool("run_program", {"program": "echo", "prompt": LONG})
                fd = first(long_run)["fd"]
                page = await b.call_tool("read_fd", {"fd": fd, "page": 2})
                assert not page.is_error and "line 399 of a long answer" in text_of(page), text_of(page)
                # a process that is not running moves to whichever server continues it, with its
                # whole history: B continues A's process, then A continues it after B
                pid = found["a"][0]
                await b.call_tool("send", {"pid": pid, "prompt": "b continues"})
                again = await a.call_tool("send", {"pid": pid, "prompt": "a again"})
                assert first(again)["status"] == "done" and first(again)["runs"] == 3, text_of(again)
                with open_store(store[1] if store else state) as saved:
                    history = saved.load(f"mcp-process-{pid}")["history"]
                users = [m for m in history if m["role"] == "user"]
                assert len(users) == 3, users  # a-0, then B's turn, then A's: nothing lost or forked
                # one running on a live server is not continued elsewhere; the line says why
                running = pids_of(await a.call_tool("spawn", {"tasks": [{"program": "stuck", "prompt": "z"}]}))[0]
                refused = await b.call_tool("send", {"pid": running, "prompt": "more"})
                assert refused.is_error and "wait" in text_of(refused), text_of(refused)
                assert "\n" not in text_of(refused).strip()
                # ... but killed from there: its server is asked through the store and stops it
                killed = await b.call_tool("kill", {"pid": running})
                assert not killed.is_error and first(killed)["status"] == "killed", text_of(killed)
                seen_by_a = await a.call_tool("wait", {"pids": [running]})
                assert first(seen_by_a)["status"] == "killed"
                # a run of A cut off by its death is finished by B on its own, and B takes A's
                # processes over
                dying = pids_of(await a.call_tool("spawn", {"tasks": [{"program": "slow", "prompt": "y"}]}))[0]
                assert http.process is not None
                http.process.send_signal(signal.SIGKILL)
                http.process.wait(timeout=STEP_S)
                cut = await b.call_tool("wait", {"pids": [dying]})
                assert first(cut)["status"] == "done" and "slow answer" in text_of(cut), text_of(cut)
                taken = await b.call_tool("send", {"pid": found["a"][1], "prompt": "b takes over"})
                assert first(taken)["status"] == "done" and "b takes over" in text_of(taken)
    finally:
        http.stop()


async def test_four_servers_killed_at_random_lose_and_mix_nothing(shared: tuple[Path, Path, tuple[str, ...]],
                                                                  tmp_path: Path) -> None:
    programs, state, store = shared
    rng = random.Random(1234)
    https = [HttpServer(programs, state, *store, log=tmp_path / f"h{i}.log") for i in range(2)]
    created: dict[int, str] = {}  # pid -> the prompt its creator sent
    try:
        for server in https:
            server.start()
        with anyio.fail_after(STEP_S * 4):
            def connect(index: int) -> AsyncIterator[Client]:
                if index < len(https):
                    return http_client(https[index])
                return Client(stdio_params(programs, state, *store), mode="legacy")  # type: ignore[return-value]

            async def work(index: int) -> None:
                try:
                    async with connect(index) as client:
                        for round_ in range(4):
                            tasks = [{"program": rng.choice(["echo", "slow"]), "prompt": f"s{index}-r{round_}-{k}"}
                                     for k in range(3)]
                            result = await client.call_tool("spawn", {"tasks": tasks})
                            for pid, task in zip(pids_of(result), tasks, strict=True):
                                assert pid not in created, f"pid {pid} handed out twice"
                                created[pid] = task["prompt"]
                            await anyio.sleep(rng.uniform(0.05, 0.4))
                except AssertionError:
                    raise
                except BaseException:  # the killed server's connection breaks: what it created stays
                    if index != 0:
                        raise

            async def killer() -> None:
                await anyio.sleep(rng.uniform(0.3, 1.2))
                victim = https[0].process
                assert victim is not None
                victim.send_signal(signal.SIGKILL)

            async with anyio.create_task_group() as group:
                for index in range(4):
                    group.start_soon(work, index)
                group.start_soon(killer)
            # a survivor accounts for every process: each one done with its own answer (the
            # killed server's runs were taken over by the others)
            async with Client(stdio_params(programs, state, *store), mode="legacy") as survivor:
                final = await survivor.call_tool("wait", {"pids": sorted(created)})
            rows = {p["pid"]: p for p in final.structured_content["processes"]}  # type: ignore[index]
        assert set(rows) == set(created) and len(created) >= 12, (len(created), sorted(rows))
        listing_text = text_of(final)
        for pid, prompt in created.items():
            assert rows[pid]["status"] == "done", rows[pid]
            if rows[pid]["program"] == "echo":
                assert f'<answer pid="{pid}">\n{prompt}\n</answer>' in listing_text, (pid, prompt)
    finally:
        for server in https:
            server.stop()


async def test_two_servers_continuing_one_process_at_once_one_does(shared: tuple[Path, Path, tuple[str, ...]],
                                                                   tmp_path: Path) -> None:
    programs, state, store = shared
    with anyio.fail_after(STEP_S * 3):
        async with Client(stdio_params(programs, state, *store), mode="legacy") as a:
            pid = first(await a.call_tool("run_program", {"program": "slow", "prompt": "first"}))["pid"]
            async with Client(stdio_params(programs, state, *store), mode="legacy") as b, \
                    Client(stdio_params(programs, state, *store), mode="legacy") as c:
                results = {}

                async def send(name: str, client: Client) -> None:
                    results[name] = await client.call_tool("send", {"pid": pid, "prompt": f"from {name}"})

                async with anyio.create_task_group() as group:
                    group.start_soon(send, "b", b)
                    group.start_soon(send, "c", c)
                winners = [n for n, r in results.items() if not r.is_error]
                assert len(winners) == 1, {n: text_of(r) for n, r in results.items()}
                loser = results["c" if winners == ["b"] else "b"]
                assert "\n" not in text_of(loser).strip() and ("taken over" in text_of(loser)
                                                               or "wait" in text_of(loser)), text_of(loser)
                await (b if winners == ["b"] else c).call_tool("wait", {"pids": [pid]})
    with open_store(store[1] if store else state) as saved:
        history = saved.load(f"mcp-process-{pid}")["history"]
    users = [m for m in history if m["role"] == "user"]
    assert len(users) == 2, users  # "first", then the winner's prompt: the two did not both run
