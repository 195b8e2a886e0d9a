"""The retry policy itself, with an in-memory provider and a recorded (not slept) clock."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from llmproc.errors import ProviderError
from llmproc.messages import Message, Usage
from llmproc.providers._errors import retry_after_seconds
from llmproc.providers.base import ModelRequest, ModelResponse, OnEvent, TextDelta
from llmproc.providers.retry import RetryingProvider, RetryPolicy

REQUEST = ModelRequest(model="m-1", system="", messages=[Message.user("hi")], stream=True)
OK = ModelResponse(Message.assistant("ok"), Usage(), "end")


class Flaky:
    """Raises the given errors in turn (emitting `emit_first` text first), then answers."""

    name = "flaky"

    def __init__(self, *errors: ProviderError, emit_first: bool = False):
        self.errors = list(errors)
        self.emit_first = emit_first
        self.calls = 0

    async def complete(self, request: ModelRequest, on_event: OnEvent | None = None) -> ModelResponse:
        self.calls += 1
        if self.errors:
            if self.emit_first and on_event is not None:
                on_event(TextDelta("partial "))
            raise self.errors.pop(0)
        return OK

    async def aclose(self) -> None:
        pass


def err(status: int | None = 529, retryable: bool = True, **kw: object) -> ProviderError:
    return ProviderError("overloaded_error: Overloaded", provider="flaky", status=status, retryable=retryable,
                         **kw)  # type: ignore[arg-type]


def wrap(inner: Flaky, **policy: float) -> tuple[RetryingProvider, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    provider = RetryingProvider(inner, RetryPolicy(**policy), sleep=sleep, random=lambda: 0.5)  # type: ignore[arg-type]
    return provider, slept


async def test_exponential_backoff_with_jitter_then_success() -> None:
    inner = Flaky(err(), err(429), err(None))  # overloaded, rate limited, connection lost
    provider, slept = wrap(inner, max_retries=3, initial_delay_s=1.0, max_delay_s=3.0)
    assert await provider.complete(REQUEST) is OK
    # 1, 2, then capped at 3; each minus 25% x random (0.5 here).
    assert slept == [0.875, 1.75, 2.625] and inner.calls == 4


def test_jitter_stays_within_a_quarter_of_the_delay() -> None:
    policy = RetryPolicy(initial_delay_s=0.5, max_delay_s=8.0)
    assert [policy.backoff(n, 0.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.backoff(2, 0.9999) == pytest.approx(1.5, abs=1e-3)


async def test_retry_after_is_honoured_up_to_the_cap() -> None:
    inner = Flaky(err(429, retry_after_s=7.0))
    provider, slept = wrap(inner, retry_after_max_s=10.0)
    assert await provider.complete(REQUEST) is OK and slept == [7.0]


async def test_a_huge_retry_after_fails_at_once_with_a_clear_message() -> None:
    inner = Flaky(err(429, retry_after_s=86_400.0))
    provider, slept = wrap(inner, retry_after_max_s=60.0)
    with pytest.raises(ProviderError) as info:
        await provider.complete(REQUEST)
    assert slept == [] and inner.calls == 1
    assert "asked to wait 86400s" in str(info.value) and "retry_after_max_s=60" in str(info.value)
    assert info.value.status == 429 and info.value.retryable


async def test_gives_up_after_max_retries_and_says_so() -> None:
    inner = Flaky(err(), err(), err())
    provider, slept = wrap(inner, max_retries=2)
    with pytest.raises(ProviderError) as info:
        await provider.complete(REQUEST)
    assert inner.calls == 3 and len(slept) == 2
    assert info.value.retries == 2 and "gave up after 2 retries" in str(info.value)
    assert "overloaded" in str(info.value) and isinstance(info.value.__cause__, ProviderError)


async def test_not_retryable_errors_pass_at_once_with_advice() -> None:
    inner = Flaky(err(401, retryable=False))
    provider, slept = wrap(inner)
    with pytest.raises(ProviderError) as info:
        await provider.complete(REQUEST)
    assert inner.calls == 1 and slept == [] and info.value.retries == 0
    assert "API key was rejected" in str(info.value)


async def test_a_stream_that_already_showed_output_is_not_retried() -> None:
    inner = Flaky(err(None), emit_first=True)
    provider, _ = wrap(inner)
    seen: list[object] = []
    with pytest.raises(ProviderError, match="already been shown"):
        await provider.complete(REQUEST, seen.append)
    assert inner.calls == 1 and seen == [TextDelta("partial ")]


async def test_without_a_listener_a_broken_stream_is_retried() -> None:
    # Nobody saw the partial text, so a second attempt cannot show anything twice.
    inner = Flaky(err(None), emit_first=True)
    provider, _ = wrap(inner)
    assert await provider.complete(REQUEST) is OK and inner.calls == 2


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "1.5", "retry-after-ms": "20"}) == 0.02  # ms wins
    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)
    date = format_datetime(datetime(2026, 11, 26, 12, 0, 30, tzinfo=timezone.utc), usegmt=True)
    assert retry_after_seconds({"retry-after": date}, now=now.timestamp()) == 30.0
    assert retry_after_seconds({"retry-after": "soon"}) is None and retry_after_seconds({}) is None
    assert retry_after_seconds({"retry-after": "-4"}) == 0.0
