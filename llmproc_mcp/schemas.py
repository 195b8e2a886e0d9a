"""The `outputSchema` of the tools that report processes, and why their results look as they do.

Hosts disagree on which part of a tool result their model sees: Claude Code and Codex CLI send
it only `structuredContent` when a result has one (the text blocks are dropped), Gemini CLI only
the text blocks. So the rendered text (answers, status lines, the next call to make, paging notes)
is the `text` field of the structured content *and* the one text block: the same string, so the
two cannot differ, and every host's model reads all of it. The other fields are for programs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

StatusName = Literal["queued", "running", "done", "failed", "cancelled", "killed", "interrupted"]


class ProcessInfo(BaseModel):
    pid: int
    program: str
    parent: int | None = Field(description="The pid this process was forked from.")
    status: StatusName
    turns: int = Field(description="Model calls of the last run.")
    runs: int
    usage: dict[str, int] = Field(description="Tokens of the process and everything it started.")
    cost_usd: float | None = Field(description="null when a model's price is unknown.")
    activity: str = Field(description="What the process does now, or how its last run ended.")
    error: str | None
    answer_chars: int = Field(description="Length of the last run's answer.")
    shown_chars: int = Field(description="How much of it `text` shows.")
    fd: str | None = Field(description="The fd holding the whole answer when it was too long to show.")
    # ps only: the process's place in the tree (fork copies under what they were copied from)
    depth: int | None = Field(default=None, description="ps: how many forks below a root process it is.")
    below: int | None = Field(default=None, description="ps: processes under it in the tree.")
    active_below: int | None = Field(default=None, description="ps: of those, how many run or wait.")
    subtree_turns: int | None = Field(default=None, description="ps: turns of it and everything below.")
    subtree_tokens: int | None = Field(default=None, description="ps: tokens of it and everything below.")
    subtree_cost_usd: float | None = Field(default=None, description="ps: cost of it and everything below; "
                                                                      "null when a price is unknown.")


class ProcessesResult(BaseModel):
    text: str = Field(description="The result as the model should read it: answers, status, the next calls "
                                  "to make. The same text as the content block.")
    processes: list[ProcessInfo]
    total: int | None = Field(default=None, description="ps: how many processes the table holds.")


__all__ = ["ProcessInfo", "ProcessesResult", "StatusName"]
