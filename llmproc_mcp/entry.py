"""One row of the process table: what a host sees about a process, and the live parts behind it.

The persisted part (`record()`) is plain JSON; the live part (the `LLMProcess`, its cancel scope,
the event that fires when a run ends) exists only while the server runs. Activity text comes
from the process's events, so progress messages say what the process is doing right now.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from llmproc.process.events import Event, ModelRetry, RateLimited, ToolProgress, ToolStart, TurnEnd, TurnStart, UsageUpdate
from llmproc.process.loop import keeps_partial_output

if TYPE_CHECKING:
    from llmproc.process import LLMProcess

ACTIVITY_CHARS = 160  # progress messages stay under 200 characters with the pid in front
_ARG_CHARS = 60


class Status(str, enum.Enum):
    QUEUED = "queued"  # waiting for a free slot (max_processes)
    RUNNING = "running"
    DONE = "done"  # the last run answered; `send` continues
    FAILED = "failed"  # the last run stopped on an error (a limit, the provider); `send` continues
    CANCELLED = "cancelled"  # the call that ran it was cancelled; partial output kept; `send` continues
    KILLED = "killed"  # stopped for good with `kill`
    INTERRUPTED = "interrupted"  # the server stopped during the run; `send` continues

    @property
    def active(self) -> bool:
        return self in (Status.QUEUED, Status.RUNNING)


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_call(name: str, arguments: dict[str, Any]) -> str:
    """'read_file core/x.py': the tool and its first short argument, the part a person scans for."""
    for value in arguments.values():
        if isinstance(value, str) and value.strip():
            return f"{name} {clip(value, _ARG_CHARS)}"
        if isinstance(value, list) and value and isinstance(value[0], str):
            return f"{name} {clip(', '.join(map(str, value)), _ARG_CHARS)}"
    return name


@dataclass
class Entry:
    pid: int
    program: str  # the registered name (or the file stem)
    path: str  # the program file
    parent: int | None = None  # the pid this process was forked from
    status: Status = Status.QUEUED
    prompt: str = ""  # the last prompt sent
    answer: str = ""  # the last run's answer, or its partial output
    error: str | None = None
    turns: int = 0  # model calls of the last run
    runs: int = 0
    usage: dict[str, int] = field(default_factory=dict)  # the whole process (its subtree included)
    cost_usd: float | None = 0.0
    answer_fd: str | None = None
    activity: str = "queued"
    owner: str = ""  # the server that runs it or holds it live (sharing.py); "": a row from before
    client: str = ""  # who started it, the only one who sees it (clients.py); "": the local user
    resumable: bool = False  # its run is journaled: another server continues it (durable.py)
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    # -- live only ------------------------------------------------------------------------------
    process: LLMProcess | None = field(default=None, repr=False)
    scope: anyio.CancelScope | None = field(default=None, repr=False)
    done: anyio.Event = field(default_factory=anyio.Event, repr=False)
    stop_status: Status | None = field(default=None, repr=False)  # why its scope was cancelled
    history_mark: int = field(default=0, repr=False)  # history length when the run began
    listener: Any = field(default=None, repr=False)  # called when activity changes
    last_used: float = field(default_factory=time.monotonic, repr=False)  # for closing idle processes
    pins: int = field(default=0, repr=False)  # > 0 while a call uses the live process (fork)
    from_history: bool = field(default=False, repr=False)  # a run taken over: continue, no new prompt
    handing_over: bool = field(default=False, repr=False)  # stopped so another server continues it

    _FIELDS = ("pid", "program", "path", "parent", "status", "prompt", "answer", "error", "turns", "runs",
               "usage", "cost_usd", "answer_fd", "activity", "owner", "client", "resumable", "created", "updated")

    def record(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self._FIELDS}
        data["status"] = self.status.value
        if self.answer_fd is not None:  # a long answer is stored once, as its fd
            data["answer"] = ""
        return data

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Entry:
        values = {name: data[name] for name in cls._FIELDS if name in data}
        values["status"] = Status(values.get("status", "interrupted"))
        entry = cls(**values)
        entry.done.set()  # nothing runs for a row read back from the store
        return entry

    @property
    def total_tokens(self) -> int:
        return sum(v for k, v in self.usage.items() if k != "reasoning_tokens")

    def set_activity(self, text: str) -> None:
        self.activity = clip(text, ACTIVITY_CHARS)
        self.updated = time.time()
        if self.listener is not None:
            self.listener(self)

    def on_event(self, event: Event) -> None:
        """Process events -> the one-line activity that progress notifications carry."""
        if isinstance(event, TurnStart):
            self.turns = event.turn
            self.set_activity(f"turn {event.turn}: waiting for the model")
        elif isinstance(event, ModelRetry):
            status = f" ({event.status})" if event.status else ""
            self.set_activity(f"turn {event.turn}: model call failed{status}, retry {event.attempt}/"
                              f"{event.max_retries} in {event.delay_s:.1f} s")
        elif isinstance(event, RateLimited):
            self.set_activity(f"turn {event.turn}: waiting for the rate limit: {event.wait_s:.0f} s")
        elif isinstance(event, ToolStart):
            self.set_activity(f"turn {self.turns}: {describe_call(event.call.name, event.call.arguments)}")
        elif isinstance(event, ToolProgress):
            total = f"/{event.total:g}" if event.total else ""
            note = f" {event.message}" if event.message else ""
            self.set_activity(f"turn {self.turns}: {event.call.name} {event.progress:g}{total}{note}")
        elif isinstance(event, TurnEnd) and not event.tool_calls:
            self.set_activity(f"turn {event.turn}: answered")
        elif isinstance(event, UsageUpdate):
            self.usage = event.total.to_dict()
            if self.process is not None:
                self.cost_usd = self.process.cost_usd


def partial_output(process: LLMProcess, mark: int) -> str:
    """What a stopped run produced: its assistant text and any partial output its unfinished
    tool calls kept (e.g. of children it had spawned)."""
    pieces: list[str] = []
    for message in list(process.history)[mark:]:
        if message.role == "assistant" and message.text.strip():
            pieces.append(message.text.strip())
        for result in message.tool_results:
            if keeps_partial_output(result):
                pieces.append(result.content.strip())
    return "\n\n".join(pieces)


__all__ = ["ACTIVITY_CHARS", "Entry", "Status", "clip", "describe_call", "partial_output"]
