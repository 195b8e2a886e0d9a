"""`python -m llmproc_mcp` over real stdio, as hosts start it: both protocol eras (Claude Code
speaks 2025-11-25), progress, the bounded wait, cancellation, paging, and a clean stdout."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import anyio
from llmproc.testing import FakeLLMServer, Reply, ToolUse
from mcp import Client

from .conftest import ROOT, STEP_S, Progress, first, server_args, server_env, stdio_params, text_of


async def test_run_with_progress_over_stdio(programs: Path, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """In the 2025-11-25 era, as Claude Code and Claude Desktop speak it."""
    fake_llm.add(Reply(tool_calls=[ToolUse("spawn", {"program_name": "helper", "prompt": "x"})]),
                 Reply(text="child done", delay=0.8), Reply(text="All done."))
    progress = Progress()
    with anyio.fail_after(STEP_S):
        async with Client(stdio_params(programs, tmp_path / "state"), mode="legacy") as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool("run_program", {"program": "boss", "prompt": "go"},
                                            progress_callback=progress)
    assert {"run_program", "spawn", "fork", "read_fd", "send", "wait", "ps", "kill"} == tools
    assert first(result)["status"] == "done" and "All done." in text_of(result)
    assert "pid 1 turn 1: spawn helper" in progress.messages


async def test_bounded_wait_cancellation_and_paging_over_stdio(
        programs: Path, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """In the 2026-07-28 era (the Python SDK's default), where cancellation has no notification."""
    long_answer = "".join(f"row {i}\n" for i in range(3000))
    fake_llm.add(Reply(text="slow", delay=1.0), Reply(text="Partial thoughts.", tool_calls=[
        ToolUse("spawn", {"program_name": "helper", "prompt": "x"})]), Reply(text="never", delay=30),
        Reply(text=long_answer))
    params = stdio_params(programs, tmp_path / "state", "--wait", "0.3")
    with anyio.fail_after(STEP_S):
        async with Client(params) as client:
            assert client.protocol_version == "2026-07-28"
            pending = await client.call_tool("run_program", {"program": "helper", "prompt": "slowly"})
            assert first(pending)["status"] in ("queued", "running")
            while first(done := await client.call_tool("wait", {"pids": [1]}))["status"] == "running":
                pass
            assert "slow" in text_of(done)

            with anyio.CancelScope() as scope:
                async def cancel_on_spawn(p: float, t: float | None, message: str | None) -> None:
                    # once the helper's request is in (it takes the 30 s reply, not the next one)
                    if message and "spawn" in message and len(fake_llm.requests) == 3:
                        scope.cancel()
                await client.call_tool("run_program", {"program": "boss", "prompt": "go"},
                                       progress_callback=cancel_on_spawn)
            cancelled = await client.call_tool("wait", {"pids": [2]})
            paged = await client.call_tool("send", {"pid": 1, "prompt": "now a long one"})
            while first(paged)["status"] == "running":
                paged = await client.call_tool("wait", {"pids": [1]})
            page2 = await client.call_tool("read_fd", {"fd": first(paged)["fd"], "page": 2})
    assert first(cancelled)["status"] == "cancelled" and "Partial thoughts." in text_of(cancelled)
    assert first(paged)["fd"] == "fd:1" and first(paged)["shown_chars"] < len(long_answer)
    assert 'page="2 of' in text_of(page2) and "row " in text_of(page2)


def test_stdout_carries_only_protocol_messages(programs: Path, tmp_path: Path) -> None:
    """Debug logging on, a full exchange: every stdout line is JSON-RPC, the logs are on stderr."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "ps", "arguments": {}}},
    ]
    args = server_args(programs, tmp_path / "state")
    args[args.index("WARNING")] = "DEBUG"
    server = subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=server_env(), cwd=ROOT)
    watchdog = threading.Timer(STEP_S, server.kill)  # bounds the blocking reads below
    watchdog.start()
    try:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        server.stdin.flush()
        replies = [json.loads(server.stdout.readline()) for _ in range(3)]
        server.stdin.close()  # end of input: the server exits
        server.wait(timeout=STEP_S)
        rest, errors = server.stdout.read(), server.stderr.read()  # type: ignore[union-attr]
    finally:
        watchdog.cancel()
        if server.poll() is None:
            server.kill()
    assert [r.get("id") for r in replies] == [1, 2, 3] and all(r["jsonrpc"] == "2.0" for r in replies)
    assert "no processes yet" in replies[2]["result"]["content"][0]["text"]
    assert rest == ""
    assert "DEBUG" in errors
    assert server.returncode == 0
