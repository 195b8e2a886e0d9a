"""One function per tool. The host is the parent process; these are its system calls.

A call that runs a process (`run_program`, `send`, `fork`) waits at most `wait_s` and sends a
progress notification at least every `progress_interval_s` meanwhile, so hosts neither give up
nor push the call into the background where results get lost; a run still going at the deadline
is returned as `running` with its pid, and `wait` collects it. Cancelling such a call cancels
its processes (the output so far is kept). Cancelling `wait` only stops waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, cast

import anyio
from llmproc.errors import FDError
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from llmproc_mcp.schemas import ProcessesResult
from llmproc_mcp.tracing import call_span, pids

# The engine is imported by startup.py in a worker thread, not by the handshake: these modules are
# loaded by the time a call gets its table, so the imports in the functions below cost nothing.
if TYPE_CHECKING:
    from llmproc_mcp.entry import Entry
    from llmproc_mcp.startup import Startup
    from llmproc_mcp.table import ProcessTable

log = logging.getLogger("llmproc_mcp.handlers")

PROGRESS_CHARS = 199  # hosts show progress messages in one line
MIN_PROGRESS_GAP_S = 0.5  # rapid activity changes are coalesced
RESULT_GAP_S = 0.1  # a result never follows a progress notification closer than this
MAX_SPAWN_TASKS = 100
# Advertised as outputSchema; the SDK checks every structured result against it.
Processes = Annotated[CallToolResult, ProcessesResult]


class Task(BaseModel):
    program: Annotated[str, Field(description="A registered program name (or a .toml path inside the "
                                              "program folders).")]
    prompt: Annotated[str, Field(description="The first message to the process.")]


async def _table(ctx: Context) -> ProcessTable:
    """The process table, once the server has built it (startup.py). Also notes who is calling:
    the table shows each client only its own processes (clients.py)."""
    from llmproc_mcp.clients import caller, current

    current.set(caller(getattr(ctx.request_context, "request", None)))
    # The SDK types the lifespan context as a dict; ours is the server's Startup (server.py).
    return await cast("Startup", ctx.request_context.lifespan_context).table()


def check_room(table: ProcessTable, count: int) -> None:
    """Refuse `count` new runs when they would put more than `max_queued` runs of this server in
    the queue for a slot (`max_processes` run at once)."""
    settings = table.settings
    active = sum(1 for e in table.entries.values() if e.status.active and table.owns(e))
    if active + count - settings.max_processes > settings.max_queued:
        queued = max(0, active - settings.max_processes)
        raise ToolError(f"server busy: {queued} run(s) already queued and {count} more asked for, past "
                        f"--max-queued {settings.max_queued}; collect or kill some processes and try again")


def progress_message(entries: Sequence[Entry]) -> str:
    from llmproc_mcp.entry import clip

    if len(entries) == 1:
        e = entries[0]
        return clip(f"pid {e.pid} {e.activity}", PROGRESS_CHARS)
    active = [e for e in entries if e.status.active]
    head = f"{len(entries) - len(active)}/{len(entries)} done"
    parts = [f"pid {e.pid} {e.activity}" for e in active]
    return clip("; ".join([head, *parts]), PROGRESS_CHARS)


class Heartbeat:
    """The progress notifications of one call, sent only while the host can use them.

    None in the first interval: a call that ends by then needs none, and a notification written
    just before a result can reach the host after it, when its token is gone (Claude Code handles
    notifications after responses and drops the connection on an unknown token). Then one at
    least every interval and soon after any change of what the processes do. None once every
    process has finished (the result is on its way), and `settle()` holds a result back until
    the last notification is RESULT_GAP_S old. Without the caller's progress token the SDK sends
    nothing.
    """

    def __init__(self, table: ProcessTable, ctx: Context, entries: Sequence[Entry]):
        self.table, self.ctx, self.entries = table, ctx, entries
        self.last_sent = float("-inf")

    async def run(self) -> None:
        interval = self.table.settings.progress_interval_s
        await anyio.sleep(interval)
        count = 0
        while any(e.status.active for e in self.entries):
            count += 1  # progress must increase with every notification
            self.last_sent = time.monotonic()
            try:
                await self.ctx.report_progress(count, None, progress_message(self.entries))
            except Exception:  # a client gone away must not end the run
                log.debug("progress notification failed", exc_info=True)
            changed = self.table.watch(self.entries)
            try:
                with anyio.move_on_after(interval):
                    await changed.wait()
            finally:
                self.table.unwatch(self.entries, changed)
            await anyio.sleep(max(0.0, min(MIN_PROGRESS_GAP_S, interval) - (time.monotonic() - self.last_sent)))

    async def settle(self) -> None:
        await anyio.sleep(max(0.0, RESULT_GAP_S - (time.monotonic() - self.last_sent)))


async def _await(table: ProcessTable, ctx: Context, entries: Sequence[Entry], timeout_s: float, *,
                 owned: bool, intro: str = "") -> CallToolResult:
    """Wait for `entries` with progress; if the call is cancelled and `owned`, stop them."""
    from llmproc_mcp.entry import Status
    from llmproc_mcp.render import processes_result

    started = time.monotonic()
    heartbeat = Heartbeat(table, ctx, entries)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(heartbeat.run)
            await table.wait(entries, timeout_s)
            group.cancel_scope.cancel()
    except anyio.get_cancelled_exc_class():
        if owned:
            log.info("call cancelled: stopping processes %s", [e.pid for e in entries])
            await table.stop(entries, Status.CANCELLED)  # shielded inside
        raise
    result = processes_result(table, entries, waited_s=time.monotonic() - started, intro=intro)
    await table.flush()  # what the host is told is in the store before it is told
    await heartbeat.settle()
    return result


# -- the tools ---------------------------------------------------------------------------------
async def run_program(
    program: Annotated[str, Field(description="A registered program name (see the list above), or a "
                                              ".toml path inside the program folders.")],
    prompt: Annotated[str, Field(description="The task for the process.")],
    ctx: Context,
) -> Processes:
    with call_span(ctx, "run_program", **{"llmproc.program": program}) as note:
        table = await _table(ctx)
        check_room(table, 1)
        entry = await table.start(program, prompt)
        note(**{"llmproc.pids": [entry.pid]})
        return await _await(table, ctx, [entry], table.settings.wait_s, owned=True)


async def spawn(
    tasks: Annotated[list[Task], Field(min_length=1, max_length=MAX_SPAWN_TASKS,
                                       description="The processes to start, each {program, prompt}.")],
    ctx: Context,
) -> Processes:
    from llmproc_mcp.render import processes_result

    with call_span(ctx, "spawn", **{"llmproc.programs": [task.program for task in tasks]}) as note:
        table = await _table(ctx)
        for task in tasks:  # every program is checked before any process starts
            table.registry.resolve(task.program)
        check_room(table, len(tasks))
        entries = await table.start_many([(task.program, task.prompt) for task in tasks])
        note(**{"llmproc.pids": pids(entries)})
        listed = ", ".join(str(e.pid) for e in entries)
        await table.flush()
        return processes_result(table, entries, intro=f"Started {len(entries)} process(es): pids {listed}. "
                                                      f"Collect the answers with wait(pids=[{listed}]).")


async def fork(
    pid: Annotated[int, Field(description="The process to copy; it must not be running.")],
    prompts: Annotated[list[str], Field(min_length=1, description="One prompt per copy.")],
    ctx: Context,
) -> Processes:
    with call_span(ctx, "fork", **{"llmproc.pid": pid}) as note:
        table = await _table(ctx)
        check_room(table, len(prompts))
        copies = await table.fork(pid, prompts)
        note(**{"llmproc.pids": pids(copies)})
        return await _await(table, ctx, copies, table.settings.wait_s, owned=True,
                            intro=f"Forked process {pid} into {len(copies)} copies.")


async def read_fd(
    fd: Annotated[str, Field(description='The fd id from a result, e.g. "fd:3".')],
    ctx: Context,
    page: Annotated[int | None, Field(ge=1, description="Page to read, from 1.")] = None,
    start_line: Annotated[int | None, Field(ge=1, description="First line (from 1).")] = None,
    end_line: Annotated[int | None, Field(ge=1, description="Last line, inclusive.")] = None,
    start_char: Annotated[int | None, Field(ge=0, description="First character (from 0).")] = None,
    end_char: Annotated[int | None, Field(ge=1, description="Stop before this character.")] = None,
) -> CallToolResult:
    from llmproc.fd.read import read_text

    from llmproc_mcp.render import fd_text_result

    whole = await _table(ctx)
    found = await whole.fd(fd)  # another server's answer is read from the store
    if found is not None and not await whole.may_read(found):  # another client's: as if there were none
        raise ToolError(f"unknown file descriptor {fd!r}: fds hold the long answers of your processes "
                        "(their results and ps name them)")
    try:
        text = read_text(whole.fds, fd, page=page, start_line=start_line, end_line=end_line,
                         start_char=start_char, end_char=end_char)
    except FDError as exc:
        raise ToolError(str(exc)) from None
    return fd_text_result(text)


async def send(
    pid: Annotated[int, Field(description="The process to continue.")],
    prompt: Annotated[str, Field(description="The next message to it.")],
    ctx: Context,
) -> Processes:
    with call_span(ctx, "send", **{"llmproc.pid": pid}):
        table = await _table(ctx)
        check_room(table, 1)
        entry = await table.send(pid, prompt)
        return await _await(table, ctx, [entry], table.settings.wait_s, owned=True)


async def wait(
    pids: Annotated[list[int], Field(min_length=1, description="The processes to collect.")],
    ctx: Context,
    timeout_s: Annotated[float | None, Field(gt=0, description="Wait at most this long (default and maximum: "
                                                               "the server's bounded wait).")] = None,
) -> Processes:
    table = await _table(ctx)
    unique = list(dict.fromkeys(pids))
    await table.refresh(unique)  # as the store has them now (other servers' too), in one pass
    entries = [table.get(pid) for pid in unique]
    limit = table.settings.wait_s if timeout_s is None else min(timeout_s, table.settings.wait_s)
    return await _await(table, ctx, entries, limit, owned=False)


async def ps(ctx: Context) -> Processes:
    from llmproc_mcp.render import ps_result

    table = await _table(ctx)
    await table.refresh()  # every server's processes
    return ps_result(table)


async def kill(
    pid: Annotated[int, Field(description="The process to stop (its fork copies stop with it).")],
    ctx: Context,
) -> Processes:
    from llmproc_mcp.render import processes_result

    table = await _table(ctx)
    tree = await table.kill(pid)
    await table.flush()
    return processes_result(table, tree, intro=f"Killed {len(tree)} process(es).")


TOOLS: dict[str, Any] = {f.__name__: f for f in (run_program, spawn, fork, read_fd, send, wait, ps, kill)}

__all__ = ["TOOLS", "Heartbeat", "Task", "progress_message"]
