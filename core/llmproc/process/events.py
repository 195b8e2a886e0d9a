"""Typed events a caller can subscribe to while a process runs.

    unsubscribe = process.subscribe(lambda event: print(event))

Order within a turn: TurnStart, RateLimited for each wait for the account's rate limit and
ModelRetry for each retry of the model call, then stream deltas (TextDelta, ThinkingDelta, ToolCallDelta; only
when streaming), UsageUpdate, TurnEnd, then ToolStart/ToolEnd for each tool call the turn asked for,
with any ToolProgress of that call between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

from llmproc.messages import ToolCall, Usage
from llmproc.providers.base import TextDelta, ThinkingDelta, ToolCallDelta


@dataclass(frozen=True, slots=True)
class TurnStart:
    turn: int


@dataclass(frozen=True, slots=True)
class TurnEnd:
    turn: int
    stop_reason: str
    tool_calls: int


@dataclass(frozen=True, slots=True)
class UsageUpdate:
    usage: Usage  # this model call
    total: Usage  # the process so far
    cost_usd: float | None  # this model call; None when the model's price is unknown


@dataclass(frozen=True, slots=True)
class ModelRetry:
    """The model call of `turn` failed with a transient error and is retried after `delay_s`."""

    turn: int
    attempt: int  # 1 for the first retry
    max_retries: int
    delay_s: float
    status: int | None  # HTTP status; None for connection errors and dropped streams
    error: str


@dataclass(frozen=True, slots=True)
class RateLimited:
    """The model call of `turn` waits about `wait_s` for the account's shared rate limit
    (providers/ratelimit.py), because of `reason`; not a retry."""

    turn: int
    wait_s: float
    reason: str


@dataclass(frozen=True, slots=True)
class ToolStart:
    call: ToolCall


@dataclass(frozen=True, slots=True)
class ToolProgress:
    """A running tool reported progress (MCP progress notifications): `progress` of `total`
    (None when unknown), with an optional short message."""

    call: ToolCall
    progress: float
    total: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class ToolEnd:
    call: ToolCall
    content: str
    is_error: bool
    duration_s: float


Event = Union[TurnStart, TurnEnd, UsageUpdate, ModelRetry, RateLimited, ToolStart, ToolProgress, ToolEnd, TextDelta,
              ThinkingDelta, ToolCallDelta]
Subscriber = Callable[[Event], None]

__all__ = ["TurnStart", "TurnEnd", "UsageUpdate", "ModelRetry", "RateLimited", "ToolStart", "ToolProgress", "ToolEnd",
           "TextDelta", "ThinkingDelta", "ToolCallDelta", "Event", "Subscriber"]
