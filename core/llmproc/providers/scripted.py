"""An offline provider whose replies are scripted: for engine tests and for testing programs.

    provider = ScriptedProvider([Reply(tool_calls=[ToolUse("calculator", {"expression": "2+2"})]),
                                 Reply(text="4")])

It uses the same `Reply` items as the fake HTTP server. With no script it echoes the last user
message, so `provider = "scripted"` programs run with no key. Every request is recorded in
`requests`; a script that runs out raises a ProviderError, and `assert_consumed()` fails when
replies were left unused.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import anyio

from llmproc.errors import ProviderError
from llmproc.messages import Message, TextPart, ThinkingPart, ToolCall, Usage
from llmproc.providers.base import (
    ModelRequest, ModelResponse, OnEvent, ProviderSettings, TextDelta, ThinkingDelta, ToolCallDelta,
)
from llmproc.testing.script import HTTPError, Reply, ToolUse

_ids = itertools.count(1)


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
            raise ProviderError(item.message, provider=self.name, status=item.status, retryable=retryable)
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
