"""One retry policy for every provider: `RetryingProvider(inner, policy)`, applied by the registry.

The SDKs are built with `max_retries=0` (genai: one attempt), so this is the only place that
retries, and it behaves the same on every provider:

- what: errors the adapter marked `retryable` (408, 409, 429, 5xx incl. Anthropic's 529,
  connection errors, timeouts, transient in-stream errors, streams cut before the end);
- when not: a stream that already delivered output to `on_event` (a retry would show it twice),
  or a server asking to wait longer than `retry_after_max_s` (we fail at once with a clear
  message rather than hang a run for minutes);
- how long: the server's Retry-After when it sends one, else exponential backoff
  `min(initial * 2**n, max_delay)` minus up to 25% jitter, so that many processes hit by the same
  overload do not come back in lockstep.

Retries are per model call: tools are run by the turn loop only after a call succeeded, so a
retry never runs a tool twice, and a call that fails for good leaves the history as it was.
Each retry is logged and told to whoever listens (`reporting_retries`; the turn loop turns it
into a `ModelRetry` event, so a waiting user sees why nothing happens). `sleep` and `random`
are injectable so tests do not wait for real.
"""

from __future__ import annotations

import logging
import random as _random
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import anyio

from llmproc.errors import ProviderError
from llmproc.providers._hints import explain
from llmproc.providers.base import (
    ModelRequest, ModelResponse, OnEvent, Provider, ProviderSettings, StreamEvent,
)

__all__ = ["RetryNotice", "RetryPolicy", "RetryingProvider", "reporting_retries"]

log = logging.getLogger("llmproc.providers.retry")

JITTER = 0.25  # up to this share of a backoff delay is removed at random


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 3
    initial_delay_s: float = 0.5
    max_delay_s: float = 8.0
    retry_after_max_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: ProviderSettings) -> RetryPolicy:
        return cls(settings.max_retries, settings.retry_initial_delay_s, settings.retry_max_delay_s,
                   settings.retry_after_max_s)

    def backoff(self, retry: int, rand: float) -> float:
        """Delay before retry number `retry` (0-based) without a Retry-After; `rand` in [0, 1)."""
        return min(self.initial_delay_s * 2 ** retry, self.max_delay_s) * (1 - JITTER * rand)


Sleep = Callable[[float], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class RetryNotice:
    """A model call failed and will be tried again after `delay_s`."""

    attempt: int  # 1 for the first retry
    max_retries: int
    delay_s: float
    status: int | None  # HTTP status, None for connection errors and dropped streams
    error: str


_listener: ContextVar[Callable[[RetryNotice], None] | None] = ContextVar("llmproc_retry_listener", default=None)


@contextmanager
def reporting_retries(listener: Callable[[RetryNotice], None]) -> Iterator[None]:
    """Call `listener` for each retry of the model calls made inside the block."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


class RetryingProvider:
    """A `Provider` that retries transient failures of `inner` and explains final ones."""

    def __init__(self, inner: Provider, policy: RetryPolicy | None = None, *,
                 sleep: Sleep = anyio.sleep, random: Callable[[], float] = _random.random):
        self.inner = inner
        self.name = inner.name
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._random = random

    async def complete(self, request: ModelRequest, on_event: OnEvent | None = None) -> ModelResponse:
        retries = 0
        while True:
            delivered = False

            def tracking(event: StreamEvent) -> None:
                nonlocal delivered
                delivered = True
                on_event(event)  # type: ignore[misc]  # only installed when on_event is set

            try:
                return await self.inner.complete(request, tracking if on_event is not None else None)
            except ProviderError as error:
                error.retries = retries
                delay, note = self._decide(error, retries, delivered)
                if delay is None:
                    raise explain(error, model=request.model, note=note) from error
                failure, status = str(error), error.status
            retries += 1
            log.warning("%s; retry %d/%d in %.2fs", failure, retries, self.policy.max_retries, delay)
            listener = _listener.get()
            if listener is not None:
                listener(RetryNotice(retries, self.policy.max_retries, delay, status, failure))
            await self._sleep(delay)

    def _decide(self, error: ProviderError, retries: int, delivered: bool) -> tuple[float | None, str | None]:
        """(delay before the next try, None) or (None, why we stop; None for the usual advice)."""
        if not error.retryable or retries >= self.policy.max_retries:
            return None, None
        if delivered:
            return None, ("the stream failed after output had already been shown, so it was not "
                          "retried (a retry would repeat it): run again")
        wait = error.retry_after_s
        if wait is not None and wait > self.policy.retry_after_max_s:
            cap = self.policy.retry_after_max_s
            return None, (f"{error.provider} asked to wait {wait:.0f}s before retrying, more than "
                          f"retry_after_max_s={cap:g}: not retried; try again later")
        if wait is not None:
            return wait, None
        return self.policy.backoff(retries, self._random()), None

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __repr__(self) -> str:
        return f"RetryingProvider({self.inner!r}, {self.policy!r})"
