"""Shared set-up for the provider adapter tests: the `fake` server fixture, the weather tool and
question every adapter test asks, and builders for a file's `request()` and `run()` helpers.

Each test file keeps its own `provider(fake, **kw)` (the adapter and its settings differ) and
makes the rest from it:

    request = make_request("claude-test")
    run = make_run(provider)

Provider environment variables are already removed for every test by the llmproc pytest plugin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from llmproc.messages import Message
from llmproc.providers.base import ModelRequest, ModelResponse, Provider, StreamEvent, ToolSpec
from llmproc.testing import FakeLLMServer

WEATHER = ToolSpec("get_weather", "Current weather in a city.",
                   {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
ASK = Message.user("Weather in Paris?")


@pytest.fixture
def fake(fake_llm: FakeLLMServer) -> FakeLLMServer:
    return fake_llm


def make_request(model: str) -> Callable[..., ModelRequest]:
    """`request(messages, stream, **kw)`: a request to `model` with a short system prompt and WEATHER."""

    def request(messages: list[Message], stream: bool, **kw: Any) -> ModelRequest:
        return ModelRequest(model=model, system="Be brief.", messages=messages, tools=[WEATHER],
                            stream=stream, **kw)

    return request


def make_run(provider: Callable[..., Provider]) -> Callable[..., Awaitable[ModelResponse]]:
    """`run(fake, req, events=None, **kw)`: one call on a fresh `provider(fake, **kw)`, closed after;
    stream events are appended to `events` when given."""

    async def run(fake: FakeLLMServer, req: ModelRequest, events: list[StreamEvent] | None = None,
                  **kw: Any) -> ModelResponse:
        p = provider(fake, **kw)
        try:
            return await p.complete(req, events.append if events is not None else None)
        finally:
            await p.aclose()

    return run
