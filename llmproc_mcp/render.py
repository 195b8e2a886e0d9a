"""Results -> MCP content: the text a model reads, as the one text block and as the `text` of
`structured_content` (hosts forward one or the other, see schemas.py), with fields for programs.

Hosts cut long tool results, so the text of one call stays within `max_answer_chars`: answers
are shown whole while they fit and otherwise as a preview of an fd, with a note saying how much
was shown and how to read the rest (`read_fd`). Nothing is cut silently. A run still going is
shown with its pid, what it is doing, and how to collect it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmproc.cli import tree
from llmproc.fd import render as fd_render
from mcp.types import CallToolResult, TextContent

from llmproc_mcp.entry import Entry, Status, clip
from llmproc_mcp.table import ProcessTable

MIN_PREVIEW_CHARS = 500  # even a crowded result shows the start of each answer
PS_ROWS = 100


def money(cost: float | None) -> str:
    if cost is None:
        return "cost unknown"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def header(entry: Entry) -> str:
    forked = f", forked from {entry.parent}" if entry.parent is not None else ""
    turns = f"{entry.turns} turn{'s' if entry.turns != 1 else ''}"
    return (f"process {entry.pid} ({entry.program}{forked}): {entry.status.value}; {turns}, "
            f"{entry.total_tokens:,} tokens, {money(entry.cost_usd)}")


def _pending_note(entry: Entry, waited_s: float | None) -> str:
    after = f" after {waited_s:.1f} s" if waited_s is not None else ""
    doing = f" ({entry.activity})" if entry.activity != entry.status.value else ""
    return (f"Still {entry.status.value}{after}{doing}. It goes on in the background: collect "
            f"its answer with wait(pids=[{entry.pid}]) or stop it with kill(pid={entry.pid}).")


def _stopped_note(entry: Entry) -> str:
    if entry.status is Status.INTERRUPTED:
        return (f"The server stopped during its run of: {clip(entry.prompt, 200)!r}. Continue it with "
                f"send(pid={entry.pid}, prompt=...); it resumes from its last saved state.")
    if entry.status is Status.CANCELLED:
        return f"The call was cancelled; the output so far is kept. Continue with send(pid={entry.pid}, ...)."
    if entry.status is Status.KILLED:
        return "Killed; its output so far is kept."
    return f"Error: {entry.error}" if entry.error else ""


class Budget:
    """Characters of answer text one result may still show."""

    def __init__(self, limit: int):
        self.left = limit


def entry_block(table: ProcessTable, entry: Entry, budget: Budget,
                waited_s: float | None = None) -> tuple[str, dict[str, Any]]:
    lines = [header(entry)]
    shown, fd_id = 0, None
    if entry.status.active:
        lines.append(_pending_note(entry, waited_s))
    else:
        note = _stopped_note(entry)
        if note:
            lines.append(note)
        answer = entry.answer
        if answer and len(answer) <= budget.left and entry.answer_fd is None:
            lines.append(f'<answer pid="{entry.pid}">\n{answer}\n</answer>')
            shown = len(answer)
        elif answer:
            fd = table.answer_fd(entry)
            limit = max(MIN_PREVIEW_CHARS, min(table.settings.preview_chars, budget.left))
            text = fd_render.preview(fd, limit=limit, what="The answer")
            lines.append(text)
            shown, fd_id = fd_render.preview_end(fd, limit), fd.id  # what the preview showed
            lines.append(f"(shown: {shown:,} of {len(answer):,} characters of the answer)")
        budget.left -= shown
    return "\n".join(lines), _structured(entry, shown, fd_id)


def _structured(entry: Entry, shown: int, fd_id: str | None) -> dict[str, Any]:
    return {
        "pid": entry.pid, "program": entry.program, "parent": entry.parent, "status": entry.status.value,
        "turns": entry.turns, "runs": entry.runs, "usage": entry.usage, "cost_usd": entry.cost_usd,
        "activity": entry.activity, "error": entry.error,
        "answer_chars": len(entry.answer), "shown_chars": shown, "fd": fd_id,
    }


def processes_result(table: ProcessTable, entries: Sequence[Entry], *, waited_s: float | None = None,
                     intro: str = "") -> CallToolResult:
    budget = Budget(table.settings.max_answer_chars)
    blocks, items = [intro] if intro else [], []
    for entry in entries:
        text, data = entry_block(table, entry, budget, waited_s)
        blocks.append(text)
        items.append(data)
    return _result("\n\n".join(blocks), {"processes": items})


def _result(text: str, data: dict[str, Any]) -> CallToolResult:
    """Both parts carry the same text: whichever part a host forwards, its model reads all of it."""
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content={"text": text, **data})


def ps_result(table: ProcessTable) -> CallToolResult:
    """The table as a tree (llmproc.cli.tree, shared with `llmproc ps --tree` and `llmproc top`):
    fork copies under the process they were copied from, totals rolled up per subtree."""
    entries = table.visible()  # the caller's own, unless an admin calls
    shown = {e.pid: e for e in entries[-PS_ROWS:]}
    order = tree.build(_tree_row(e) for e in shown.values())
    more = f"; the {len(shown)} most recent are listed" if len(shown) < len(entries) else ""
    intro = f"{len(entries)} processes{more}" if entries else "no processes yet"
    text = intro + ("\n" + "\n".join(tree.line(node) for node in order) if entries else "")
    running = sum(1 for e in entries if e.status.active)
    items = [{**_structured(shown[n.row.pid], 0, shown[n.row.pid].answer_fd), **tree.subtree_dict(n)} for n in order]
    return _result(text + f"\n{running} running or queued.", {"processes": items, "total": len(entries)})


def _tree_row(entry: Entry) -> tree.Row:
    return tree.Row(pid=entry.pid, parent=entry.parent, program=entry.program, status=entry.status.value,
                    turns=entry.turns, tokens=entry.total_tokens, cost_usd=entry.cost_usd,
                    activity=entry.activity, created=entry.created, updated=entry.updated)


def fd_text_result(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)])


__all__ = ["entry_block", "fd_text_result", "header", "money", "processes_result", "ps_result"]
