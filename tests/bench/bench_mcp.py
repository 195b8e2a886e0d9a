"""MCP client figures, measured side by side in one run:

1. call overhead: one MCP tool call through llmproc (`LLMProcess.call_tool`, the path the turn
   loop takes: toolset, name mapping, timeout, result conversion, progress hook) versus the same
   call with `mcp.Client` directly on the same server program. Target: ratio <= 1.2.
2. concurrent start: `program.start()` of a process with three stdio servers versus the slowest
   of the three started alone by the same path. Target: ratio <= 1.3.
   Servers: our test server (tests/core/mcp/our_server.py), server-everything and mcp-server-time
   when tests/mcp_servers/install.sh has installed them (else more copies of ours). Their start
   is mostly CPU (interpreters importing their SDKs), so on a machine with fewer free cores than
   servers it cannot be fully concurrent; a second line measures three servers whose start is
   waiting (a 0.5 s delay, a minimal JSON-RPC server without SDK), which isolates llmproc's
   own concurrency from the machine's.
Batches alternate between the sides so machine noise hits both alike.

    python tests/bench/bench_mcp.py [--calls 300] [--batches 7] [--starts 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from llmproc import LLMProgram
from llmproc.messages import ToolCall

ROOT = Path(__file__).resolve().parents[2]
OUR_SERVER = ROOT / "tests" / "core" / "mcp" / "our_server.py"
INSTALLED = ROOT / "tests" / "mcp_servers"
EVERYTHING = INSTALLED / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
TIME_SERVER = INSTALLED / ".venv-pypi" / "bin" / "mcp-server-time"


def three_servers() -> dict[str, dict[str, Any]]:
    servers: dict[str, dict[str, Any]] = {"our": {"command": sys.executable, "args": [str(OUR_SERVER)]}}
    node = shutil.which("node")
    ours = {"command": sys.executable, "args": [str(OUR_SERVER)]}
    servers["everything"] = ({"command": node, "args": [str(EVERYTHING), "stdio"]}
                             if node and EVERYTHING.is_file() else ours)
    servers["time"] = ({"command": str(TIME_SERVER), "args": ["--local-timezone", "UTC"]}
                       if TIME_SERVER.is_file() else ours)
    return servers


# A minimal MCP server (2025-11-25 handshake) that waits DELAY seconds before serving.
WAITING_SERVER = r"""
import json, sys, time
time.sleep(float(sys.argv[1]))
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    method = msg["method"]
    if method == "initialize":
        result = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                  "serverInfo": {"name": "waiting", "version": "1"}}
    elif method == "tools/list":
        result = {"tools": [{"name": "noop", "inputSchema": {"type": "object"}}]}
    elif method == "ping":
        result = {}
    else:
        print(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                          "error": {"code": -32601, "message": "Method not found"}}), flush=True)
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
"""


def waiting_servers(delay: float) -> dict[str, dict[str, Any]]:
    return {name: {"command": sys.executable, "args": ["-c", WAITING_SERVER, str(delay)]} for name in "abc"}


def program(servers: dict[str, dict[str, Any]]) -> LLMProgram:
    return LLMProgram.from_dict({"model": {"name": "bench", "provider": "scripted"},
                                 "mcp": {"servers": servers},
                                 "tools": {"mcp": {name: "all" for name in servers}}})


async def call_overhead(calls: int, batches: int) -> tuple[float, float]:
    """Median seconds per call: through llmproc, and with mcp.Client directly."""
    ours_side: list[float] = []
    raw_side: list[float] = []
    args = {"text": "x" * 200}
    params = StdioServerParameters(command=sys.executable, args=[str(OUR_SERVER)])
    devnull = open(os.devnull, "w")  # noqa: SIM115 - closed below
    process = await program({"our": {"command": sys.executable, "args": [str(OUR_SERVER)]}}).start()
    try:
        # The server's stderr (its request log) goes nowhere on both sides.
        async with Client(stdio_client(params, errlog=devnull)) as client:
            call = ToolCall("c1", "our__echo", args)
            for _ in range(20):  # warm both paths up
                await process.call_tool(call)
                await client.call_tool("echo", args)
            for _ in range(batches):
                started = time.perf_counter()
                for _ in range(calls):
                    output = await process.call_tool(call)
                ours_side.append((time.perf_counter() - started) / calls)
                assert output.content == args["text"], output
                started = time.perf_counter()
                for _ in range(calls):
                    result = await client.call_tool("echo", args)
                raw_side.append((time.perf_counter() - started) / calls)
                assert not result.is_error
    finally:
        await process.aclose()
        devnull.close()
    return statistics.median(ours_side), statistics.median(raw_side)


async def timed_start(servers: dict[str, dict[str, Any]]) -> float:
    prog = program(servers)
    started = time.perf_counter()
    process = await prog.start()
    elapsed = time.perf_counter() - started
    await process.aclose()
    return elapsed


async def concurrent_start(servers: dict[str, dict[str, Any]], rounds: int) -> tuple[float, dict[str, float]]:
    """Median start of all three together, and of each alone."""
    together: list[float] = []
    alone: dict[str, list[float]] = {name: [] for name in servers}
    await timed_start(servers)  # warm the file cache
    for _ in range(rounds):
        together.append(await timed_start(servers))
        for name, spec in servers.items():
            alone[name].append(await timed_start({name: spec}))
    return statistics.median(together), {name: statistics.median(times) for name, times in alone.items()}


async def main(calls: int, batches: int, starts: int) -> None:
    ours, raw = await call_overhead(calls, batches)
    starts_measured = {"start with 3 stdio servers": await concurrent_start(three_servers(), starts),
                       "  control: 3 waiting servers": await concurrent_start(waiting_servers(0.5), starts)}
    print(f"{'figure':<34}{'llmproc':>12}{'reference':>12}{'ratio':>8}{'target':>8}")
    print(f"{'MCP tool call (echo, stdio)':<34}{ours * 1e3:>10.3f}ms{raw * 1e3:>10.3f}ms"
          f"{ours / raw:>8.2f}{'<=1.2':>8}")
    for label, (together, alone) in starts_measured.items():
        slowest = max(alone.values())
        print(f"{label:<34}{together * 1e3:>10.1f}ms{slowest * 1e3:>10.1f}ms"
              f"{together / slowest:>8.2f}{'<=1.3':>8}")
    print("  reference for the call: mcp.Client.call_tool on another process of the same server program")
    together, alone = starts_measured["start with 3 stdio servers"]
    print("  reference for a start: the slowest server alone; each alone: "
          + ", ".join(f"{name} {t * 1e3:.0f}ms" for name, t in alone.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300, help="calls per batch")
    parser.add_argument("--batches", type=int, default=7)
    parser.add_argument("--starts", type=int, default=5, help="rounds of the start comparison")
    options = parser.parse_args()
    anyio.run(main, options.calls, options.batches, options.starts)
