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
from typing import Annotated, Any

import anyio
from llmproc.errors import FDError
from llmproc.fd import render as fd_render
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from llmproc_mcp.entry import Entry, Status, clip
from llmproc_mcp.render import fd_text_result, processes_result, ps_result
from llmproc_mcp.schemas import ProcessesResult
from llmproc_mcp.table import ProcessTable

log = logging.getLogger("llmproc_mcp.handlers")

PROGRESS_CHARS = 199  # hosts show progress messages in one line
MIN_PROGRESS_GAP_S = 0.5  # rapid activity changes are coalesced
MAX_SPAWN_TASKS = 100
# Advertised as outputSchema; the SDK checks every structured result against it.
Processes = Annotated[CallToolResult, ProcessesResult]


class Task(BaseModel):
    program: Annotated[str, Field(description="A registered program name (or a .toml path inside the "
                                              "program folders).")]
    prompt: Annotated[str, Field(description="The first message to the process.")]


def _table(ctx: Context) -> ProcessTable:
    return ctx.request_context.lifespan_context  # type: ignore[no-any-return]


def progress_message(entries: Sequence[Entry]) -> str:
    if len(entries) == 1:
        e = entries[0]
        return clip(f"pid {e.pid} {e.activity}", PROGRESS_CHARS)
    active = [e for e in entries if e.status.active]
    head = f"{len(entries) - len(active)}/{len(entries)} done"
    parts = [f"pid {e.pid} {e.activity}" for e in active]
    return clip("; ".join([head, *parts]), PROGRESS_CHARS)


async def _heartbeat(table: ProcessTable, ctx: Context, entries: Sequence[Entry]) -> None:
    interval = table.settings.progress_interval_s
    count = 0
    while True:
        count += 1  # progress must increase with every notification
        try:
            await ctx.report_progress(count, None, progress_message(entries))
        except Exception:  # a client gone away must not end the run
            log.debug("progress notification failed", exc_info=True)
        sent = time.monotonic()
        changed = table.watch(entries)
        try:
            with anyio.move_on_after(interval):
                await changed.wait()
        finally:
            table.unwatch(entries, changed)
        await anyio.sleep(max(0.0, min(MIN_PROGRESS_GAP_S, interval) - (time.monotonic() - sent)))


async def _await(table: ProcessTable, ctx: Context, entries: Sequence[Entry], timeout_s: float, *,
                 owned: bool, intro: str = "") -> CallToolResult:
    """Wait for `entries` with progress; if the call is cancelled and `owned`, stop them."""
    started = time.monotonic()
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_heartbeat, table, ctx, entries)
            await table.wait(entries, timeout_s)
            group.cancel_scope.cancel()
    except anyio.get_cancelled_exc_class():
        if owned:
            log.info("call cancelled: stopping processes %s", [e.pid for e in entries])
            await table.stop(entries, Status.CANCELLED)  # shielded inside
        raise
    result = processes_result(table, entries, waited_s=time.monotonic() - started, intro=intro)
    await table.flush()  # what the host is told is in the store before it is told
    return result


# -- the tools ---------------------------------------------------------------------------------
async def run_program(
    program: Annotated[str, Field(description="A registered program name (see the list above), or a "
                                              ".toml path inside the program folders.")],
    prompt: Annotated[str, Field(description="The task for the process.")],
    ctx: Context,
) -> Processes:
    table = _table(ctx)
    entry = table.start(program, prompt)
    return await _await(table, ctx, [entry], table.settings.wait_s, owned=True)


async def spawn(
    tasks: Annotated[list[Task], Field(min_length=1, max_length=MAX_SPAWN_TASKS,
                                       description="The processes to start, each {program, prompt}.")],
    ctx: Context,
) -> Processes:
    table = _table(ctx)
    for task in tasks:  # every program is checked before any process starts
        table.registry.resolve(task.program)
    entries = [table.start(task.program, task.prompt) for task in tasks]
    pids = ", ".join(str(e.pid) for e in entries)
    await table.flush()
    return processes_result(table, entries, intro=f"Started {len(entries)} process(es): pids {pids}. "
                                                  f"Collect the answers with wait(pids=[{pids}]).")


async def fork(
    pid: Annotated[int, Field(description="The process to copy; it must not be running.")],
    prompts: Annotated[list[str], Field(min_length=1, description="One prompt per copy.")],
    ctx: Context,
) -> Processes:
    table = _table(ctx)
    copies = await table.fork(pid, prompts)
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
    table = _table(ctx).fds
    lines = start_line is not None or end_line is not None
    chars = start_char is not None or end_char is not None
    if (page is not None) + lines + chars > 1:
        raise ToolError("give one kind of range: page, or start_line/end_line, or start_char/end_char")
    try:
        if lines:
            sel = table.read_lines(fd, start_line or 1, end_line, limit=table.max_read_chars)
        elif chars:
            sel = table.read_chars(fd, start_char or 0, end_char, limit=table.max_read_chars)
        else:
            sel = table.read_page(fd, page or 1)
    except FDError as exc:
        raise ToolError(str(exc)) from None
    return fd_text_result(fd_render.selection(sel))


async def send(
    pid: Annotated[int, Field(description="The process to continue.")],
    prompt: Annotated[str, Field(description="The next message to it.")],
    ctx: Context,
) -> Processes:
    table = _table(ctx)
    entry = await table.send(pid, prompt)
    return await _await(table, ctx, [entry], table.settings.wait_s, owned=True)


async def wait(
    pids: Annotated[list[int], Field(min_length=1, description="The processes to collect.")],
    ctx: Context,
    timeout_s: Annotated[float | None, Field(gt=0, description="Wait at most this long (default and maximum: "
                                                               "the server's bounded wait).")] = None,
) -> Processes:
    table = _table(ctx)
    entries = [table.get(pid) for pid in dict.fromkeys(pids)]
    limit = table.settings.wait_s if timeout_s is None else min(timeout_s, table.settings.wait_s)
    return await _await(table, ctx, entries, limit, owned=False)


async def ps(ctx: Context) -> Processes:
    return ps_result(_table(ctx))


async def kill(
    pid: Annotated[int, Field(description="The process to stop (its fork copies stop with it).")],
    ctx: Context,
) -> Processes:
    table = _table(ctx)
    tree = await table.kill(pid)
    await table.flush()
    return processes_result(table, tree, intro=f"Killed {len(tree)} process(es).")


TOOLS: dict[str, Any] = {f.__name__: f for f in (run_program, spawn, fork, read_fd, send, wait, ps, kill)}

__all__ = ["TOOLS", "Task", "progress_message"]
