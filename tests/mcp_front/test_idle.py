"""Idle processes are closed: after `idle_s` a finished process's MCP servers stop and its memory
is freed, its state kept in the store; `send` and `fork` bring it back with its history. Fork
copies are closed before the process they were copied from; without a store nothing is closed."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest
from llmproc.testing import FakeLLMServer, Reply

from llmproc_mcp.entry import Status
from llmproc_mcp.persist import open_persistence
from llmproc_mcp.programs import ProgramRegistry
from llmproc_mcp.settings import SettingsError, parse_args
from llmproc_mcp.table import ProcessTable

from ..core.mcp.conftest import OUR_SERVER, alive
from .conftest import STEP_S, program_toml, settings_for

IDLE_S = 0.3


def table_for(programs: Path, state: Path | None, idle_s: float = IDLE_S) -> ProcessTable:
    settings = settings_for(programs, state_dir=state, idle_s=idle_s)
    return ProcessTable(settings, ProgramRegistry(settings.program_dirs), open_persistence(state))


async def closed_soon(table: ProcessTable, pid: int) -> None:
    with anyio.fail_after(STEP_S):
        while table.entries[pid].process is not None:
            await anyio.sleep(0.05)


def texts(request) -> list[str]:
    return [part["text"] for m in request.body["messages"] for part in m["content"] if part.get("type") == "text"]


async def test_an_idle_process_is_closed_with_its_mcp_server_and_send_restores_it(
        programs: Path, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    (programs / "tooled.toml").write_text(program_toml(
        fake_llm, extra=f'\n[mcp.servers.our]\ncommand = "{sys.executable}"\nargs = ["{OUR_SERVER}"]\n'
                        '\n[tools.mcp]\nour = ["echo"]\n'))
    fake_llm.add(Reply(text="first answer"), Reply(text="second answer"))
    async with table_for(programs, tmp_path / "state") as table:
        entry = await table.start("tooled", "remember the word plum")
        assert await table.wait([entry], STEP_S) and entry.status is Status.DONE
        servers = [c.pid for c in entry.process.mcp_servers.connections.values()]
        assert servers and all(alive(pid) for pid in servers)
        await closed_soon(table, entry.pid)
        with anyio.fail_after(STEP_S):  # the MCP server went with it
            while any(alive(pid) for pid in servers):
                await anyio.sleep(0.05)
        await table.send(entry.pid, "which word?")
        assert await table.wait([entry], STEP_S) and entry.answer == "second answer"
        assert entry.process is not None and entry.process.mcp_servers.connections
    assert texts(fake_llm.requests[-1])[:2] == ["remember the word plum", "first answer"]
    assert texts(fake_llm.requests[-1])[-1] == "which word?"


async def test_copies_are_closed_before_the_process_they_came_from(
        programs: Path, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.add(Reply(text="parent"), Reply(text="copy", delay=1.0), Reply(text="copy again"))
    async with table_for(programs, tmp_path / "state") as table:
        parent = await table.start("helper", "start")
        assert await table.wait([parent], STEP_S)
        [copy] = await table.fork(parent.pid, ["go on"])
        await anyio.sleep(IDLE_S * 2)  # the copy still runs: its parent stays, it lends its connections
        assert copy.status.active and parent.process is not None
        assert await table.wait([copy], STEP_S)
        await closed_soon(table, parent.pid)
        assert copy.process is None  # the copy went first
        await table.send(copy.pid, "and again")  # a copy restores on its own
        assert await table.wait([copy], STEP_S) and copy.answer == "copy again"
    assert texts(fake_llm.requests[-1])[:4] == ["start", "parent", "go on", "copy"]


async def test_without_a_store_or_with_idle_zero_nothing_is_closed(programs: Path, fake_llm: FakeLLMServer,
                                                                   tmp_path: Path) -> None:
    fake_llm.add(Reply(text="a"), Reply(text="b"))
    for table in (table_for(programs, None), table_for(programs, tmp_path / "state", idle_s=0)):
        async with table:
            entry = await table.start("helper", "hello")
            assert await table.wait([entry], STEP_S)
            await anyio.sleep(IDLE_S * 3)
            assert entry.process is not None


def test_the_idle_setting() -> None:
    assert parse_args(["--idle", "0"]).idle_s == 0
    assert parse_args([]).idle_s == 600
    with pytest.raises(SettingsError, match="--idle"):
        parse_args(["--idle", "-1"])


async def test_closing_a_slow_process_does_not_hold_up_the_others(
        programs: Path, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    # A server that ignores the end of its stdin and SIGTERM takes seconds to stop; closing the
    # idle process that owns it must not delay a send to another process meanwhile.
    (programs / "stubborn.toml").write_text(program_toml(
        fake_llm, extra=f'\n[mcp.servers.our]\ncommand = "{sys.executable}"\nargs = ["{OUR_SERVER}", "--stubborn"]\n'
                        '\n[tools.mcp]\nour = ["echo"]\n'))
    fake_llm.add(Reply(text="slow to close"), Reply(text="busy one"), Reply(text="answered meanwhile"))
    async with table_for(programs, tmp_path / "state", idle_s=IDLE_S) as table:
        slow = await table.start("stubborn", "one")
        assert await table.wait([slow], STEP_S)
        busy = await table.start("helper", "two")
        assert await table.wait([busy], STEP_S)
        await closed_soon(table, slow.pid)  # detached; its server is still being stopped
        started = anyio.current_time()
        await table.send(busy.pid, "three")
        assert await table.wait([busy], STEP_S) and busy.answer == "answered meanwhile"
        assert anyio.current_time() - started < 1.5
