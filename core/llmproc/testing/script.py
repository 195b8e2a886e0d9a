"""What a scripted fake model answers: the items of a `FakeLLMServer` script.

The same `Reply` renders in the wire format of whichever endpoint is hit (Anthropic, Vertex,
OpenAI Chat Completions / Responses, Gemini), as JSON or SSE; `HTTPError` renders as that
provider's error body. Usage follows `llmproc.messages.Usage`'s convention: `input_tokens` is
the non-cached input, cache writes/reads are separate, reasoning is a share of output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from llmproc.messages import Usage

__all__ = ["HTTPError", "Reply", "ScriptItem", "ToolUse"]


@dataclass(frozen=True)
class ToolUse:
    """A tool call the fake model makes. `id` is generated (toolu_/call_...) when None.

    `namespace` is the OpenAI Responses `namespace` of the function called (a host that offers
    tools grouped in `{"type": "namespace", ...}` tools, as Codex does its MCP servers', accepts
    a call only with it); it renders on the Responses `function_call` item and is ignored by the
    other wires. None renders no `namespace` field.
    """

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    namespace: str | None = None


@dataclass(frozen=True)
class Reply:
    """One scripted model answer.

    `stop_reason` defaults to the provider's tool-use reason when there are tool calls and to
    end-of-turn otherwise; "max_tokens" maps to each provider's length reason.
    Stream faults: after `cut_after` stream events, `stream_error` sends that provider's in-stream
    error event (e.g. "overloaded_error"); `stream_cut="truncate"` ends the body cleanly without
    the final events, `"disconnect"` closes the socket mid-body. Faults apply to streaming
    requests; a JSON request with `stream_cut="disconnect"` gets its connection closed with no
    answer, and ignores the other fault fields.
    `thinking` renders as an Anthropic thinking block, a Responses reasoning item (summary, and
    `encrypted_content` = signature when the request includes it), a Gemini thought part, and
    `reasoning_content` in Chat Completions (as OpenAI-compatible reasoning servers send it).
    """

    text: str | None = None
    tool_calls: Sequence[ToolUse] = ()
    thinking: str | None = None
    signature: str | None = None
    usage: Usage | None = None
    stop_reason: str | None = None
    delay: float = 0.0
    stream_error: str | None = None
    stream_cut: Literal["truncate", "disconnect"] | None = None
    cut_after: int = 0

    def __post_init__(self) -> None:
        # Accept a list for convenience but keep the dataclass hashable/immutable.
        if not isinstance(self.tool_calls, tuple):
            object.__setattr__(self, "tool_calls", tuple(self.tool_calls))
        if self.stream_cut not in (None, "truncate", "disconnect"):
            raise ValueError(f"stream_cut must be 'truncate' or 'disconnect', not {self.stream_cut!r}")
        if self.cut_after < 0 or self.delay < 0:
            raise ValueError("cut_after and delay must be >= 0")


@dataclass(frozen=True)
class HTTPError:
    """A scripted HTTP error response; `error_type` is derived from `status` when None."""

    status: int
    message: str = "scripted error"
    error_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ValueError(f"HTTPError status must be 4xx or 5xx, not {self.status}")


ScriptItem = Reply | HTTPError
