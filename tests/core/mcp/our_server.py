"""A small MCP server for the MCP client tests, over stdio (default), streamable HTTP or SSE.

    python our_server.py                        # stdio
    python our_server.py --http PORT [--token T] # streamable HTTP on 127.0.0.1:PORT/mcp (+ /health)
    python our_server.py --sse PORT             # the legacy HTTP+SSE transport on 127.0.0.1:PORT/sse
    python our_server.py --fail-start           # writes to stderr and exits 2 before serving
    python our_server.py --hang-start           # never answers
    python our_server.py --stubborn             # ignores SIGTERM and outlives its stdin

Its tools cover what a client meets: text, structured content, images, tool errors, slow calls,
progress notifications, a tool list that changes, resources, a crash, helper processes, and
names no provider accepts as they are.
Logs go to stderr; a stdio server must never print to stdout.
"""

from __future__ import annotations

import argparse
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib

import anyio
from pydantic import BaseModel

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image

LONG_NAME = "a_tool_with_a_name_much_longer_than_any_provider_accepts_" + "x" * 50


class Weather(BaseModel):
    city: str
    celsius: float


def tiny_png() -> bytes:
    """A 1x1 red PNG, built by hand (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
            + chunk(b"IEND", b""))


class StaticToken:
    def __init__(self, token: str):
        self.token = token

    async def verify_token(self, token: str) -> AccessToken | None:
        return AccessToken(token=token, client_id="tests", scopes=[]) if token == self.token else None


def build(token: str | None, port: int) -> MCPServer:
    auth = {}
    if token:
        auth = {"token_verifier": StaticToken(token),
                "auth": AuthSettings(issuer_url="http://127.0.0.1:9", resource_server_url=f"http://127.0.0.1:{port}/mcp",
                                     validate_token_resource=False)}
    server = MCPServer("our-server", version="1.0.0", **auth)

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def weather(city: str) -> Weather:
        """Structured weather for a city."""
        return Weather(city=city, celsius=21.5)

    @server.tool()
    def picture() -> Image:
        """A tiny PNG image."""
        return Image(data=tiny_png(), format="png")

    @server.tool()
    def fail(message: str) -> str:
        """Always fails with the given message."""
        raise ToolError(message)

    @server.tool()
    async def sleep(seconds: float) -> str:
        """Sleep, then answer."""
        await anyio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool()
    async def count(steps: int, ctx: Context) -> str:
        """Count to `steps`, reporting progress at each step."""
        for i in range(1, steps + 1):
            await ctx.report_progress(i, steps, message=f"step {i} of {steps}")
            await anyio.sleep(0.01)
        return f"counted to {steps}"

    @server.tool()
    async def learn(name: str, ctx: Context) -> str:
        """Add a tool `name` that says hello, and announce the change (both protocol eras)."""
        def hello() -> str:
            return f"hello from {name}"

        server.add_tool(hello, name=name, description=f"Say hello from {name}.")
        await ctx.session.send_tool_list_changed()  # 2025-era clients: a notification
        await ctx.notify_tools_changed()  # 2026-era clients: their subscriptions/listen stream
        return f"learned {name}"

    @server.tool()
    def crash() -> str:
        """Kill the server in the middle of the call."""
        print("our-server: crashing on purpose", file=sys.stderr, flush=True)
        os._exit(3)

    @server.tool()
    def spawn_helper() -> dict[str, int]:
        """Start a helper process that would outlive the server if nobody stopped it."""
        quiet = subprocess.DEVNULL
        helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                                  stdin=quiet, stdout=quiet, stderr=quiet)
        return {"server": os.getpid(), "helper": helper.pid}

    @server.tool(name="files.read.v2")
    def dotted(path: str) -> str:
        """A tool whose name has dots."""
        return f"read {path}"

    @server.tool(name=LONG_NAME)
    def long() -> str:
        """A tool whose name is too long for the providers."""
        return "long"

    @server.resource("our://notes", name="notes", description="The team's notes.", mime_type="text/plain")
    def notes() -> str:
        return "buy milk\ncall Bob\n"

    @server.resource("our://greeting/{who}", name="greeting", description="A greeting for someone.")
    def greeting(who: str) -> str:
        return f"Hello, {who}!"

    @server.resource("our://picture.png", name="picture", mime_type="image/png")
    def picture_resource() -> bytes:
        return tiny_png()

    @server.custom_route("/health", methods=["GET"])
    async def health(request):  # noqa: ANN001, ARG001
        from starlette.responses import JSONResponse

        return JSONResponse({"ok": True})

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, metavar="PORT")
    parser.add_argument("--sse", type=int, metavar="PORT")
    parser.add_argument("--token")
    parser.add_argument("--fail-start", action="store_true")
    parser.add_argument("--hang-start", action="store_true")
    parser.add_argument("--stubborn", action="store_true")
    args = parser.parse_args()
    if args.fail_start:
        print("our-server: cannot open the database /nonexistent/db.sqlite", file=sys.stderr, flush=True)
        sys.exit(2)
    if args.hang_start:
        time.sleep(3600)
    if args.stubborn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        threading.Thread(target=time.sleep, args=(3600,)).start()  # not a daemon: outlives stdin
    server = build(args.token, args.http or 0)
    if args.sse:
        server.run("sse", host="127.0.0.1", port=args.sse)
    elif args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http, streamable_http_path="/mcp")
    else:
        server.run()


if __name__ == "__main__":
    main()
