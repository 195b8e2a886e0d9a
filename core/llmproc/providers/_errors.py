"""SDK exception -> `ProviderError`, shared by every adapter.

    provider_error(provider, exc)       any exception raised while calling an SDK
    stream_incomplete(provider, ...)    a stream that ended without its final event
    is_retryable_status(status)         408, 409, 429, 5xx (529 included)
    retry_after_seconds(headers)        `retry-after-ms` / `retry-after` (seconds or HTTP date)
                                        (ratelimit_headers.retry_after; Gemini's body: RetryInfo)

The server's word wins over the status: `x-should-retry: true|false` (sent by Anthropic and
OpenAI) overrides `retryable`, and a Retry-After value travels on the error for the retry layer.

The SDK modules are looked up in `sys.modules` instead of imported: if an SDK was never
imported, none of its exceptions can exist, and this module stays free of optional imports.
Stainless SDKs (anthropic, openai) share class names and attributes; google-genai has its own
`errors.APIError` with an int `code`. Dropped connections can surface as raw `httpx2` errors
(anthropic streams, genai), which are mapped here too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx2

from llmproc.errors import ProviderError
from llmproc.providers.ratelimit_headers import retry_after as retry_after_seconds
from llmproc.providers.ratelimit_headers import retry_info_delay

__all__ = ["provider_error", "stream_incomplete", "is_retryable_status", "retry_after_seconds",
           "RETRYABLE_ERROR_TYPES"]

# Error types sent in a body without a usable HTTP status (in-stream errors arrive after a 200).
RETRYABLE_ERROR_TYPES = frozenset({
    "overloaded_error", "rate_limit_error", "api_error", "timeout_error",  # anthropic
    "server_error", "rate_limit_exceeded", "internal_error",  # openai
})


def is_retryable_status(status: int | None) -> bool:
    return status is not None and (status in (408, 409, 429) or status >= 500)


def stream_incomplete(provider: str, request_id: str | None = None, detail: str = "") -> ProviderError:
    """A clean end of stream without the final event: the answer is incomplete, a retry may work."""
    message = "stream ended before the model finished" + (f" ({detail})" if detail else "")
    return ProviderError(message, provider=provider, retryable=True, request_id=request_id)


class CallbackFailed(Exception):
    """Carries an exception raised by a caller's `on_event` past the SDK-error mapping, so it is
    re-raised as is, not as a ProviderError."""

    def __init__(self, original: BaseException):
        self.original = original


@contextmanager
def sdk_errors(provider: str) -> Iterator[None]:
    """Around an SDK call: its exceptions become ProviderErrors; a failed `on_event` callback
    (CallbackFailed) and ProviderErrors of our own pass through unchanged."""
    try:
        yield
    except CallbackFailed as failed:
        raise failed.original from None
    except ProviderError:
        raise
    except Exception as exc:
        raise provider_error(provider, exc) from exc


def provider_error(provider: str, exc: BaseException, *, request_id: str | None = None) -> ProviderError:
    """Map any exception raised by an SDK call (or its stream) to a ProviderError.

    `request_id` is used when the exception carries none (e.g. a connection dropped mid-stream,
    after the response headers named the request).
    """
    if isinstance(exc, ProviderError):
        return exc
    found = next((m for m in (convert(exc) for convert in _CONVERTERS) if m is not None), None)
    m = found or _Mapped(f"{type(exc).__name__}: {exc}")
    headers = _headers(exc)
    retryable = m.retryable
    should_retry = headers.get("x-should-retry") if headers else None
    if should_retry in ("true", "false"):
        retryable = should_retry == "true"
    return ProviderError(m.message, provider=provider, status=m.status, retryable=retryable,
                         request_id=m.request_id or request_id,
                         retry_after_s=_retry_after(exc, headers))


def _retry_after(exc: BaseException, headers: Mapping[str, str] | None) -> float | None:
    """The server's wait: its headers, else (Gemini) the RetryInfo in the error's body."""
    found = retry_after_seconds(headers)
    return found if found is not None else retry_info_delay(getattr(exc, "details", None))


def _headers(exc: BaseException) -> Mapping[str, str] | None:
    """The HTTP response headers an SDK error carries (Stainless and genai both keep `response`)."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    return headers if hasattr(headers, "get") else None


@dataclass(frozen=True, slots=True)
class _Mapped:
    message: str
    status: int | None = None
    retryable: bool = False
    request_id: str | None = None


def _classes(module: str, *names: str) -> tuple[type[BaseException], ...]:
    mod = sys.modules.get(module)
    return tuple(getattr(mod, n) for n in names if mod is not None and hasattr(mod, n))


def _stainless_error(exc: BaseException) -> _Mapped | None:
    for sdk in ("anthropic", "openai"):
        api_error = _classes(sdk, "APIError")
        if not api_error or not isinstance(exc, api_error):
            continue
        if isinstance(exc, _classes(sdk, "APITimeoutError")):
            return _Mapped("request timed out", retryable=True)
        if isinstance(exc, _classes(sdk, "APIConnectionError")):
            return _Mapped(f"connection error: {_cause(exc)}", retryable=True)
        if isinstance(exc, _classes(sdk, "APIResponseValidationError")):
            return _Mapped(f"unexpected response shape: {exc}", status=getattr(exc, "status_code", None))
        status: int | None = getattr(exc, "status_code", None)
        request_id: str | None = getattr(exc, "request_id", None)
        kind: str | None = getattr(exc, "type", None)
        message = getattr(exc, "api_message", None) or getattr(exc, "message", None) or str(exc)
        if status is None or status < 400:
            # In-stream error event (anthropic: status 200; openai chat: no status at all).
            return _Mapped(f"error in stream ({kind or 'unknown'}): {message}",
                           retryable=kind in RETRYABLE_ERROR_TYPES, request_id=request_id)
        if kind and kind not in message:
            message = f"{kind}: {message}"
        return _Mapped(message, status, is_retryable_status(status), request_id)
    return None


def _genai_error(exc: BaseException) -> _Mapped | None:
    api_error = _classes("google.genai.errors", "APIError")
    if not api_error or not isinstance(exc, api_error):
        return None
    code: Any = getattr(exc, "code", None)
    status = code if isinstance(code, int) and code >= 100 else None
    message = getattr(exc, "message", None) or str(exc)
    state = getattr(exc, "status", None)
    if state and state not in message:
        message = f"{state}: {message}"
    header = getattr(getattr(getattr(exc, "response", None), "headers", None), "get", None)
    found = header("x-request-id") if callable(header) else None
    request_id = found if isinstance(found, str) else None
    if status is None or status < 400:  # an error chunk without a usable code
        return _Mapped(f"error in stream: {message}", retryable=state in _RETRYABLE_GOOGLE_STATES,
                       request_id=request_id)
    return _Mapped(message, status, is_retryable_status(status), request_id)


def _transport_error(exc: BaseException) -> _Mapped | None:
    if isinstance(exc, httpx2.TimeoutException):
        return _Mapped(f"request timed out ({type(exc).__name__})", retryable=True)
    if isinstance(exc, httpx2.TransportError):
        return _Mapped(f"connection lost: {type(exc).__name__}: {exc}", retryable=True)
    return None


_CONVERTERS = (_stainless_error, _genai_error, _transport_error)
_RETRYABLE_GOOGLE_STATES = frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED", "INTERNAL", "DEADLINE_EXCEEDED"})


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
