"""An offline provider whose replies are scripted: for engine tests and for testing programs.

    provider = ScriptedProvider([Reply(tool_calls=[ToolUse("calculator", {"expression": "2+2"})]),
                                 Reply(text="4")])

It uses the same script items (`Reply`, `ToolUse`, `HTTPError`, defined here) as the fake HTTP
server of `llmproc.testing`, which re-exports them: the engine never imports the test kit. With
no script it echoes the last user message, so `provider = "scripted"` programs run with no key.
Every request is recorded in `requests`; a script that runs out raises a ProviderError, and
`assert_consumed()` fails when replies were left unused.

Script items: the same `Reply` renders in the wire format of whichever endpoint of the fake
server is hit (Anthropic, Vertex, OpenAI Chat Completions / Responses, Gemini), as JSON or SSE;
`HTTPError` renders as that provider's error body. Usage follows `llmproc.messages.Usage`'s
convention: `input_tokens` is the non-cached input, cache writes/reads are separate, reasoning
is a share of output. The stream-fault fields of `Reply` only mean something to the server.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio

from llmproc.errors import ProviderError
from llmproc.messages import Message, TextPart, ThinkingPart, ToolCall, Usage
from llmproc.providers.base import (
    ModelRequest, ModelResponse, OnEvent, ProviderSettings, TextDelta, ThinkingDelta, ToolCallDelta,
)

_ids = itertools.count(1)


# -- the script items -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ToolUse:
    """A tool call the fake model makes. `id` is generated (toolu_/call_...) when None.

    `namespace` is the OpenAI Responses `namespace` of the function called (a host that offers
    tools grouped in `{"type": "namespace", ...}` tools, as Codex does its MCP servers', accepts
    a call only with it); it renders on the Responses `function_call` item and is ignored by the
    other wires. None renders no `namespace` field.
    """

    name: str
    arguments: dict[str, Any] = field(default_factory=dict[str, Any])
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
    """A scripted HTTP error response; `error_type` is derived from `status` when None.
    `retry_after_s` is the wait the server asks for, sent the provider's way: a `retry-after`
    header, or for Gemini a RetryInfo detail in the body."""

    status: int
    message: str = "scripted error"
    error_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    delay: float = 0.0
    retry_after_s: float | None = None

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ValueError(f"HTTPError status must be 4xx or 5xx, not {self.status}")


ScriptItem = Reply | HTTPError


# -- the provider ---------------------------------------------------------------------------------


def _reply_from_config(item: Any) -> Reply:
    """A reply as written in a program's `[model] replies` (a string or a table)."""
    if isinstance(item, str):
        return Reply(text=item)
    calls = [ToolUse(c.name, dict(c.arguments)) for c in item.tool_calls]
    return Reply(text=item.text, tool_calls=calls, thinking=item.thinking, delay=item.delay)


class ScriptedProvider:
    name = "scripted"

    def __init__(self, replies: Iterable[Reply | HTTPError] | None = None, *, echo: bool | None = None):
        self._script = list(replies or [])
        self.echo = (not self._script) if echo is None else echo
        self.requests: list[ModelRequest] = []

    def add(self, *items: Reply | HTTPError) -> None:
        self._script.extend(items)
        self.echo = False

    def assert_consumed(self) -> None:
        if self._script:
            raise AssertionError(f"{len(self._script)} scripted replies were not used: {self._script!r}")

    async def complete(self, request: ModelRequest, on_event: OnEvent | None = None) -> ModelResponse:
        self.requests.append(request)
        item = self._next(request)
        if item.delay:
            await anyio.sleep(item.delay)
        if isinstance(item, HTTPError):
            retryable = item.status in (408, 409, 429) or item.status >= 500
            raise ProviderError(item.message, provider=self.name, status=item.status, retryable=retryable,
                                retry_after_s=item.retry_after_s)
        parts: list[Any] = []
        if item.thinking:
            parts.append(ThinkingPart(item.thinking, item.signature or "scripted-signature", provider=self.name))
            if request.stream and on_event:
                on_event(ThinkingDelta(item.thinking))
        if item.text:
            parts.append(TextPart(item.text))
            if request.stream and on_event:
                for i, word in enumerate(item.text.split(" ")):  # several deltas, as a real stream has
                    on_event(TextDelta(word if i == 0 else " " + word))
        for call in item.tool_calls:
            parts.append(ToolCall(call.id or f"call_{next(_ids)}", call.name, dict(call.arguments)))
            if request.stream and on_event:
                on_event(ToolCallDelta(call.name))
        stop = "max_tokens" if item.stop_reason == "max_tokens" else ("tool_calls" if item.tool_calls else "end")
        usage = item.usage or Usage(input_tokens=_count_tokens(request), output_tokens=len((item.text or "").split()) + 1)
        return ModelResponse(Message("assistant", tuple(parts)), usage, stop, item.stop_reason or stop,
                             model=request.model)

    def _next(self, request: ModelRequest) -> Reply | HTTPError:
        if self._script:
            return self._script.pop(0)
        if self.echo:
            last = next((m for m in reversed(request.messages) if m.role == "user" and m.text), None)
            return Reply(text=last.text if last else "")
        raise ProviderError("the scripted provider has no replies left; add more with add()", provider=self.name)

    async def aclose(self) -> None:
        return None


def _count_tokens(request: ModelRequest) -> int:
    """A rough, deterministic token count (words) so usage and cost paths get exercised."""
    words = len(request.system.split())
    return words + sum(len(m.text.split()) for m in request.messages)


def create(settings: ProviderSettings) -> ScriptedProvider:
    options: Mapping[str, Any] = settings.options
    replies = [_reply_from_config(r) for r in options.get("replies", ())]
    return ScriptedProvider(replies)


__all__ = ["HTTPError", "Reply", "ScriptItem", "ScriptedProvider", "ToolUse", "create"]
