"""Running llmproc-mcp until a host stops it, and stopping fast.

Hosts stop a stdio server by closing its stdin, or with SIGINT, then SIGTERM (Claude Code: about
100 ms later), then SIGKILL. Each ends the server the same way: the lifespan closes the table
(runs still going become `interrupted`, the store is flushed, the processes' MCP servers close),
then `main` ends the process. A second signal during that ends the process at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, NoReturn, cast

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
from mcp.server.mcpserver import MCPServer

from llmproc_mcp.settings import ServerSettings

log = logging.getLogger("llmproc_mcp")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
HTTP_GRACE_S = 0.5  # on a stop, HTTP requests still open get this long to end, then are cancelled


async def until_signal(run: Callable[[], Awaitable[None]], stop: Callable[[int], None]) -> None:
    """`run()`, asking it to `stop(signum)` on SIGINT or SIGTERM; a second signal exits at once. After a
    SIGINT, KeyboardInterrupt is raised once `run()` has returned."""
    received: list[int] = []

    async def watch(*, task_status: anyio.abc.TaskStatus[None]) -> None:
        with anyio.open_signal_receiver(*SIGNALS) as signals:
            task_status.started()
            async for signum in signals:
                name = signal.Signals(signum).name
                if received:  # the shutdown is taking too long for the host: do as it says
                    log.warning("%s during shutdown: exiting at once", name)
                    exit_now(128 + signum)
                received.append(signum)
                log.info("%s: stopping", name)
                stop(signum)

    async with anyio.create_task_group() as group:
        await group.start(watch)
        await run()
        group.cancel_scope.cancel()
    if received and received[0] == signal.SIGINT:
        raise KeyboardInterrupt


async def serve_stdio(server: MCPServer) -> None:
    """`server.run_stdio_async()`, but stdin read by a daemon thread of ours (see _StdinLines)."""
    from mcp.server.stdio import stdio_server

    with _stdin_wire() as wire:
        # _StdinLines has what the SDK reads of its AsyncFile: async iteration over lines
        async with stdio_server(stdin=cast("anyio.AsyncFile[str]", _StdinLines(wire))) as (read, write):
            lowlevel = server._lowlevel_server  # what run_stdio_async runs, with our stdin
            await lowlevel.run(read, write, lowlevel.create_initialization_options())


class _StdinLines:
    """The host's messages, one line each, read by a daemon thread. The SDK reads stdin in a worker
    thread that a cancellation has to wait for (until the host writes again or closes stdin), and
    that keeps the interpreter from exiting; a stop does neither here."""

    def __init__(self, fd: int):
        self._send, self._receive = anyio.create_memory_object_stream[str](0)
        self._token = anyio.lowlevel.current_token()
        threading.Thread(target=self._read, args=(fd,), name="llmproc-mcp-stdin", daemon=True).start()

    def _read(self, fd: int) -> None:
        try:
            with os.fdopen(fd, "rb", closefd=False) as wire:
                for line in wire:
                    anyio.from_thread.run(self._send.send, line.decode("utf-8", "replace"), token=self._token)
        except Exception as exc:  # a read error, or the loop has ended or nobody reads any more
            log.debug("stdin reader ends: %r", exc)
        finally:  # end of input
            with suppress(RuntimeError):
                anyio.from_thread.run_sync(self._send.close, token=self._token)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._receive.__aiter__()


@contextmanager
def _stdin_wire() -> Iterator[int]:
    """The host's input on a private descriptor, fd 0 on the null device meanwhile (as the SDK does
    with the stdin it claims): a child or a tool that reads stdin gets EOF, not the protocol."""
    import fcntl

    wire = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        yield wire
    finally:
        os.dup2(wire, 0)  # `wire` stays open: the reading thread may still be blocked on it


def uvicorn_server(app: Any, settings: ServerSettings, *, stoppable: bool) -> Any:
    """uvicorn serving `app`. `stoppable`: its signals are left to `serve` (the same exit codes as
    stdio), which calls its `stop(signum)`, and it starts its shutdown at once rather than at its
    next 0.1 s tick."""
    import uvicorn

    # log_config=None: uvicorn logs through our stderr handler (its own config prints access lines to stdout)
    config = uvicorn.Config(app, host=settings.host, port=settings.port,
                            log_level=settings.log_level.lower(), lifespan="on", log_config=None,
                            timeout_graceful_shutdown=cast(int, HTTP_GRACE_S))  # typed int; seconds
    log.info("llmproc-mcp on http://%s:%s/mcp%s", settings.host, settings.port,
             " (bearer token required)" if settings.requires_token else "")
    if not stoppable:
        return uvicorn.Server(config)

    class Server(uvicorn.Server):
        def __init__(self, config: uvicorn.Config):
            super().__init__(config)
            self._stopping = anyio.Event()

        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        def stop(self, signum: int) -> None:
            self.handle_exit(signum, None)  # what its own handler does (sse-starlette ends its streams)
            self._stopping.set()

        async def main_loop(self) -> None:
            async with anyio.create_task_group() as group:
                async def ticks() -> None:  # the headers' date; returns on --limit-max-requests
                    await uvicorn.Server.main_loop(self)
                    self._stopping.set()

                group.start_soon(ticks)
                await self._stopping.wait()
                group.cancel_scope.cancel()

    return Server(config)


def exit_now(code: int) -> NoReturn:
    otel = sys.modules.get("llmproc.process.otel")
    if otel is not None:  # os._exit skips atexit, where the SDK would send the last spans
        otel.shutdown()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    os._exit(code)


__all__ = ["HTTP_GRACE_S", "SIGNALS", "exit_now", "serve_stdio", "until_signal", "uvicorn_server"]
