"""Gemini adapter (google-genai), an optional extra: `llmproc[gemini]`. `create` is the Gemini
Developer API (provider "gemini"), `create_vertex` Gemini on Vertex AI (provider "gemini_vertex").

The SDK is imported in `create`, so importing this module never fails; a missing SDK gives
`ProviderNotInstalled` with the install hint. The client reads its own environment
(`GEMINI_API_KEY`/`GOOGLE_API_KEY`, `GOOGLE_GEMINI_BASE_URL`, `GOOGLE_GENAI_USE_VERTEXAI`):
we pass a key or base URL only when the settings carry one.

The client makes one attempt (`HttpRetryOptions(attempts=1)`): retries are the registry's
`RetryingProvider`. In a stream each chunk is a whole response; a stream that ends without a
`finish_reason` is incomplete, and dropped connections arrive as raw httpx2 errors (mapped in
`_errors`).
"""

from __future__ import annotations

import os
from contextlib import aclosing
from typing import Any

import httpx2

from llmproc.errors import MissingCredentialsError, ProviderError, ProviderNotInstalled
from llmproc.messages import Message, ToolCall
from llmproc.providers import _vertex, ratelimit_http
from llmproc.providers._errors import CallbackFailed, sdk_errors, stream_incomplete
from llmproc.providers.base import (
    ModelRequest,
    ModelResponse,
    OnEvent,
    ProviderSettings,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    client_timeouts,
)
from llmproc.providers.gemini_convert import (
    PartsAccumulator,
    config_param,
    contents_param,
    finish_name,
    stop_reason,
    usage_from,
)

__all__ = ["GeminiProvider", "create", "create_vertex"]

_KEY_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")


class _Collector:
    """Folds response chunks (or the one non-streamed response) into a ModelResponse."""

    def __init__(self, on_event: OnEvent | None):
        self._on_event = on_event
        self._parts = PartsAccumulator()
        self.finish: str | None = None
        self.blocked: str | None = None
        self.usage_meta: Any = None
        self.response_id: str | None = None
        self.model: str | None = None

    def add(self, chunk: Any) -> None:
        self.response_id = chunk.response_id or self.response_id
        self.model = chunk.model_version or self.model
        if chunk.usage_metadata is not None:  # cumulative: the last one wins
            self.usage_meta = chunk.usage_metadata
        feedback = chunk.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            self.blocked = finish_name(feedback.block_reason)
        if not chunk.candidates:
            return
        candidate = chunk.candidates[0]
        if candidate.finish_reason is not None:
            self.finish = finish_name(candidate.finish_reason)
        content = candidate.content
        for part in (content.parts if content is not None and content.parts else ()):
            self._parts.add(part)
            self._emit(part)

    def _emit(self, part: Any) -> None:
        if self._on_event is None:
            return
        if part.function_call is not None:
            event: Any = ToolCallDelta(part.function_call.name or "")
        elif part.text:
            event = ThinkingDelta(part.text) if part.thought else TextDelta(part.text)
        else:
            return
        try:
            self._on_event(event)
        except Exception as exc:
            raise CallbackFailed(exc) from exc

    def response(self, provider: str) -> ModelResponse:
        message = Message("assistant", self._parts.parts())
        raw = self.finish or self.blocked
        stop = "refusal" if self.finish is None and self.blocked else stop_reason(
            raw, any(isinstance(p, ToolCall) for p in message.parts))
        return ModelResponse(message=message, usage=usage_from(self.usage_meta), stop_reason=stop,
                             raw_stop_reason=raw, model=self.model, request_id=self.response_id,
                             response_id=self.response_id)


class GeminiProvider:
    """A `Provider` over `genai.Client(...).aio`."""

    def __init__(self, name: str, client: Any, config_type: Any, http: Any = None):
        self.name = name
        self._client = client
        self._config_type = config_type  # genai's GenerateContentConfig
        self._http = http  # our rate-limited HTTP client: genai closes only the clients it built

    async def complete(self, request: ModelRequest, on_event: OnEvent | None = None) -> ModelResponse:
        collector = _Collector(on_event)
        models = self._client.aio.models
        with sdk_errors(self.name):
            # Validated here so that a bad `request.extra` key becomes a ProviderError naming it.
            config = self._config_type.model_validate(config_param(request))
            kwargs = {"model": request.model, "contents": contents_param(request.messages), "config": config}
            if request.stream:
                # aclosing: a stream left behind after an error would be finalised later, outside
                # this task, and its HTTP response with it.
                async with aclosing(await models.generate_content_stream(**kwargs)) as chunks:
                    async for chunk in chunks:
                        collector.add(chunk)
                if collector.finish is None and collector.blocked is None:
                    raise stream_incomplete(self.name, collector.response_id, "no finish reason")
            else:
                collector.add(await models.generate_content(**kwargs))
        return collector.response(self.name)

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        self._client.close()
        if self._http is not None:
            await self._http.aclose()


def _default_timeout(connect: float, read: float) -> Any:
    """An httpx request hook giving requests without a timeout the default idle timeout.

    Without `http_options.timeout` genai sends each request with `timeout=None` (no limit at
    all), and setting that option would also make it a total deadline: sent to the server as
    X-Server-Timeout, and used as aiohttp's total. The hook is httpx's only: with aiohttp
    installed genai uses aiohttp, and only request_timeout_s bounds a call.
    """
    async def fill_in(request: Any) -> None:
        if request.extensions.get("timeout", {}).get("read") is None:
            request.extensions["timeout"] = {"connect": connect, "read": read, "write": read, "pool": read}

    return fill_in


def _sdk(name: str) -> tuple[Any, Any]:
    try:
        from google import genai
        from google.genai import types
    except ImportError as exc:
        raise ProviderNotInstalled(name, "google-genai", "gemini") from exc
    return genai, types


def _http_options(settings: ProviderSettings, types: Any) -> tuple[Any, Any]:
    """(genai's HttpOptions, the rate-limited HTTP client in them or None)."""
    http: dict[str, Any] = {}
    if settings.base_url:
        http["base_url"] = settings.base_url
    if settings.options.get("headers"):  # [parameters] extra_headers: on every request of the client
        http["headers"] = dict(settings.options["headers"])
    client_args: dict[str, Any] = {}
    if settings.timeout_s is not None:
        http["timeout"] = int(settings.timeout_s * 1000)  # genai takes milliseconds
    else:
        client_args["event_hooks"] = {"request": [_default_timeout(*client_timeouts(settings))]}
    # The account's shared rate limiter (ratelimit_http.py), in a client of our own: genai then
    # sends through it (and through httpx, never aiohttp, so the idle timeout above holds too).
    limited = ratelimit_http.http_client(httpx2.AsyncClient, settings, **client_args)
    if limited is not None:
        http["httpx_async_client"] = limited
    elif client_args:
        http["async_client_args"] = client_args
    # One attempt: retries are ours (providers/retry.py). Setting retry_options also turns off
    # genai's implicit 1-10 s retry of aiohttp connection errors.
    http["retry_options"] = types.HttpRetryOptions(attempts=1)
    return types.HttpOptions(**http), limited


def _build(name: str, genai: Any, types: Any, settings: ProviderSettings, kwargs: dict[str, Any]) -> GeminiProvider:
    kwargs["http_options"], http = _http_options(settings, types)
    try:
        client = genai.Client(**kwargs)
    except Exception as exc:  # e.g. conflicting environment settings
        raise ProviderError(f"cannot build the Gemini client: {exc}", provider=name) from exc
    return GeminiProvider(name, client, types.GenerateContentConfig, http)


def create(settings: ProviderSettings) -> GeminiProvider:
    """Raises ProviderNotInstalled without google-genai, MissingCredentialsError without a key."""
    name = settings.provider or "gemini"
    genai, types = _sdk(name)
    uses_vertex = os.environ.get("GOOGLE_GENAI_USE_VERTEXAI", "").lower() in ("1", "true")
    if not settings.api_key and not uses_vertex and not any(os.environ.get(v) for v in _KEY_ENV):
        raise MissingCredentialsError(name, "GEMINI_API_KEY")
    kwargs: dict[str, Any] = {}
    if settings.api_key:
        kwargs["api_key"] = settings.api_key
    return _build(name, genai, types, settings, kwargs)


def create_vertex(settings: ProviderSettings) -> GeminiProvider:
    """Gemini on Vertex AI (provider "gemini_vertex"). Options: `project_id`, `region`,
    `access_token` (else Google Application Default Credentials, found at the first call).

    `settings.api_key`, when set, is used as the access token, as for Claude on Vertex. A
    program's missing project or region is refused earlier, by the registry.
    """
    name = settings.provider or "gemini_vertex"
    genai, types = _sdk(name)
    gap = _vertex.missing("gemini_vertex", settings.options)
    if gap:
        raise ProviderError(gap[1], provider=name)
    project, region = _vertex.locate("gemini_vertex", settings.options)
    kwargs: dict[str, Any] = {"vertexai": True, "project": project, "location": region}
    token = settings.options.get("access_token") or settings.api_key
    if token:
        from google.oauth2.credentials import Credentials

        kwargs["credentials"] = Credentials(token)
    return _build(name, genai, types, settings, kwargs)
