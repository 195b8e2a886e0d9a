"""Traces across the MCP boundary: a host's W3C `traceparent` in the request `_meta` is continued
by the llmproc-mcp call span, and the runs the call starts (and their children) nest under it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import mcp.shared._otel as mcp_otel
import pytest
from llmproc.testing import FakeLLMServer, Reply, ToolUse
from mcp import Client
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.otel_provider import install

from llmproc_mcp.server import build_server

from .conftest import ROOT, STEP_S, server_args, server_env, settings_for

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
HOST_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{HOST_SPAN}-01"



@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    saved = install(provider)
    # the SDK's proxy tracer binds to the first provider it sees: give it a fresh one
    monkeypatch.setattr(mcp_otel, "_tracer", trace.get_tracer("mcp-python-sdk"))
    yield exporter
    install(saved)
    provider.shutdown()


def ancestors(span: ReadableSpan, exported: tuple[ReadableSpan, ...]) -> list[str]:
    """Names of the exported ancestors, nearest first, then the hex id of the first missing parent."""
    ids = {s.context.span_id: s for s in exported if s.context is not None}
    out: list[str] = []
    while span.parent is not None:
        parent = ids.get(span.parent.span_id)
        if parent is None:
            out.append(f"{span.parent.span_id:016x}")
            break
        out.append(parent.name)
        span = parent
    return out


@pytest.mark.parametrize("sdk_middleware", [True, False], ids=["sdk-span", "meta-only"])
async def test_traceparent_from_the_host_is_continued(spans: InMemorySpanExporter, programs: Path,
                                                      fake_llm: FakeLLMServer, sdk_middleware: bool) -> None:
    fake_llm.add(Reply(tool_calls=[ToolUse("spawn", {"program_name": "helper", "prompt": "look it up"})]),
                 Reply(text="helper: 42"), Reply(text="boss: 42"))
    server = build_server(settings_for(programs))
    if not sdk_middleware:
        server._lowlevel_server.middleware = []  # pyright: ignore[reportPrivateUsage]
    async with Client(server) as client:
        with anyio.fail_after(STEP_S):
            result = await client.call_tool("run_program", {"program": "boss", "prompt": "go"},
                                            meta={"traceparent": TRACEPARENT, "tracestate": "vendor=1"})
    assert not result.is_error
    exported = spans.get_finished_spans()
    (call,) = [s for s in exported if s.name == "llmproc-mcp run_program"]
    assert call.context is not None and f"{call.context.trace_id:032x}" == TRACE_ID
    assert call.context.trace_state.get("vendor") == "1"
    assert call.attributes is not None and call.attributes["llmproc.program"] == "boss"
    assert list(call.attributes["llmproc.pids"]) == [1]  # type: ignore[arg-type]
    chain = ancestors(call, exported)
    assert chain[-1] == HOST_SPAN
    assert chain[:-1] == (["tools/call run_program"] if sdk_middleware else [])
    (helper,) = [s for s in exported if s.name == "llmproc.run helper"]
    assert ancestors(helper, exported)[:4] == ["execute_tool spawn", "llmproc.run boss", "llmproc-mcp run_program",
                                               *(["tools/call run_program"] if sdk_middleware else [HOST_SPAN])]
    ours = [s for s in exported if s.name.startswith(("llmproc", "chat ", "execute_tool"))]
    assert len(ours) == 7 and {f"{s.context.trace_id:032x}" for s in ours if s.context} == {TRACE_ID}


async def test_spawn_fork_and_send_calls_have_spans(spans: InMemorySpanExporter, programs: Path,
                                                    fake_llm: FakeLLMServer) -> None:
    fake_llm.add(Reply(text="one"), Reply(text="two"), Reply(text="three"))
    async with Client(build_server(settings_for(programs))) as client:
        with anyio.fail_after(STEP_S):
            await client.call_tool("spawn", {"tasks": [{"program": "helper", "prompt": "a"}]})
            await client.call_tool("wait", {"pids": [1]})
            await client.call_tool("fork", {"pid": 1, "prompts": ["b"]})
            await client.call_tool("send", {"pid": 1, "prompt": "c"})
    names = [s.name for s in spans.get_finished_spans()]
    for tool in ("spawn", "fork", "send"):
        assert f"llmproc-mcp {tool}" in names
    assert names.count("llmproc.run helper") == 3


def test_a_stdio_server_sends_its_spans_when_it_stops(programs: Path, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """The real `llmproc-mcp` over stdio, spans batched for a minute: they are written (console
    exporter, stderr) when stdin closes and the server exits, in the host's trace; stdout stays
    JSON-RPC only."""
    fake_llm.add(Reply(text="helper: 42"))
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "run_program", "arguments": {"program": "helper", "prompt": "go"},
                    "_meta": {"traceparent": TRACEPARENT}}},
    ]
    env = {**server_env(), "OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "60000"}
    server = subprocess.Popen([sys.executable, *server_args(programs, tmp_path / "state")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    watchdog = threading.Timer(STEP_S * 2, server.kill)  # bounds the blocking reads below
    watchdog.start()
    try:
        assert server.stdin is not None and server.stdout is not None and server.stderr is not None
        server.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        server.stdin.flush()
        replies = [json.loads(server.stdout.readline()) for _ in range(2)]
        server.stdin.close()
        server.wait(timeout=STEP_S)
        rest, errors = server.stdout.read(), server.stderr.read()
    finally:
        watchdog.cancel()
        if server.poll() is None:
            server.kill()
    assert "helper: 42" in json.dumps(replies[1]) and rest == "" and server.returncode == 0
    assert '"name": "llmproc-mcp run_program"' in errors and '"name": "llmproc.run helper"' in errors
    assert f'"trace_id": "0x{TRACE_ID}"' in errors
