"""`llmproc-mcp --http` in a subprocess: runs and progress over streamable HTTP in both protocol
eras, cancellation, the bearer token (required off loopback, refused without it), and the
DNS-rebinding check (a foreign Host or Origin is refused)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
from llmproc.testing import FakeLLMServer, Reply, ToolUse
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .conftest import ROOT, STEP_S, HttpServer, Progress, first, server_args, server_env, text_of

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_run_cancel_and_fan_out_over_http(http_server: HttpServer, fake_llm: FakeLLMServer) -> None:
    """Both protocol eras against one server (one process table for every session)."""
    for mode in ("auto", "legacy"):
        spawn = ToolUse("spawn", {"program_name": "helper", "prompt": "x"})
        fake_llm.add(Reply(text="On it.", tool_calls=[spawn]), Reply(text="child", delay=0.6),
                     Reply(text="Boss done."), Reply(text="Again.", tool_calls=[spawn]),
                     Reply(text="never", delay=30))
        progress = Progress()
        with anyio.fail_after(STEP_S):
            async with Client(http_server.url, mode=mode) as client:  # type: ignore[arg-type]
                result = await client.call_tool("run_program", {"program": "boss", "prompt": "go"},
                                                progress_callback=progress)
                with anyio.CancelScope() as scope:
                    async def cancel_on_spawn(p: float, t: float | None, message: str | None) -> None:
                        if message and "spawn" in message:
                            scope.cancel()
                    await client.call_tool("run_program", {"program": "boss", "prompt": "go"},
                                           progress_callback=cancel_on_spawn)
                pid = first(result)["pid"] + 1
                cancelled = await client.call_tool("wait", {"pids": [pid]})
        assert "Boss done." in text_of(result), mode
        assert f"pid {pid - 1} turn 1: spawn helper" in progress.messages, mode
        assert first(cancelled)["status"] == "cancelled" and "Again." in text_of(cancelled), mode
    fake_llm.add(Reply(text="fan"), Reply(text="fan"))
    with anyio.fail_after(STEP_S):
        async with Client(http_server.url) as client:
            spawned = await client.call_tool("spawn", {"tasks": [{"program": "helper", "prompt": "a"},
                                                                 {"program": "helper", "prompt": "b"}]})
            pids = [p["pid"] for p in spawned.structured_content["processes"]]
            collected = await client.call_tool("wait", {"pids": pids})
            ps = await client.call_tool("ps", {})
    assert pids == [5, 6]  # after the four runs of the earlier sessions
    assert [p["status"] for p in collected.structured_content["processes"]] == ["done", "done"]
    assert ps.structured_content["total"] == 6


async def test_a_token_is_required_when_configured(programs: Path, fake_llm: FakeLLMServer,
                                                   tmp_path: Path) -> None:
    # Bound beyond loopback, as a shared server would be; the test reaches it on 127.0.0.1.
    server = HttpServer(programs, tmp_path / "state", "--host", "0.0.0.0", "--token", "s3cret",
                        log=tmp_path / "server.log").start()
    fake_llm.add(Reply(text="authorized"))
    try:
        with anyio.fail_after(STEP_S):
            async with httpx2.AsyncClient(timeout=STEP_S) as http:
                refused = await http.post(server.url, json=INIT, headers=ACCEPT)
                wrong = await http.post(server.url, json=INIT,
                                        headers={**ACCEPT, "Authorization": "Bearer nope"})
                health = await http.get(f"http://127.0.0.1:{server.port}/health")
            headers = {"Authorization": "Bearer s3cret"}
            async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(STEP_S)) as http:
                async with Client(streamable_http_client(server.url, http_client=http)) as client:
                    result = await client.call_tool("run_program", {"program": "helper", "prompt": "hi"})
    finally:
        server.stop()
    assert refused.status_code == 401 and wrong.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert health.status_code == 200
    assert "authorized" in text_of(result)


def test_binding_beyond_loopback_without_a_token_is_refused(programs: Path, tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, *server_args(programs, tmp_path / "state", "--http", "--host",
                                                       "0.0.0.0")],
                         capture_output=True, text=True, env=server_env(), cwd=ROOT, timeout=STEP_S,
                         check=False)
    assert run.returncode == 2
    assert "--token" in run.stderr and "LLMPROC_MCP_TOKEN" in run.stderr
    assert run.stdout == ""


async def test_dns_rebinding_is_refused(http_server: HttpServer) -> None:
    with anyio.fail_after(STEP_S):
        async with httpx2.AsyncClient(timeout=STEP_S) as http:
            evil_host = await http.post(http_server.url, json=INIT,
                                        headers={**ACCEPT, "Host": "evil.example"})
            evil_origin = await http.post(http_server.url, json=INIT,
                                          headers={**ACCEPT, "Origin": "http://evil.example"})
            good = await http.post(http_server.url, json=INIT,
                                   headers={**ACCEPT, "Origin": f"http://127.0.0.1:{http_server.port}"})
    assert evil_host.status_code == 421
    assert evil_origin.status_code == 403
    assert good.status_code == 200
