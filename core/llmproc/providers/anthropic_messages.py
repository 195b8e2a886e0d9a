"""Anthropic Messages adapter, for the first-party API (`create`) and Vertex AI (`create_vertex`).

Clients are built so that the SDK's own environment variables keep working: `api_key` and
`base_url` are passed only when the settings carry them (an explicit credential turns off the
SDK's environment lookup, so it must not be passed as None-but-present).

Streaming uses `messages.stream`, whose helper accumulates the final `Message`. Two stream
faults are not SDK errors and are caught here: a dropped connection surfaces as a raw
`httpx2.TransportError`, and a clean end of body without `message_delta`/`message_stop` leaves
`stop_reason` None, which we report as an incomplete stream instead of a short answer.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

from llmproc.errors import MissingCredentialsError, ProviderError, ProviderNotInstalled
from llmproc.providers import _vertex, ratelimit_http
from llmproc.providers._errors import CallbackFailed, provider_error, sdk_errors, stream_incomplete
from llmproc.providers.anthropic_convert import merge_extra, request_params, response_from
from llmproc.providers.base import (
    ModelRequest,
    ModelResponse,
    OnEvent,
    ProviderSettings,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    client_timeouts,
)

try:
    import anthropic
except ImportError as exc:  # a core dependency, but keep the registry's hint uniform
    raise ProviderNotInstalled("anthropic", "anthropic", None) from exc

__all__ = ["AnthropicProvider", "VertexAuthNotInstalled", "create", "create_vertex"]

# Any of these lets the SDK find credentials on its own (key, token, profile, workload identity).
_CREDENTIAL_ENV = (
    "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE",
    "ANTHROPIC_IDENTITY_TOKEN", "ANTHROPIC_IDENTITY_TOKEN_FILE",
)


class AnthropicProvider:
    """A `Provider` over an `AsyncAnthropic` or `AsyncAnthropicVertex` client."""

    def __init__(self, name: str, client: Any):
        self.name = name
        self._client = client
        # Keys of request.extra that are real SDK parameters; the rest go in extra_body.
        self._create_params = _param_names(client.messages.create)
        self._stream_params = _param_names(client.messages.stream)

    async def complete(self, request: ModelRequest, on_event: OnEvent | None = None) -> ModelResponse:
        try:
            params = request_params(request)
        except ValueError as exc:
            raise ProviderError(str(exc), provider=self.name) from exc
        accepted = self._stream_params if request.stream else self._create_params
        params = merge_extra(params, dict(request.extra), accepted)
        with sdk_errors(self.name):
            if request.stream:
                return await self._stream(params, on_event)
            message = await self._client.messages.create(**params)
        return response_from(message, self.name, getattr(message, "_request_id", None))

    async def _stream(self, params: dict[str, Any], on_event: OnEvent | None) -> ModelResponse:
        emit = _emitter(on_event)
        started = False
        async with self._client.messages.stream(**params) as stream:
            request_id: str | None = stream.request_id
            try:
                async for event in stream:
                    kind = event.type
                    if kind == "message_start":
                        started = True
                    elif kind == "text":
                        emit(TextDelta(event.text))
                    elif kind == "thinking":
                        emit(ThinkingDelta(event.thinking))
                    elif kind == "content_block_start" and event.content_block.type == "tool_use":
                        emit(ToolCallDelta(event.content_block.name))
                if not started:
                    raise stream_incomplete(self.name, request_id, "no message_start")
                message = await stream.get_final_message()
            except (ProviderError, CallbackFailed, anthropic.APIError):
                raise
            except Exception as exc:  # raw httpx2 errors on a dropped connection
                raise provider_error(self.name, exc, request_id=request_id) from exc
        if message.stop_reason is None:
            raise stream_incomplete(self.name, request_id, "no stop reason")
        return response_from(message, self.name, request_id)

    async def aclose(self) -> None:
        await self._client.close()


def _emitter(on_event: OnEvent | None) -> Callable[[StreamEvent], None]:
    def emit(event: StreamEvent) -> None:
        if on_event is None:
            return
        try:
            on_event(event)
        except Exception as exc:
            raise CallbackFailed(exc) from exc

    return emit


def _param_names(method: Callable[..., Any]) -> frozenset[str]:
    return frozenset(inspect.signature(method).parameters)


def _common_kwargs(settings: ProviderSettings) -> dict[str, Any]:
    # Retries are ours (providers/retry.py, applied by the registry): the SDK never retries.
    kwargs: dict[str, Any] = {"max_retries": 0}
    if settings.base_url:
        kwargs["base_url"] = settings.base_url
    connect, read = client_timeouts(settings)
    kwargs["timeout"] = anthropic.Timeout(read, connect=connect)
    # The account's shared rate limiter (ratelimit_http.py); the SDK's own client class keeps its pool.
    http = ratelimit_http.http_client(anthropic.DefaultAsyncHttpxClient, settings, timeout=kwargs["timeout"])
    if http is not None:
        kwargs["http_client"] = http
    if settings.options.get("headers"):  # [parameters] extra_headers: on every request of the client
        kwargs["default_headers"] = dict(settings.options["headers"])
    return kwargs


def create(settings: ProviderSettings) -> AnthropicProvider:
    """The first-party Anthropic API. Raises MissingCredentialsError when no key can be found."""
    name = settings.provider or "anthropic"
    kwargs = _common_kwargs(settings)
    if settings.api_key:
        kwargs["api_key"] = settings.api_key
    elif not any(os.environ.get(var) for var in _CREDENTIAL_ENV):
        raise MissingCredentialsError(name, "ANTHROPIC_API_KEY")
    try:
        client = anthropic.AsyncAnthropic(**kwargs)
    except (anthropic.AnthropicError, ValueError) as exc:  # e.g. a broken profile file
        raise ProviderError(str(exc), provider=name) from exc
    return AnthropicProvider(name, client)


class VertexAuthNotInstalled(ProviderNotInstalled):
    """Claude on Vertex without an access token finds Google credentials with google-auth, which
    the SDK only imports at the first request; its own error there is a multi-line banner."""

    def __init__(self, provider: str):
        super().__init__(provider, "google-auth", None)
        self.args = (f"provider {provider!r} needs google-auth to find your Google Cloud credentials: "
                     'pip install "anthropic[vertex]"',)


def _google_auth_installed() -> bool:
    try:
        import google.auth  # noqa: F401  (a real import: a broken install fails here, not mid-request)
    except ImportError:
        return False
    return True


def create_vertex(settings: ProviderSettings) -> AnthropicProvider:
    """Claude on Vertex AI. Options: `project_id`, `region`, `access_token` (else Google ADC).

    `settings.api_key`, when set, is used as the access token. A program's missing project or
    region is refused earlier, by the registry, as a configuration error (exit 2 in the CLIs).
    """
    name = settings.provider or "anthropic_vertex"
    options = settings.options
    gap = _vertex.missing("anthropic_vertex", options)
    if gap:
        raise ProviderError(gap[1], provider=name)
    project_id, region = _vertex.locate("anthropic_vertex", options)
    kwargs = _common_kwargs(settings)
    kwargs.update(region=region, project_id=project_id)
    access_token = options.get("access_token") or settings.api_key
    if access_token:
        kwargs["access_token"] = access_token
    elif not _google_auth_installed():
        raise VertexAuthNotInstalled(name)
    try:
        from anthropic.lib.vertex import AsyncAnthropicVertex

        client = AsyncAnthropicVertex(**kwargs)
    except (anthropic.AnthropicError, ValueError) as exc:
        raise ProviderError(str(exc), provider=name) from exc
    return AnthropicProvider(name, client)
