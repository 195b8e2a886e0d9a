"""The seam between the engine and a model API: one `Provider.complete()`.

An adapter turns a `ModelRequest` (provider-neutral) into one SDK call and the SDK's answer
into a `ModelResponse`. Streaming is the same call with `request.stream = True`: the adapter
reports deltas through `on_event` as they arrive and still returns the complete response.
Adapters raise `ProviderError` (never an SDK exception) so callers handle one error type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Union

from llmproc.messages import Message, Usage


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as the model sees it: name, description, JSON Schema of its arguments."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ModelRequest:
    model: str
    system: str
    messages: Sequence[Message]
    tools: Sequence[ToolSpec] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    reasoning_effort: str | None = None  # OpenAI reasoning models
    thinking_budget: int | None = None  # Claude extended thinking
    extra: Mapping[str, Any] = field(default_factory=dict)  # passed through to the SDK call
    stream: bool = False
    cache: bool = True  # automatic prompt caching where the provider supports it


StopReason = Literal["end", "tool_calls", "max_tokens", "refusal", "other"]


@dataclass(frozen=True, slots=True)
class ModelResponse:
    message: Message  # role "assistant"
    usage: Usage
    stop_reason: StopReason
    raw_stop_reason: str | None = None
    model: str | None = None
    request_id: str | None = None  # the HTTP request's id (a request-id header), for support tickets
    response_id: str | None = None  # the answer's own id ("msg_...", "resp_...", "chatcmpl-...")


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str
    type: Literal["text_delta"] = "text_delta"


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    text: str
    type: Literal["thinking_delta"] = "thinking_delta"


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A tool call has started streaming (its name is known, arguments still arriving)."""

    name: str
    type: Literal["tool_call_delta"] = "tool_call_delta"


StreamEvent = Union[TextDelta, ThinkingDelta, ToolCallDelta]
OnEvent = Callable[[StreamEvent], None]


# A provider that accepts the connection and then sends nothing must not hold a run for the SDKs'
# 600 s per attempt. Why 120 s: docs/providers.md#timeouts.
DEFAULT_READ_TIMEOUT_S = 120.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0  # the anthropic and openai SDKs' own default


def client_timeouts(settings: ProviderSettings) -> tuple[float, float]:
    """(connect, read) seconds for an SDK client; write and pool waits take the read value.
    `timeout_s` ([parameters] request_timeout_s) sets all four, as it always has."""
    if settings.timeout_s is not None:
        return settings.timeout_s, settings.timeout_s
    return DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_READ_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """How to build a client. None means "let the SDK read its own environment variables"."""

    provider: str
    base_url: str | None = None
    api_key: str | None = None
    timeout_s: float | None = None  # None: DEFAULT_READ_TIMEOUT_S between bytes (client_timeouts)
    # The retry layer (providers/retry.py), applied by the registry; the SDKs never retry.
    max_retries: int = 3
    retry_initial_delay_s: float = 0.5
    retry_max_delay_s: float = 8.0
    retry_after_max_s: float = 60.0  # a longer Retry-After fails at once instead of waiting
    options: Mapping[str, Any] = field(default_factory=dict)  # e.g. project_id/region for Vertex


class Provider(Protocol):
    name: str

    async def complete(self, request: ModelRequest, on_event: OnEvent | None = None) -> ModelResponse:
        """Send one request; stream deltas to `on_event` when `request.stream`; raise ProviderError."""
        ...

    async def aclose(self) -> None:
        """Release the HTTP client."""
        ...
