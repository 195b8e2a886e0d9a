"""One MCP server's connection: start, tool calls, restart after a crash, shutdown.

The SDK's `Client` must be entered and left by one task (its transports hold task groups), but a
process's servers live from `LLMProcess.create` to `aclose`, which callers may run in different
tasks. So every *incarnation* of a server (one per start or restart) has an owner task, a
background asyncio task that enters the `Client`, lists the tools, reports ready and waits until
it is told to stop or the transport ends. Calls come from any task through that client: the
session matches responses to requests by id.

- start: the owner is spawned and awaited for at most START_TIMEOUT_S; a failure raises
  `MCPServerError` naming the server, its command and the tail of its stderr.
- call: bounded by the call timeout; a timeout cancels the request (the SDK tells the server
  with notifications/cancelled) and returns an error result. A transport that ends during a call
  (the server died, the HTTP session is gone) gives an error result; the next call restarts the
  server first. A server found dead between calls is restarted before the call, silently.
- shutdown (`aclose`, also used to retire a dead incarnation): the owner is told to stop and
  leaves the `Client`: the session ends, then the transport shuts down (stdio: stdin closed, the
  process group terminated then killed, see `stdio_transport`; HTTP: the session deleted). An
  owner still starting is cancelled instead (it waits for a handshake, not for the stop). This is
  awaited for at most CLOSE_TIMEOUT_S (longer than the stdio escalation), then the owner task is
  cancelled and given CANCEL_GRACE_S, during which the transport's shielded cleanup still runs.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any, TypeVar

import anyio
import httpx2
import mcp_types as types
from mcp import Client, MCPError
from mcp.shared.dispatcher import ProgressFnT

from llmproc.errors import MCPServerError
from llmproc.tools.base import ProgressReporter, ToolOutput
from llmproc.tools.mcp.config import ServerSpec, StdioSpec
from llmproc.tools.mcp.end_watch import watch_end
from llmproc.tools.mcp.http_transport import HttpStatus, http_transport
from llmproc.tools.mcp.results import to_output
from llmproc.tools.mcp.stdio_transport import (
    EXIT_GRACE_S, REAP_TIMEOUT_S, TERM_GRACE_S, ServerProcess, stdio_transport,
)

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0  # spawn (or connect), handshake and tools/list
DEFAULT_CALL_TIMEOUT_S = 60.0  # `[mcp] call_timeout_s` overrides it
CLOSE_TIMEOUT_S = EXIT_GRACE_S + TERM_GRACE_S + REAP_TIMEOUT_S + 2.0
CANCEL_GRACE_S = REAP_TIMEOUT_S + 1.0
CRASH_SETTLE_S = 0.5  # after a crash, time to collect the exit code and the last stderr lines
MAX_TOOL_PAGES = 100  # tools/list pages: a server that paginates forever cannot hang a start
T = TypeVar("T")
LISTEN_RETRY_S, LISTEN_RETRY_MAX_S = 1.0, 30.0  # opening a lost subscriptions/listen stream again
LISTEN_ERA = "2026-07-28"  # from this protocol version on, change events come by subscriptions/listen
CLIENT_INFO = types.Implementation(name="llmproc", version="0.1.0")


class _Incarnation:
    """One run of a server: its owner task, client, tools, and how it ended."""

    def __init__(self, spec: ServerSpec):
        self.process = ServerProcess(spec.name) if isinstance(spec, StdioSpec) else None
        self.http_status = None if isinstance(spec, StdioSpec) else HttpStatus()
        self.client: Client | None = None
        self.tools: list[types.Tool] = []
        self.tools_stale = False  # the server said its tool list changed; re-list before the next turn
        self.error: BaseException | None = None
        self.ready = anyio.Event()  # tools listed, or failed
        self.stop = anyio.Event()  # the owner should leave the client
        self.ended = anyio.Event()  # the transport ended (or the incarnation is retired)
        self.done = anyio.Event()  # the owner task finished
        self.task: asyncio.Task[None] | None = None
        self.scope: anyio.CancelScope | None = None  # the owner's; cancelled to abort a start

    def mark_ended(self) -> None:
        self.ended.set()
        self.stop.set()


class McpConnection:
    def __init__(self, spec: ServerSpec, *, call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
                 start_timeout_s: float = START_TIMEOUT_S):
        self.spec = spec
        self.name = spec.name
        self.call_timeout_s = call_timeout_s
        self.start_timeout_s = start_timeout_s
        self.restarts = 0
        self.tools_version = 0  # bumped whenever the tool list was replaced by a different one
        self._tools: list[types.Tool] = []  # the last list the server gave, kept across restarts
        self._current: _Incarnation | None = None
        self._lock = anyio.Lock()  # one start at a time
        self._closed = False

    @property
    def tools(self) -> list[types.Tool]:
        """The server's tools as last listed (also while it is down or restarting)."""
        return self._tools

    @property
    def connected(self) -> bool:
        """Whether a started server is connected (False after it died, until a call restarts it)."""
        return self._current is not None and not self._current.ended.is_set()

    @property
    def pid(self) -> int | None:
        """The stdio server's process id (None for HTTP servers or when not running)."""
        inc = self._current
        return inc.process.pid if inc and inc.process and not inc.done.is_set() else None

    async def start(self) -> list[types.Tool]:
        async with self._lock:
            if self._current is None:
                self._current = await self._start_incarnation()
                self._tools = self._current.tools
            return self._tools

    async def call(self, tool: str, arguments: dict[str, Any],
                   progress: ProgressReporter | None = None) -> ToolOutput:
        callback = _progress_callback(progress) if progress else None
        result = await self.request(tool, lambda client: client.call_tool(tool, arguments,
                                                                          progress_callback=callback))
        return result if isinstance(result, ToolOutput) else to_output(result)

    async def request(self, what: str, send: Callable[[Client], Awaitable[T]]) -> T | ToolOutput:
        """`send(client)` to the running server (started again if it died), within the call
        timeout. Every failure comes back as an error ToolOutput naming `what` and the server."""
        try:
            inc = await self._running()
        except MCPServerError as exc:
            return ToolOutput(f"MCP server {self.name!r} is not available: {exc}", is_error=True)
        assert inc.client is not None
        client = inc.client
        with anyio.move_on_after(self.call_timeout_s):
            try:
                return await send(client)
            except MCPError as err:
                if _connection_lost(err):
                    return await self._lost(inc, what, err.message)
                return ToolOutput(f"MCP server {self.name!r} rejected the call to {what}: {err.message} "
                                  f"(JSON-RPC error {err.code})", is_error=True)
            except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, httpx2.HTTPError) as err:
                return await self._lost(inc, what, f"{type(err).__name__}: {err}")
        return ToolOutput(f"{what} (MCP server {self.name!r}) did not finish within "
                          f"{self.call_timeout_s:g} s and was cancelled; "
                          "[mcp] call_timeout_s sets the limit", is_error=True)

    @property
    def offers_resources(self) -> bool:
        inc = self._current
        capabilities = inc.client.server_capabilities if inc and inc.client else None
        return bool(capabilities and capabilities.resources)

    async def aclose(self) -> None:
        """Stop the server; bounded by CLOSE_TIMEOUT_S + CANCEL_GRACE_S. Calls after this fail."""
        self._closed = True
        inc, self._current = self._current, None
        if inc is not None:
            await _retire(inc)

    # -- internals ---------------------------------------------------------------------------
    async def _running(self) -> _Incarnation:
        inc = self._current
        if inc is not None and not inc.ended.is_set():
            return inc  # the common case takes no lock
        async with self._lock:
            if self._closed:
                raise MCPServerError("the connection is closed", server=self.name,
                                     command=self.spec.describe())
            inc = self._current
            if inc is None or inc.ended.is_set():
                if inc is not None:
                    await _retire(inc)
                    self.restarts += 1
                    log.info("restarting MCP server %r (restart %d)", self.name, self.restarts)
                self._current = None
                self._current = inc = await self._start_incarnation()
                self._replace_tools(inc.tools)  # it may have come back as another version
            return inc

    async def _start_incarnation(self) -> _Incarnation:
        inc = _Incarnation(self.spec)
        inc.task = asyncio.get_running_loop().create_task(self._own(inc), name=f"mcp-server:{self.name}")
        inc.task.add_done_callback(lambda _: inc.done.set())  # also when cancelled before it ran
        try:
            with anyio.move_on_after(self.start_timeout_s):
                await inc.ready.wait()
        except BaseException:  # the caller was cancelled: do not leave the server running
            await _retire(inc)
            raise
        if not inc.ready.is_set() or inc.error is not None:
            error = inc.error  # before retiring: the cancellation of a slow start is no cause
            await _retire(inc)
            reason = (_describe(error, self.spec) if error is not None
                      else f"it did not answer within {self.start_timeout_s:g} s")
            if inc.http_status is not None and inc.http_status.last_error is not None:
                reason = f"{inc.http_status.describe()}: {reason}"
            if inc.process is not None:
                await inc.process.settle(CRASH_SETTLE_S)
            raise self._start_error(inc, reason)
        return inc

    async def _own(self, inc: _Incarnation) -> None:
        try:
            with anyio.CancelScope() as inc.scope:
                client = Client(self._transport(inc), mode="auto", cache=None, client_info=CLIENT_INFO,
                                message_handler=partial(_on_message, inc))
                async with client:
                    inc.client = client
                    inc.tools = await _list_tools(client)
                    inc.ready.set()
                    async with anyio.create_task_group() as tg:
                        if _announces_tool_changes_by_listen(client):
                            tg.start_soon(self._listen_for_tool_changes, inc, client)
                        await inc.stop.wait()
                        tg.cancel_scope.cancel()
        except Exception as exc:  # reported by whoever awaits this incarnation
            inc.error = exc
            if inc.ready.is_set():
                log.debug("MCP server %r: connection ended with %r", self.name, exc)
        finally:
            inc.ready.set()
            inc.ended.set()

    async def refresh_tools(self) -> bool:
        """Re-list the tools if the server announced a change; True if the list is different now.
        A failed re-list keeps the old list (a call to a vanished tool then fails on its own)."""
        inc = self._current
        if inc is None or not inc.tools_stale or inc.client is None or inc.ended.is_set():
            return False
        inc.tools_stale = False
        listed = False
        try:
            with anyio.fail_after(self.start_timeout_s):
                inc.tools = await _list_tools(inc.client)
            listed = True
        except Exception as exc:
            log.warning("MCP server %r announced new tools but listing them failed: %r", self.name, exc)
            return False
        finally:
            if not listed:  # failed or cancelled: the change still waits to be picked up
                inc.tools_stale = True
        return self._replace_tools(inc.tools)

    def _replace_tools(self, tools: list[types.Tool]) -> bool:
        if tools == self._tools:
            return False
        if self._tools:
            log.info("MCP server %r changed its tools: %s", self.name, ", ".join(t.name for t in tools))
        self._tools = tools
        self.tools_version += 1
        return True

    async def _listen_for_tool_changes(self, inc: _Incarnation, client: Client) -> None:
        """Servers of the 2026-07-28 protocol announce changes on a `subscriptions/listen` stream
        (earlier ones send notifications, see `_on_message`). A dropped stream is opened again,
        with a re-list after it (changes are not replayed); this ends when the connection does."""
        delay = LISTEN_RETRY_S
        while not inc.stop.is_set():
            try:
                async with client.listen(tools_list_changed=True) as changes:
                    delay = LISTEN_RETRY_S
                    async for _ in changes:
                        inc.tools_stale = True
            except Exception as exc:
                log.debug("MCP server %r: tool-change stream lost (%r); listening again in %g s",
                          self.name, exc, delay)
            inc.tools_stale = True  # whatever changed while nobody listened
            with anyio.move_on_after(delay):
                await inc.stop.wait()
            delay = min(delay * 2, LISTEN_RETRY_MAX_S)

    def _transport(self, inc: _Incarnation) -> AbstractAsyncContextManager[Any]:
        spec = self.spec
        if isinstance(spec, StdioSpec):
            assert inc.process is not None
            return watch_end(stdio_transport(spec, inc.process), inc.mark_ended)
        return watch_end(http_transport(spec, inc.http_status), inc.mark_ended)

    async def _lost(self, inc: _Incarnation, tool: str, detail: str) -> ToolOutput:
        inc.mark_ended()  # the owner leaves the client; the next call restarts the server
        parts = [detail]
        if inc.process is not None:
            await inc.process.settle(CRASH_SETTLE_S)
            if inc.process.returncode is not None:
                parts.append(f"exit code {inc.process.returncode}")
            tail = inc.process.stderr_tail(600)
            if tail:
                parts.append(f"stderr: {tail}")
        return ToolOutput(f"MCP server {self.name!r} stopped during the call to {tool} ({'; '.join(parts)}); "
                          "it will be restarted on the next call", is_error=True)

    def _start_error(self, inc: _Incarnation, reason: str) -> MCPServerError:
        tail = inc.process.stderr_tail() if inc.process is not None else ""
        code = inc.process.returncode if inc.process is not None else None
        lines = [f"MCP server {self.name!r} did not start: {reason}"]
        if code is not None:
            lines[0] += f" (exit code {code})"
        lines.append(f"  {'command' if isinstance(self.spec, StdioSpec) else 'url'}: {self.spec.describe()}")
        if self.spec.source:
            lines.append(f"  declared in: {self.spec.source}")
        if tail:
            lines.append("  stderr (last lines):\n" + "\n".join(f"    {line}" for line in tail.splitlines()))
        elif inc.process is not None:
            lines.append("  stderr: (empty)")
        return MCPServerError("\n".join(lines), server=self.name, command=self.spec.describe(),
                              stderr_tail=tail)


async def _retire(inc: _Incarnation) -> None:
    """Stop an incarnation's owner and wait for it, bounded; safe under cancellation."""
    inc.mark_ended()
    if not inc.ready.is_set() and inc.scope is not None:
        inc.scope.cancel()  # still starting: it waits for a handshake, not for `stop`
    with anyio.CancelScope(shield=True):
        with anyio.move_on_after(CLOSE_TIMEOUT_S):
            await inc.done.wait()
        if not inc.done.is_set() and inc.task is not None:
            log.warning("MCP server %r did not shut down within %g s; cancelling its connection",
                        inc.process.name if inc.process else "?", CLOSE_TIMEOUT_S)
            inc.task.cancel()
            with anyio.move_on_after(CANCEL_GRACE_S):
                await inc.done.wait()


async def _on_message(inc: _Incarnation, message: Any) -> None:
    # Runs inline in the session's reader: only note the change, re-list later (refresh_tools).
    if getattr(message, "method", None) == "notifications/tools/list_changed":  # any era's model class
        inc.tools_stale = True


def _announces_tool_changes_by_listen(client: Client) -> bool:
    tools = client.server_capabilities.tools if client.server_capabilities else None
    return bool(tools and tools.list_changed) and (client.protocol_version or "") >= LISTEN_ERA


async def _list_tools(client: Client) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(MAX_TOOL_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _connection_lost(err: MCPError) -> bool:
    # CONNECTION_CLOSED: the transport ended. "Session terminated": an HTTP server that restarted
    # no longer knows our session; both mean a new connection is needed.
    return err.code == types.CONNECTION_CLOSED or (err.code == types.INVALID_REQUEST and
                                                   err.message == "Session terminated")


def _progress_callback(report: ProgressReporter) -> ProgressFnT:
    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        report(progress, total, message)

    return on_progress


def _describe(exc: BaseException, spec: ServerSpec) -> str:
    """The cause of a failed start in one line (exception groups unwrapped to their first leaf)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError) and isinstance(spec, StdioSpec):
        if spec.cwd is not None and not spec.cwd.is_dir():
            return f"its working directory does not exist: {spec.cwd}"
        return f"command not found: {spec.command!r} (is it installed and on PATH?)"
    if isinstance(exc, PermissionError) or (isinstance(exc, OSError) and exc.errno == errno.EACCES):
        return f"permission denied running {getattr(spec, 'command', '')!r}"
    if isinstance(exc, MCPError) and exc.code == types.CONNECTION_CLOSED:
        return "it closed the connection before the handshake finished"
    if isinstance(exc, httpx2.ConnectError):
        return f"cannot connect to {spec.describe()}: {exc}"
    if isinstance(exc, MCPError):
        return f"{exc.message} (JSON-RPC error {exc.code})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
