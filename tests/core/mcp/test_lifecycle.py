"""Server lifetimes over stdio: failed starts, timeouts, crashes and restarts, bounded shutdown
that leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import time

import anyio
import pytest

from llmproc.errors import MCPServerError
from llmproc.tools.base import SimpleToolContext
from llmproc.tools.mcp import McpConnection, McpServers, StdioSpec
from llmproc.tools.mcp import stdio_transport

from .conftest import alive, children, our_spec

CTX = SimpleToolContext()


async def test_a_server_that_exits_at_start_is_named_with_its_command_and_stderr() -> None:
    servers = McpServers({"db": our_spec("--fail-start", name="db")}, {"db": "all"})
    with anyio.fail_after(20), pytest.raises(MCPServerError) as caught:
        await servers.start()
    err = caught.value
    message = str(err)
    assert err.server == "db" and "'db' did not start" in message
    assert "exit code 2" in message
    assert err.command.endswith("our_server.py --fail-start") and err.command in message
    assert "cannot open the database /nonexistent/db.sqlite" in err.stderr_tail
    assert err.stderr_tail.splitlines()[-1] in message


async def test_a_missing_command_says_so() -> None:
    spec = StdioSpec("ghost", "no-such-mcp-server-binary", ("--flag",), source="prog.toml: mcp.servers.ghost")
    conn = McpConnection(spec)
    with anyio.fail_after(10), pytest.raises(MCPServerError) as caught:
        await conn.start()
    message = str(caught.value)
    assert "'ghost' did not start: command not found: 'no-such-mcp-server-binary'" in message
    assert "no-such-mcp-server-binary --flag" in message and "prog.toml: mcp.servers.ghost" in message


async def test_a_server_that_never_answers_times_out_and_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stdio_transport, "EXIT_GRACE_S", 0.3)  # it does not read its stdin: SIGTERM
    before = children()
    conn = McpConnection(our_spec("--hang-start", name="mute"), start_timeout_s=1.0)
    started = time.monotonic()
    with anyio.fail_after(15), pytest.raises(MCPServerError, match="did not answer within 1 s"):
        await conn.start()
    assert time.monotonic() - started < 4  # 1 s to give up, then a bounded shutdown
    assert children() <= before


async def test_one_failing_server_stops_the_others() -> None:
    before = children()
    servers = McpServers({"good": our_spec(name="good"), "bad": our_spec("--fail-start", name="bad")},
                         {"good": "all", "bad": "all"})
    with anyio.fail_after(20), pytest.raises(MCPServerError, match="'bad' did not start"):
        await servers.start()
    assert children() <= before  # the good one was started, then stopped again


async def test_a_call_that_times_out_is_an_error_result_and_the_server_stays_usable() -> None:
    conn = McpConnection(our_spec(), call_timeout_s=0.5)
    try:
        with anyio.fail_after(20):
            await conn.start()
            pid = conn.pid
            started = time.monotonic()
            out = await conn.call("sleep", {"seconds": 30})
            assert time.monotonic() - started < 3
            assert out.is_error and "did not finish within 0.5 s" in out.content
            assert "call_timeout_s" in out.content
            assert (await conn.call("echo", {"text": "next"})).content == "next"
            assert conn.pid == pid and conn.restarts == 0
    finally:
        await conn.aclose()


async def test_a_crash_during_a_call_is_an_error_result_and_the_next_call_restarts_it() -> None:
    conn = McpConnection(our_spec())
    try:
        with anyio.fail_after(30):
            await conn.start()
            first_pid = conn.pid
            out = await conn.call("crash", {})
            assert out.is_error
            assert "'our' stopped during the call to crash" in out.content
            assert "exit code 3" in out.content and "crashing on purpose" in out.content
            assert "restarted on the next call" in out.content
            assert (await conn.call("echo", {"text": "back"})).content == "back"
            assert conn.restarts == 1 and conn.pid not in (None, first_pid)
            assert not alive(first_pid)
    finally:
        await conn.aclose()


async def test_a_server_that_died_between_calls_is_restarted_before_the_next_one() -> None:
    conn = McpConnection(our_spec())
    try:
        with anyio.fail_after(30):
            await conn.start()
            os.kill(conn.pid, signal.SIGKILL)
            while conn.connected:  # the end of its stdout is noticed without a call
                await anyio.sleep(0.01)
            out = await conn.call("echo", {"text": "as if nothing happened"})
            assert (out.content, out.is_error) == ("as if nothing happened", False)
            assert conn.restarts == 1
    finally:
        await conn.aclose()


async def test_shutdown_ends_the_server_and_the_processes_it_started() -> None:
    servers = McpServers({"our": our_spec()}, {"our": "all"})
    with anyio.fail_after(20):
        toolset = await servers.start()
        out = await toolset.call("our__spawn_helper", {}, CTX)
    started = json.loads(out.content)
    server_pid, helper_pid = started["server"], started["helper"]
    assert alive(server_pid) and alive(helper_pid)
    begin = time.monotonic()
    with anyio.fail_after(15):
        await servers.aclose()
    assert time.monotonic() - begin < 5  # no grace period needed: the server exits when its stdin closes
    assert not alive(server_pid)
    assert not alive(helper_pid)  # killed with the server's process group


async def test_a_server_that_ignores_stdin_and_sigterm_is_killed_in_bounded_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stdio_transport, "EXIT_GRACE_S", 0.3)
    monkeypatch.setattr(stdio_transport, "TERM_GRACE_S", 0.3)
    conn = McpConnection(our_spec("--stubborn"))
    with anyio.fail_after(20):
        await conn.start()
    pid = conn.pid
    begin = time.monotonic()
    with anyio.fail_after(10):
        await conn.aclose()
    assert 0.5 < time.monotonic() - begin < 3  # it took SIGKILL, after both graces
    assert not alive(pid)
    out = await conn.call("echo", {"text": "x"})
    assert out.is_error and "closed" in out.content


async def test_cancelling_the_caller_cancels_the_call_not_the_server() -> None:
    conn = McpConnection(our_spec())
    try:
        with anyio.fail_after(20):
            await conn.start()
            with anyio.move_on_after(0.3):
                await conn.call("sleep", {"seconds": 30})
            assert (await conn.call("echo", {"text": "alive"})).content == "alive"
            assert conn.restarts == 0
    finally:
        await conn.aclose()
