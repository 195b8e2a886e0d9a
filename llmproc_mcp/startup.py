"""The server's start: answer the host's handshake first, then build the process table.

Hosts give a server little time to list its tools (Codex waits 1 s for an optional server before
its first model request), and importing the engine, opening the store and importing provider
SDKs takes seconds of CPU on a small machine. So `initialize` and `tools/list` need only the MCP
SDK and the tool signatures; the engine is imported, the store read and every registered
program's SDK imported in a worker thread that starts once the tools are listed (or
`WARM_AFTER_S` after start, for a host that never lists). A tool call that comes first waits for
the table; nothing of it runs on the event loop, so other calls are never held up by it.

A damaged store file (llmproc.store.damage), found when it is opened or first read, ends the
server with one `error:` line and exit code 2, unless `--new-store-if-damaged`: then the file is
moved aside (a warning says where) and the table starts in a new one.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup
from mcp.server.mcpserver.exceptions import ToolError

from llmproc_mcp.programs import ProgramRegistry
from llmproc_mcp.settings import ServerSettings

if TYPE_CHECKING:
    from llmproc_mcp.persist import Persistence
    from llmproc_mcp.table import ProcessTable

log = logging.getLogger("llmproc_mcp.startup")
WARM_AFTER_S = 2.0
EXIT_DAMAGED = 2  # a configuration error, as the CLIs say it (docs/cli.md)
# Imported in the worker thread: the table and what tool calls render with.
ENGINE_MODULES = ("llmproc_mcp.table", "llmproc_mcp.render", "llmproc_mcp.persist")


class Startup:
    """Owns the process table's life: built in the background, closed when the server stops."""

    def __init__(self, settings: ServerSettings, registry: ProgramRegistry, group: TaskGroup):
        self.settings = settings
        self.registry = registry
        self._group = group
        self._begun = False
        self._ready = anyio.Event()
        self._closing = anyio.Event()
        self._closed = anyio.Event()
        self._table: ProcessTable | None = None
        self._error: BaseException | None = None

    def begin(self) -> None:
        """Start building the table (once)."""
        if not self._begun:
            self._begun = True
            self._group.start_soon(self._run)

    async def begin_after(self, delay_s: float) -> None:
        await anyio.sleep(delay_s)
        self.begin()

    async def table(self) -> ProcessTable:
        self.begin()
        await self._ready.wait()
        if self._table is None:
            raise ToolError(f"llmproc-mcp could not start its process table: {self._error}")
        return self._table

    async def _run(self) -> None:
        try:
            persistence = await anyio.to_thread.run_sync(self._open)
            from llmproc.errors import DamagedStoreError

            from llmproc_mcp.table import ProcessTable

            try:
                table = await ProcessTable(self.settings, self.registry, persistence).__aenter__()
            except DamagedStoreError as exc:  # found at the first read: a bad page, not the header
                persistence.close()
                persistence = await anyio.to_thread.run_sync(self._replace, exc)
                table = await ProcessTable(self.settings, self.registry, persistence).__aenter__()
            try:
                self._table = table
                self._ready.set()
                self._group.start_soon(self._warm)
                await self._closing.wait()
            finally:
                await table.__aexit__(None, None, None)
        except Exception as exc:  # reported to every tool call; the server keeps answering
            from llmproc.errors import DamagedStoreError

            if isinstance(exc, DamagedStoreError):  # in a library's process (the command exited): one line
                log.error("the process table did not start: %s", exc)
            else:
                log.exception("the process table did not start")
            self._error = exc
        finally:
            self._ready.set()
            self._closed.set()

    async def _warm(self) -> None:
        # Abandoned at shutdown: a thread cannot be cancelled, and an import may take seconds.
        await anyio.to_thread.run_sync(self.registry.warm, abandon_on_cancel=True)

    def _open(self) -> Persistence:
        """In a worker thread: the engine's modules, and the store opened."""
        for name in ENGINE_MODULES:
            importlib.import_module(name)
        from llmproc.errors import DamagedStoreError

        from llmproc_mcp.persist import open_persistence

        try:
            return open_persistence(self.settings.store or self.settings.state_dir)
        except DamagedStoreError as exc:
            return self._replace(exc)

    def _replace(self, exc: Exception) -> Persistence:
        """In a worker thread: a damaged store file is one line and exit 2, or, when the user asked
        (--new-store-if-damaged), moved aside for a new store. Never a traceback."""
        from llmproc.errors import DamagedStoreError
        from llmproc.store.damage import move_aside, moved_line

        from llmproc_mcp.lifecycle import exit_now
        from llmproc_mcp.persist import open_persistence

        assert isinstance(exc, DamagedStoreError)
        if not self.settings.new_store_if_damaged:
            if not self.settings.is_command:
                raise exc  # a library's process is not ours to end: tool calls report it
            sys.stderr.write(f"error: {exc}\n")
            exit_now(EXIT_DAMAGED)
        log.warning("%s", moved_line(exc, move_aside(exc.path), started=True))
        return open_persistence(self.settings.store or self.settings.state_dir)

    async def close(self) -> None:
        """Stop the table (runs still going are marked interrupted, the store is flushed)."""
        self._closing.set()
        if self._begun:
            with anyio.CancelScope(shield=True):
                await self._closed.wait()


__all__ = ["Startup", "WARM_AFTER_S"]
