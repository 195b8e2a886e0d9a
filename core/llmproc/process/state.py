"""A process as data: `snapshot(process) -> dict` and `await restore(state) -> LLMProcess`.

    state = process.snapshot()                        # plain JSON types; json.dumps(state) works
    process = await LLMProcess.restore(state)         # or: await program.restore(state)

The state (schema version 1, see `migrations.py`):

    kind, version, llmproc_version, saved_at
    program          {path, hash, name, model, provider}; for a program built in code also
                     {config, base_dir}: the validated config, so it can be rebuilt without a file
    system_prompt    the enriched prompt exactly as sent (env date, preloaded files included)
    tools            the tool names the model saw
    history          Message.to_dict() each: thinking signatures, reasoning items, images kept
    next_message_id  message ids continue where they stopped (goto targets them)
    fd_table         FDTable.to_dict(), or None
    usage, cost_usd  totals (cost None when a price was unknown)
    limits           what counts against [limits] across runs: depth, children started
    pid, parent_pid, children   the process tree at save time (for the record)
    status, cwd
    pending_results  only in a state saved while a turn's tools ran: the results (ToolResult parts)
                     of the calls that had finished, so a restore need not run them again

Why the system prompt is kept rather than rebuilt: it holds the date and the preloaded files,
and the restored process must send byte for byte the request the original would have sent
(prompt caches key on it too). A program that changed since the save is refused (sha256 of the
file) unless `allow_changed_program=True`; then the new program's own prompt is used.

Children are not restored: they finished inside the tool call that started them, and their
answers are in the history. The restored process keeps closed stand-ins
(`LLMProcess.add_stand_in`, `saved_pid` set) so that `max_children` still counts them. A state
saved while running gets its unanswered tool calls answered: with the saved result of a call
that finished, else with an error result (INTERRUPTED_RESULT), or, with `rerun_read_only=True`,
by running a read-only tool again.

It lives next to the process because the state is the process's own format; it reads and sets
the process only through its public attributes, and imports `process.py` for types only
(`LLMProcess.snapshot()` and `LLMProcess.restore()` call in here). `llmproc.store.state`
re-exports it for the stores and for older imports.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from llmproc.errors import LLMProcError, ProgramChangedError, StateError
from llmproc.fd import FDTable
from llmproc.messages import (Message, ToolCall, ToolResult, Usage, messages_from_json, messages_to_json,
                              part_from_dict, part_to_dict)
from llmproc.process import migrations
from llmproc.process.history import History

if TYPE_CHECKING:
    from collections.abc import Sequence

    from llmproc.process.process import LLMProcess
    from llmproc.program import LLMProgram
    from llmproc.providers.base import Provider
    from llmproc.tools.base import Tool, ToolOutput

P = TypeVar("P", bound="LLMProcess")

log = logging.getLogger("llmproc.store")  # the logger saving and restoring always had

INTERRUPTED_RESULT = ("interrupted: this tool call was cut off (the process was saved, or its server stopped, "
                      "while it ran) and was not run again; it may or may not have taken effect")
_REQUIRED = ("program", "system_prompt", "history", "next_message_id", "usage")


def snapshot(process: LLMProcess) -> dict[str, Any]:
    """The state of `process` as a dict of JSON types (see the module docstring)."""
    from llmproc import __version__

    program = process.program
    fd_table = process.fd_table
    state: dict[str, Any] = {
        "kind": migrations.KIND,
        "version": migrations.SCHEMA_VERSION,
        "llmproc_version": __version__,
        "saved_at": time.time(),
        "program": program_ref(program),
        "system_prompt": process.system_prompt,
        "tools": [spec.name for spec in process.tool_specs],
        "history": messages_to_json(list(process.history)),
        "next_message_id": process.next_message_id,
        "fd_table": fd_table.to_dict() if fd_table is not None else None,
        "usage": process.usage.to_dict(),
        "cost_usd": process.cost_usd,
        "limits": {"depth": process.depth, "children_started": len(process.children)},
        "pid": process.pid,
        "parent_pid": process.parent.pid if process.parent is not None else None,
        "children": [c.saved_pid or c.pid for c in process.children],
        "status": process.state.value,
        "cwd": str(process.cwd),
    }
    pending = _finished_results(process)
    if pending:
        state["pending_results"] = pending
    return state


def _finished_results(process: LLMProcess) -> list[dict[str, Any]]:
    """The finished results of the trailing assistant message's calls (a save mid-turn)."""
    last = process.history[-1] if len(process.history) else None
    if last is None or last.role != "assistant" or not last.tool_calls:
        return []
    ids = {call.id for call in last.tool_calls}
    return [part_to_dict(r) for r in process.finished_results if r.call_id in ids]


def program_ref(program: LLMProgram) -> dict[str, Any]:
    ref: dict[str, Any] = {
        "path": str(program.path) if program.path else None,
        "hash": program.source_hash,
        "name": program.name,
        "model": program.model_name,
        "provider": program.provider,
    }
    if program.path is None:  # built in code: keep what it takes to build it again
        ref["config"] = program.config.model_dump(mode="json", exclude_unset=True)
        ref["base_dir"] = str(program.base_dir)
        ref["linked_objects"] = sorted(set(program.linked_programs) - set(program.config.linked_programs))
    return ref


async def restore(process_class: type[P], state: dict[str, Any], *, program: LLMProgram | None = None,
                  allow_changed_program: bool = False, provider: Provider | None = None,
                  tools: Sequence[Tool] = (), cwd: str | Path | None = None,
                  rerun_read_only: bool = False) -> P:
    """A new idle process (of `process_class`, which `LLMProcess.restore` passes as itself)
    that continues `state`.

    `program`: run this program instead of the saved reference (it must hash the same unless
    `allow_changed_program`); `provider`: a client to use (e.g. a ScriptedProvider); `tools`:
    the Python tools the original was started with; `cwd`: default the saved one if it exists;
    `rerun_read_only`: a call cut off mid-run whose tool is `read_only` is run again (else it
    is answered with INTERRUPTED_RESULT).
    """
    state = migrations.migrate(state)
    missing = [key for key in _REQUIRED if key not in state]
    if missing:
        raise StateError(f"process state is incomplete: missing {', '.join(missing)}")
    program, changed = _program_for(state["program"], program, allow_changed_program)
    if cwd is None and state.get("cwd") and Path(state["cwd"]).is_dir():
        cwd = state["cwd"]
    process = await process_class.create(program, provider=provider, tools=tools, cwd=cwd)
    try:
        finished = _fill(process, state, keep_prompt=not changed)
        await _answer_unfinished_calls(process, finished, rerun_read_only)
    except BaseException:
        await process.aclose()
        raise
    return process


def _fill(process: LLMProcess, state: dict[str, Any], *, keep_prompt: bool) -> dict[str, ToolResult]:
    """Everything but the unanswered calls; returns the saved results of those that finished."""
    try:
        finished = [part_from_dict(p) for p in state.get("pending_results") or ()]
        history = messages_from_json(state["history"])
        usage = Usage.from_dict(state["usage"])
        fd_table = FDTable.from_dict(state["fd_table"]) if state.get("fd_table") else None
    except (LLMProcError, KeyError, TypeError, ValueError) as exc:
        raise StateError(f"process state is malformed: {exc}") from None
    if not all(isinstance(r, ToolResult) for r in finished):
        raise StateError("process state is malformed: pending_results holds parts that are not tool results")
    if keep_prompt:
        process.system_prompt = state["system_prompt"]
    saved_tools = set(state.get("tools", ()))
    lost = sorted(saved_tools - {spec.name for spec in process.tool_specs})
    if lost:  # e.g. Python tools not passed again, or an MCP server that no longer offers them
        log.warning("restored process %d lacks tools it had when saved: %s", process.pid, ", ".join(lost))
    process.history = History(history)
    process.next_message_id = int(state["next_message_id"])
    if fd_table is not None:  # else the program's own (empty, or None when fds are off)
        process.fd_table = fd_table
    process.usage = usage
    process.cost_usd = state.get("cost_usd", 0.0)
    limits: dict[str, Any] = state.get("limits") or {}
    process.depth = int(limits.get("depth", 0))
    _stand_ins(process, state.get("children") or [], int(limits.get("children_started", 0)))
    return {r.call_id: r for r in finished if isinstance(r, ToolResult)}


def _stand_ins(process: LLMProcess, pids: list[Any], count: int) -> None:
    """Closed children that only remember their pid, so max_children keeps counting them."""
    for i in range(max(count, len(pids))):
        process.add_stand_in(int(pids[i]) if i < len(pids) and pids[i] is not None else None)


async def _answer_unfinished_calls(process: LLMProcess, finished: dict[str, ToolResult],
                                   rerun_read_only: bool) -> None:
    """One user message answering the trailing assistant message's calls, if it has any."""
    last = process.history[-1] if len(process.history) else None
    if last is None or last.role != "assistant" or not last.tool_calls:
        return
    calls = last.tool_calls
    results: list[ToolResult | None] = [finished.get(c.id) for c in calls]
    rerun = [i for i, c in enumerate(calls) if results[i] is None and rerun_read_only and _read_only(process, c)]
    if rerun:
        outputs: dict[int, ToolOutput] = {}

        async def run(i: int) -> None:
            outputs[i] = await process.run_tool(calls[i])

        async with anyio.create_task_group() as group:
            for i in rerun:
                group.start_soon(run, i)
        for i in rerun:  # long outputs become fds in call order, as in the turn loop
            call, output = calls[i], process.store_long_output(calls[i], outputs[i])
            results[i] = ToolResult(call.id, output.content, output.is_error, call.name, images=output.images)
    process.append(Message("user", tuple(r or ToolResult(c.id, INTERRUPTED_RESULT, True, c.name)
                                         for r, c in zip(results, calls))))


def _read_only(process: LLMProcess, call: ToolCall) -> bool:
    tool = process.toolset.get(call.name)
    return tool is not None and tool.read_only


def _program_for(ref: dict[str, Any], program: LLMProgram | None,
                 allow_changed: bool) -> tuple[LLMProgram, bool]:
    """The program to run and whether it differs from the one saved."""
    from llmproc.program import LLMProgram

    saved_path = ref.get("path")
    if program is None:
        if ref.get("config") is not None:  # built in code: rebuilt from the saved config
            if ref.get("linked_objects"):
                raise StateError(
                    f"this process's program was built in code with linked program objects "
                    f"({', '.join(ref['linked_objects'])}); pass the program: restore(state, program=...)")
            return LLMProgram.from_dict(ref["config"], base_dir=ref.get("base_dir")), False
        if not saved_path or not Path(saved_path).is_file():
            raise StateError(f"the program file of this process state is gone: {saved_path}; pass the program "
                             "to run instead (program=LLMProgram.from_toml(...); CLI: give PROGRAM)")
        program = LLMProgram.from_toml(saved_path)
    if program.source_hash == ref.get("hash"):
        return program, False
    if allow_changed:
        log.warning("restoring with a program that changed since the save: %s", program.path or program.name)
        return program, True
    raise ProgramChangedError(_changed_message(ref, program), path=str(program.path) if program.path else None,
                              saved_hash=str(ref.get("hash")), current_hash=program.source_hash)


def _changed_message(ref: dict[str, Any], program: LLMProgram) -> str:
    saved_path, saved_hash = ref.get("path"), str(ref.get("hash"))[:12]
    hashes = f"sha256 {saved_hash}… then, {program.source_hash[:12]}… now"
    if program.path is not None and saved_path == str(program.path):
        what = f"program file {saved_path} changed since the process was saved ({hashes})"
    else:
        given = program.path or "<built in code>"
        what = (f"program {given} is not the one the process was saved with "
                f"({saved_path or 'a program built in code'}; {hashes})")
    return (f"{what}; restore anyway with allow_changed_program=True (CLI: --force), "
            "or put the program back as it was")


__all__ = ["INTERRUPTED_RESULT", "program_ref", "restore", "snapshot"]
