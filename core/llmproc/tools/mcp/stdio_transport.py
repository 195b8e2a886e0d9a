"""stdio transport: an MCP server as a child process speaking JSON-RPC lines on stdin/stdout.

Ours rather than `mcp.client.stdio` because the connection needs what the SDK keeps private:
the server's stderr (its tail goes into start and crash errors), its exit code, and its process
group, so that shutdown also ends whatever the server started (`npx` starts `node`, wrappers
start interpreters). The server gets the SDK's minimal environment (HOME, PATH, ...; our API
keys are not passed on) plus its configured `env`.

Shutdown, when the transport's context exits (also on cancellation: it runs shielded and
every wait is bounded, so the worst case is EXIT_GRACE_S + TERM_GRACE_S + REAP_TIMEOUT_S):
1. stop writing and close the server's stdin, which tells a well-behaved server to exit;
2. if it is still running after EXIT_GRACE_S, SIGTERM its process group; after TERM_GRACE_S,
   SIGKILL it;
3. SIGKILL the process group in every case: helpers the server left behind die with it (only a
   process that left the group with `setsid` escapes);
4. close the pipes; the pipe tasks end at EOF or are cancelled.
"""

from __future__ import annotations

import codecs
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import anyio
import mcp_types as types
from anyio.abc import ObjectReceiveStream, ObjectSendStream, Process
from mcp.client.stdio import get_default_environment
from mcp.shared.message import SessionMessage

from llmproc.tools.mcp.config import StdioSpec

log = logging.getLogger(__name__)

EXIT_GRACE_S = 2.0  # after stdin closes, time for the server to exit on its own
TERM_GRACE_S = 2.0  # after SIGTERM, time before SIGKILL
REAP_TIMEOUT_S = 1.0  # after SIGKILL, time for the event loop to see the exit
EXIT_POLL_S = 0.01
STDERR_TAIL_BYTES = 4000  # kept for error messages; the rest goes to the debug log only

Streams = tuple[ObjectReceiveStream[SessionMessage | Exception], ObjectSendStream[SessionMessage]]


class ServerProcess:
    """What a connection can know about its server's process: pid, exit code, stderr tail."""

    def __init__(self, name: str):
        self.name = name
        self.process: Process | None = None
        self.stderr_closed = anyio.Event()
        self._tail = bytearray()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process else None

    def add_stderr(self, data: bytes) -> None:
        self._tail += data
        del self._tail[:-STDERR_TAIL_BYTES]

    def stderr_tail(self, limit: int = 1500) -> str:
        text = self._tail.decode("utf-8", "replace").strip()
        if len(text) > limit:
            text = "..." + text[-limit:].split("\n", 1)[-1]
        return text

    async def settle(self, timeout: float) -> None:
        """Wait (bounded) until the process has exited and its stderr is read to the end, so that
        an error message can give the exit code and the last words."""
        if self.process is None:  # it never started
            return
        with anyio.move_on_after(timeout):
            await self.stderr_closed.wait()
            while self.returncode is None:
                await anyio.sleep(EXIT_POLL_S)


@asynccontextmanager
async def stdio_transport(spec: StdioSpec, server: ServerProcess) -> AsyncIterator[Streams]:
    """Start the server and yield the session's streams. Raises OSError when it cannot start."""
    process = await anyio.open_process(
        [spec.command, *spec.args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**get_default_environment(), **spec.env},
        cwd=spec.cwd,
        start_new_session=True,  # its own process group: shutdown reaches the server's children
    )
    server.process = process
    read_send, read_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_receive = anyio.create_memory_object_stream[SessionMessage](0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_read_stdout, process, read_send, spec.name)
        tg.start_soon(_write_stdin, process, write_receive, read_send)
        tg.start_soon(_read_stderr, process, server)
        try:
            yield read_receive, write_send
        finally:
            with anyio.CancelScope(shield=True):
                write_send.close()
                read_receive.close()
                await _stop(process)
            tg.cancel_scope.cancel()


async def _read_stdout(process: Process, send: ObjectSendStream[SessionMessage | Exception],
                       name: str) -> None:
    assert process.stdout is not None
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pending: list[str] = []  # the start of a line not ended yet; joined once, when it ends
    try:
        async with send:
            async for chunk in process.stdout:
                pieces = decoder.decode(chunk).split("\n")
                if len(pieces) == 1:
                    pending.append(pieces[0])
                    continue
                lines = ["".join(pending) + pieces[0], *pieces[1:-1]]
                pending = [pieces[-1]]
                for line in lines:
                    message = _parse(line, name)
                    if message is not None:
                        await send.send(message)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
        pass  # the session is gone, or shutdown closed the pipe under us


def _parse(line: str, name: str) -> SessionMessage | None:
    if not line.strip():
        return None
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError:
        # Some servers print banners or logs to stdout; one bad line must not end the session.
        log.warning("MCP server %r wrote a line that is not JSON-RPC to stdout: %.200s", name, line)
        return None


async def _write_stdin(process: Process, receive: ObjectReceiveStream[SessionMessage],
                       read_send: ObjectSendStream[SessionMessage | Exception]) -> None:
    assert process.stdin is not None
    try:
        async with receive:
            async for message in receive:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                await process.stdin.send(data.encode())
    except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
        # The server stopped reading: end the session's read side so no request waits forever.
        await read_send.aclose()


async def _read_stderr(process: Process, server: ServerProcess) -> None:
    assert process.stderr is not None
    try:
        async for chunk in process.stderr:
            server.add_stderr(chunk)
            if log.isEnabledFor(logging.DEBUG):
                for line in chunk.decode("utf-8", "replace").splitlines():
                    log.debug("[%s stderr] %s", server.name, line)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
        pass
    finally:
        server.stderr_closed.set()


async def _stop(process: Process) -> None:
    assert process.stdin is not None
    with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await process.stdin.aclose()
    if not await _exited(process, EXIT_GRACE_S):
        _signal_group(process, signal.SIGTERM)
        if not await _exited(process, TERM_GRACE_S):
            _signal_group(process, signal.SIGKILL)
            if not await _exited(process, REAP_TIMEOUT_S):
                log.warning("MCP server process %d survived SIGKILL; abandoning it", process.pid)
    _signal_group(process, signal.SIGKILL)  # whatever the server left running in its group
    await _group_gone(process, REAP_TIMEOUT_S)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                await stream.aclose()
    with anyio.move_on_after(REAP_TIMEOUT_S):
        await process.aclose()  # releases the subprocess transport


async def _exited(process: Process, timeout: float) -> bool:
    # Polling, not process.wait(): that also waits for the pipes, which a grandchild may hold.
    with anyio.move_on_after(timeout):
        while process.returncode is None:
            await anyio.sleep(EXIT_POLL_S)
    return process.returncode is not None


async def _group_gone(process: Process, timeout: float) -> None:
    # A signal is delivered asynchronously: wait until the group is empty (its last members are
    # reaped by init), so that "closed" means "no process left", not "about to die".
    if sys.platform == "win32":
        return
    with anyio.move_on_after(timeout):
        while True:
            try:
                os.killpg(process.pid, 0)
            except (ProcessLookupError, PermissionError):
                return
            if not _live_members(process.pid):  # only zombies left, waiting for init to reap them
                return
            await anyio.sleep(EXIT_POLL_S)


def _live_members(pgid: int) -> bool:
    """Whether the process group has a member that is not a zombie (Linux /proc; elsewhere
    assume so, and the caller's bounded wait decides)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def _signal_group(process: Process, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        if sys.platform == "win32":  # no process groups: the server alone
            process.kill() if sig != signal.SIGTERM else process.terminate()
        else:
            os.killpg(process.pid, sig)  # the group id is the server's pid (start_new_session)
