"""`llmproc-mcp`: LLMProc processes as tools for MCP hosts (Claude Code, Claude Desktop, ...).

    llmproc-mcp --programs ./programs                       # stdio (what hosts start)
    llmproc-mcp --programs ./programs --http --port 8765    # streamable HTTP on 127.0.0.1

`build_server(settings)` makes the MCPServer; its lifespan owns the process table, so the table
lives as long as the connection (stdio) or the whole server (HTTP, one table for every session).
HTTP is guarded twice: a bearer token when one is set (required off loopback) and the SDK's
DNS-rebinding check (Host and Origin allow-lists), always on.

Nothing is printed to stdout: in stdio mode it is the protocol channel. Logs go to stderr.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import click
from llmproc.cli.session import loop_factory
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import Tool, ToolAnnotations

from llmproc_mcp import handlers
from llmproc_mcp.clients import BearerAuth
from llmproc_mcp.lifecycle import exit_now, serve_stdio, uvicorn_server, until_signal
from llmproc_mcp.programs import ProgramRegistry
from llmproc_mcp.settings import ServerSettings, SettingsError, check_program_dirs, is_loopback, parse_args
from llmproc_mcp.startup import WARM_AFTER_S, Startup
from llmproc_mcp.workers import inherited_socket, supervise

log = logging.getLogger("llmproc_mcp")

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130
MAX_LISTED_PROGRAMS = 30  # keeps run_program's description short whatever the folders hold

INSTRUCTIONS = ("Run LLMProc programs as sub-agent processes. run_program/send/fork wait a bounded time, "
                "then return the pid as running: collect with wait. Long answers come as a preview plus an "
                "fd for read_fd. ps lists processes; kill stops one.")

# Honest hints: hosts run calls in parallel only for read-only tools. The tools that run processes
# call a model API (open world) and may do whatever their program's tools do (fd_to_file writes
# files, MCP tools anything), so they are not claimed to be harmless.
_RUNS = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False,
                        open_world_hint=True)
_READS = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
ANNOTATIONS = {
    "run_program": _RUNS, "spawn": _RUNS, "fork": _RUNS, "send": _RUNS,
    "read_fd": _READS, "wait": _READS, "ps": _READS,
    "kill": ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True,
                            open_world_hint=False),
}


# What hosts show a person (without one they make "Read Fd" of the name).
TITLES = {
    "run_program": "Run an LLMProc program", "spawn": "Spawn processes", "fork": "Fork a process",
    "read_fd": "Read a long answer (fd)", "send": "Continue a process", "wait": "Wait for processes",
    "ps": "List processes", "kill": "Kill a process",
}


def _descriptions(settings: ServerSettings, registry: ProgramRegistry) -> dict[str, str]:
    names = sorted(registry.names())
    listed = ", ".join(names[:MAX_LISTED_PROGRAMS]) + (", ..." if len(names) > MAX_LISTED_PROGRAMS else "")
    wait = f"{settings.wait_s:g} s"
    collect = (f"Waits at most {wait}: a run still going then returns its pid with status `running` and "
               "goes on in the background; collect it with `wait`. Cancelling the call stops the process "
               "(its output so far is kept). Long answers come back as a preview plus an fd for `read_fd`.")
    return {
        "run_program": ("Start a process from a program, send it the prompt, and return its answer with "
                        f"pid, status, usage and cost. {collect} Programs: {listed or 'none registered'}."),
        "spawn": ("Start one or more processes in the background in one call (fan-out); returns their pids "
                  "at once. Collect the answers with `wait`."),
        "fork": ("Copy a process with its whole history once per prompt; the copies continue concurrently, "
                 f"each with its own prompt, and their answers come back together. {collect}"),
        "read_fd": ("Read a file descriptor (a long answer stored as fd:N) by page, by line range or by "
                    "character range; with no range, page 1. Results say which part was shown."),
        "send": ("Continue a process that is not running (done, failed, cancelled or interrupted) with a new "
                 f"prompt; it keeps its history. {collect}"),
        "wait": (f"Wait for processes and return their answers. Returns after at most timeout_s (default and "
                 f"maximum {wait}) with any still going marked `running`; call again to keep waiting. "
                 "Cancelling it does not stop the processes."),
        "ps": ("List the processes: pid, parent, program, status, turns, tokens, cost and what each is "
               "doing. Earlier processes are kept across server restarts."),
        "kill": ("Stop a process and the copies forked from it. Output so far is kept; a killed process "
                 "cannot be continued."),
    }


class LLMProcServer(MCPServer):
    """An MCPServer that starts building its process table once the host has listed the tools
    (see startup.py): the handshake does not compete with the engine's start for the CPU."""

    startup: Startup | None = None

    async def list_tools(self) -> list[Tool]:
        tools = await super().list_tools()
        if self.startup is not None:
            self.startup.begin()
        return tools


def build_server(settings: ServerSettings) -> MCPServer:
    registry = ProgramRegistry(settings.program_dirs, requests_per_minute=settings.requests_per_minute,
                               input_tokens_per_minute=settings.input_tokens_per_minute)

    @asynccontextmanager
    async def lifespan(app: MCPServer) -> AsyncIterator[Startup]:
        async with anyio.create_task_group() as group:
            startup = Startup(settings, registry, group)
            server.startup = startup
            group.start_soon(startup.begin_after, WARM_AFTER_S)
            try:
                yield startup
            finally:
                server.startup = None
                await startup.close()
                group.cancel_scope.cancel()

    server = LLMProcServer("llmproc", version=_version(), instructions=INSTRUCTIONS, lifespan=lifespan,
                           log_level=settings.log_level)  # type: ignore[arg-type]  # a click.Choice
    for name, description in _descriptions(settings, registry).items():
        server.add_tool(handlers.TOOLS[name], name=name, title=TITLES[name], description=description,
                        annotations=ANNOTATIONS[name])

    @server.custom_route("/health", methods=["GET"])
    async def health(_request: Any) -> Any:  # readiness probe; says nothing about processes
        from starlette.responses import JSONResponse

        return JSONResponse({"ok": True})

    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llmproc")
    except PackageNotFoundError:
        return "0"


# -- HTTP ------------------------------------------------------------------------------------------
def transport_security(settings: ServerSettings) -> TransportSecuritySettings:
    """DNS-rebinding protection, on whatever the bind address: Host and Origin must name this server."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    if not is_loopback(settings.host) and settings.host not in ("0.0.0.0", "::"):
        hosts.append(f"{settings.host}:*")
    hosts.extend(settings.allowed_hosts)
    origins = [f"http://{h}" for h in hosts] + [f"https://{h}" for h in settings.allowed_hosts]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                     allowed_origins=origins)


def http_app(server: MCPServer, settings: ServerSettings) -> Any:
    # A worker or an instance behind a load balancer may get any request of a host: no sessions.
    stateless = settings.stateless or settings.worker_fd is not None
    app = server.streamable_http_app(host=settings.host, transport_security=transport_security(settings),
                                     stateless_http=stateless)
    return BearerAuth(app, settings.credentials()) if settings.requires_token else app


# -- running ----------------------------------------------------------------------------------------
async def serve(settings: ServerSettings) -> None:
    """Serve until stdin ends (stdio) or SIGINT/SIGTERM arrives, then close everything; after a
    SIGINT, raises KeyboardInterrupt once closed."""
    server = build_server(settings)
    if sys.platform == "win32":  # no POSIX signals or descriptor juggling: the SDK's and uvicorn's own
        await (server.run_stdio_async() if settings.transport == "stdio"
               else uvicorn_server(http_app(server, settings), settings, stoppable=False).serve())
        return
    if settings.transport == "stdio":
        serving = anyio.CancelScope()

        async def run_stdio() -> None:
            with serving:
                await serve_stdio(server)

        await until_signal(run_stdio, lambda _signum: serving.cancel())
        return
    http = uvicorn_server(http_app(server, settings), settings, stoppable=True)
    if settings.worker_fd is None:
        await until_signal(http.serve, http.stop)
        return
    listener = inherited_socket(settings.worker_fd)  # the supervisor's port (workers.py)
    await until_signal(lambda: http.serve(sockets=[listener]), http.stop)


def main(argv: Sequence[str] | None = None) -> int:
    """The `llmproc-mcp` command. Returns the exit code of a usage error; once the server has run,
    it ends the process itself (0; 130 after SIGINT): everything is closed and flushed by then, and
    the interpreter's own teardown of the engine's modules takes longer than hosts wait (150-300 ms)."""
    try:
        settings = parse_args(argv)
        check_program_dirs(settings, argv)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_USAGE
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.workers > 1 and settings.worker_fd is None:
        return supervise(list(sys.argv[1:] if argv is None else argv), settings.host, settings.port,
                         settings.workers)
    from llmproc_mcp.tracing import start as start_tracing

    start_tracing()  # when OTEL_* asks for traces; flushed by exit_now
    try:
        # uvloop when installed, decided where the CLIs decide it (llmproc.cli.session)
        anyio.run(serve, settings, backend_options={"use_uvloop": loop_factory() is not None})
    except KeyboardInterrupt:
        exit_now(EXIT_INTERRUPTED)
    exit_now(EXIT_OK)


__all__ = ["build_server", "http_app", "main", "serve", "transport_security"]
