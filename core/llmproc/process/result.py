"""`RunResult`: what one `process.run()` produced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmproc.messages import Message, Usage


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    id: str
    name: str
    arguments: dict[str, Any]
    content: str
    is_error: bool
    duration_s: float


@dataclass(frozen=True, slots=True)
class RunResult:
    answer: str  # the text of the last assistant message
    turns: int  # model calls made by this run
    tool_calls: tuple[ToolCallRecord, ...]
    usage: Usage  # this run's tokens
    cost_usd: float | None  # this run's cost; None when a model's price is unknown
    stop_reason: str  # "end", "max_tokens", "refusal", "other" (limits raise BudgetExceeded)
    duration_s: float
    messages: tuple[Message, ...]  # the messages this run added to the history

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "turns": self.turns,
            "tool_calls": [
                {"id": c.id, "name": c.name, "arguments": c.arguments, "is_error": c.is_error,
                 "duration_s": round(c.duration_s, 4), "content": c.content}
                for c in self.tool_calls
            ],
            "usage": self.usage.to_dict(),
            "cost_usd": self.cost_usd,
            "stop_reason": self.stop_reason,
            "duration_s": round(self.duration_s, 4),
        }
