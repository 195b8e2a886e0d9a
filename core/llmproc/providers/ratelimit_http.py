"""The HTTP client the SDKs are given: it waits for the account's limiter (ratelimit.py) before
each attempt and tells it the response's headers. A subclass of each SDK's own default client
class, so the SDK's connection limits, keep-alive and timeouts stay as they were; `send` is what
every SDK calls once per attempt, including attempts that fail without a response (a hook on the
response would miss those and leave the request counted in flight forever). Anthropic and OpenAI
build it themselves; google-genai is handed one as `httpx_async_client` (gemini.py)."""

from __future__ import annotations

import asyncio
import json
import math
import os
from typing import Any

from llmproc.providers.base import ProviderSettings
from llmproc.providers.ratelimit import SWITCH, StaticLimits, account_key, limiter_for, static_limits
from llmproc.providers.ratelimit_headers import retry_after, retry_info_delay

__all__ = ["http_client"]

_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key")
_classes: dict[type, type] = {}


def http_client(base: type, settings: ProviderSettings, **kwargs: Any) -> Any:
    """An instance of a subclass of `base` (the SDK's own default httpx2.AsyncClient, so its
    connection limits and socket options stay) that waits for the account's limiter; None when
    `LLMPROC_RATE_LIMITER=off`."""
    if os.environ.get(SWITCH, "").strip().lower() in ("off", "0", "false", "no"):
        return None
    cls = _classes.get(base)
    if cls is None:
        cls = _classes[base] = type(f"RateLimited{base.__name__.lstrip('_')}", (_LimitedSend, base), {})
    client = cls(**kwargs)
    client._llmproc_static = static_limits(settings)
    client._llmproc_pause_max_s = settings.retry_after_max_s
    return client


class _LimitedSend:
    """Mixed in before an httpx2.AsyncClient: `send` is what every SDK calls for each attempt."""

    _llmproc_static: StaticLimits | None = None
    _llmproc_pause_max_s: float = math.inf

    async def send(self, request: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # another async library: no limiter to share
            return await super().send(request, **kwargs)  # type: ignore[misc]
        url = request.url
        credential = next((request.headers[h] for h in _CREDENTIAL_HEADERS if h in request.headers), "")
        limiter = limiter_for(account_key(f"{url.scheme}://{url.netloc.decode()}", credential),
                              self._llmproc_static)
        try:
            tokens = len(request.content) // 4  # what the fake bills; close enough for real APIs
        except Exception:  # a streamed upload: no size to go by
            tokens = 0
        ticket = await limiter.acquire(tokens)
        try:
            response = await super().send(request, **kwargs)  # type: ignore[misc]
        except BaseException:
            limiter.release(ticket)
            raise
        headers = response.headers
        if response.status_code == 429 and retry_after(headers) is None:
            headers = await _with_body_delay(response)
        limiter.observe(ticket, response.status_code, headers, pause_max_s=self._llmproc_pause_max_s)
        return response


async def _with_body_delay(response: Any) -> Any:
    """A 429 without retry-after headers (Gemini): its headers plus `retry-after` from the
    body's RetryInfo. The body is small, and the SDK reads it again from httpx's copy."""
    try:
        await response.aread()
        delay = retry_info_delay(json.loads(response.content))
    except Exception:  # not JSON, or the connection dropped: nothing more to learn
        return response.headers
    return response.headers if delay is None else {**response.headers, "retry-after": str(delay)}
