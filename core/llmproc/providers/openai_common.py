"""What the two OpenAI adapters (Responses and Chat Completions) share.

Client construction leaves the SDK's environment variables working: `api_key`/`base_url` are
passed only when the settings carry them. Tool-call arguments travel as JSON strings on both
APIs; we store them as dicts and serialise them deterministically so that a replayed history
is byte-identical from one turn to the next (OpenAI caches request prefixes).
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import openai

from llmproc.errors import MissingCredentialsError, ProviderError
from llmproc.messages import ToolResult, Usage
from llmproc.providers import ratelimit_http
from llmproc.providers._errors import provider_error
from llmproc.providers.base import ProviderSettings, client_timeouts

# Local OpenAI-compatible servers (Ollama, vLLM, llama.cpp) ignore the key, but the SDK
# refuses to build a client without one.
PLACEHOLDER_KEY = "not-needed"
RAW_ARGUMENTS_KEY = "_raw"
ERROR_PREFIX = "ERROR: "


def build_client(settings: ProviderSettings, *, keyless_with_base_url: bool) -> openai.AsyncOpenAI:
    """An AsyncOpenAI for `settings`; raise MissingCredentialsError when no key can be found.

    `keyless_with_base_url`: a custom base_url (settings or OPENAI_BASE_URL) means a local
    server that needs no key, so a placeholder is passed instead of failing.
    """
    # Retries are ours (providers/retry.py, applied by the registry): the SDK never retries.
    kwargs: dict[str, Any] = {"max_retries": 0}
    if settings.base_url:
        kwargs["base_url"] = settings.base_url
    connect, read = client_timeouts(settings)
    kwargs["timeout"] = openai.Timeout(read, connect=connect)
    # The account's shared rate limiter (ratelimit_http.py); the SDK's own client class keeps its pool.
    http = ratelimit_http.http_client(openai.DefaultAsyncHttpxClient, settings, timeout=kwargs["timeout"])
    if http is not None:
        kwargs["http_client"] = http
    if settings.options.get("headers"):  # [parameters] extra_headers: on every request of the client
        kwargs["default_headers"] = dict(settings.options["headers"])
    if settings.api_key:
        kwargs["api_key"] = settings.api_key
    elif not os.environ.get("OPENAI_API_KEY"):
        has_base_url = bool(settings.base_url or os.environ.get("OPENAI_BASE_URL"))
        if not (keyless_with_base_url and has_base_url):
            raise MissingCredentialsError(settings.provider, "OPENAI_API_KEY")
        kwargs["api_key"] = PLACEHOLDER_KEY
    try:
        return openai.AsyncOpenAI(**kwargs)
    except openai.OpenAIError as exc:  # e.g. conflicting options read from the environment
        raise ProviderError(str(exc), provider=settings.provider) from exc


def to_provider_error(provider: str, exc: BaseException, request_id: str | None = None) -> ProviderError:
    """SDK exception -> ProviderError. Errors raised mid-stream carry no request id of their own:
    `request_id` (from the stream's response headers) fills it in."""
    error = provider_error(provider, exc)
    if error.request_id is None:
        error.request_id = request_id
    return error


def call_kwargs(method: Callable[..., Any], base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `request.extra` into the SDK call: keys the SDK method knows become keyword
    arguments, anything else (server-specific knobs such as vLLM's `top_k`) goes to extra_body."""
    known = _parameters(method)
    kwargs = dict(base)
    body: dict[str, Any] = {}
    for key, value in extra.items():
        if key in known:
            kwargs[key] = value
        else:
            body[key] = value
    if body:
        kwargs["extra_body"] = {**kwargs.get("extra_body", {}), **body}
    return kwargs


_PARAMS_CACHE: dict[Any, frozenset[str]] = {}


def _parameters(method: Callable[..., Any]) -> frozenset[str]:
    key = getattr(method, "__func__", method)
    if key not in _PARAMS_CACHE:
        _PARAMS_CACHE[key] = frozenset(inspect.signature(method).parameters)
    return _PARAMS_CACHE[key]


def dump_arguments(arguments: Mapping[str, Any]) -> str:
    """Tool-call arguments as the model's JSON string; the raw text of unparsable ones is kept."""
    if set(arguments) == {RAW_ARGUMENTS_KEY} and isinstance(arguments[RAW_ARGUMENTS_KEY], str):
        return arguments[RAW_ARGUMENTS_KEY]
    return json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))


def parse_arguments(text: str | None) -> dict[str, Any]:
    """Parse a model's arguments string; invalid JSON or a non-object is kept as {"_raw": text}
    so that the engine can answer the model with an error result instead of crashing."""
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {RAW_ARGUMENTS_KEY: text}
    return value if isinstance(value, dict) else {RAW_ARGUMENTS_KEY: text}


def result_text(result: ToolResult, *, describe_images: bool = True) -> str:
    """Neither API has an is_error flag: mark failures in the content itself. Images the API
    cannot take here are described in the text."""
    text = ERROR_PREFIX + result.content if result.is_error else result.content
    if describe_images and result.images:
        text = "\n".join([text, *(i.describe() for i in result.images)]) if text else \
            "\n".join(i.describe() for i in result.images)
    return text


IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})  # Responses input_image


def result_output(result: ToolResult) -> str | list[dict[str, Any]]:
    """A Responses `function_call_output` output: text, or text and images when there are images."""
    if not result.images:
        return result_text(result)
    text = result_text(result, describe_images=False)
    items: list[dict[str, Any]] = [{"type": "input_text", "text": text}] if text else []
    for image in result.images:
        if image.media_type in IMAGE_TYPES:
            items.append({"type": "input_image", "image_url": f"data:{image.media_type};base64,{image.data}"})
        else:
            items.append({"type": "input_text", "text": image.describe()})
    return items


def stream_request_id(stream: Any) -> str | None:
    response = getattr(stream, "response", None)
    headers = getattr(response, "headers", None)
    return headers.get("x-request-id") if headers is not None else None


class OpenAIClientProvider:
    """What both OpenAI adapters share: the client from `settings`, its name, closing it.
    Subclasses say whether a base_url alone (a local server) is enough credentials."""

    keyless_with_base_url = False

    def __init__(self, settings: ProviderSettings):
        self.name = settings.provider
        self._client = build_client(settings, keyless_with_base_url=self.keyless_with_base_url)

    async def aclose(self) -> None:
        await self._client.close()


def openai_usage(prompt: int | None, completion: int | None, in_details: Any, out_details: Any) -> Usage:
    """Usage from either OpenAI API's counts: Chat and Responses name them differently but count
    alike (the prompt count includes the cached and cache-written tokens)."""
    cached = (getattr(in_details, "cached_tokens", None) or 0) if in_details else 0
    written = (getattr(in_details, "cache_write_tokens", None) or 0) if in_details else 0
    reasoning = (getattr(out_details, "reasoning_tokens", None) or 0) if out_details else 0
    return Usage(input_tokens=max((prompt or 0) - cached - written, 0), output_tokens=completion or 0,
                 cache_write_tokens=written, cache_read_tokens=cached, reasoning_tokens=reasoning)
