"""An MCP server (stdio, or streamable HTTP with `--http PORT`) whose tools write down every call they start, to a file named by
$JOURNAL_LOG, so a test can count the calls that ran twice across servers that died.

    record(note)  changes the world (not read-only): must never run twice for one call
    look(note)    read-only (annotated so): may be run again after a crash cut it off
Each sleeps $JOURNAL_SLEEP seconds (default 0.5) so that a crash can land while it runs.
"""

from __future__ import annotations

import os
import sys
import time

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("journal")
SLEEP_S = float(os.environ.get("JOURNAL_SLEEP", "0.5"))


def _write(line: str) -> None:
    with open(os.environ["JOURNAL_LOG"], "a") as log:  # one short write: lines never interleave
        log.write(f"{line} {time.time():.3f}\n")


@server.tool(annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=False))
async def record(note: str) -> str:
    """Write a note down (not safe to repeat)."""
    _write(f"start record {note}")
    await anyio.sleep(SLEEP_S)
    return f"recorded {note}"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
async def look(note: str) -> str:
    """Look a note up (read-only)."""
    _write(f"start look {note}")
    await anyio.sleep(SLEEP_S)
    return f"looked at {note}"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":  # one server for every process (as a team's would be)
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]), streamable_http_path="/mcp")
    else:
        server.run()
