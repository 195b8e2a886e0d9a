"""Gemini and the account limiter: the real google-genai client, handed llmproc's rate-limited
HTTP client, against the fake server. Gemini announces no limits in headers and says how long
to wait only in a 429's body (a google.rpc.RetryInfo detail), so static limits and that wait are
what the limiter has to go by."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from google import genai
from google.genai import errors, types

from llmproc.messages import Message
from llmproc.providers import ratelimit
from llmproc.providers._errors import provider_error
from llmproc.providers.base import ModelRequest, ProviderSettings
from llmproc.providers.registry import create_provider
from llmproc.testing import FakeLLMServer, HTTPError, RateLimits, Reply

REQUEST = ModelRequest(model="gemini-test", system="Be brief.", messages=[Message.user("hi")])
KEY = "gm-test"


def settings(fake: FakeLLMServer, **kw: object) -> ProviderSettings:
    return ProviderSettings("gemini", base_url=fake.gemini_base_url, api_key=KEY, **kw)  # type: ignore[arg-type]


def test_a_gemini_429_says_its_wait_in_the_body_only() -> None:
    with FakeLLMServer(lambda _r: Reply(text="ok"), rate_limits=RateLimits(1, window_s=30.0)) as fake:
        client = genai.Client(api_key=KEY, http_options=types.HttpOptions(
            base_url=fake.gemini_base_url, retry_options=types.HttpRetryOptions(attempts=1)))
        client.models.generate_content(model="gemini-test", contents="hi")
        with pytest.raises(errors.ClientError) as info:
            client.models.generate_content(model="gemini-test", contents="hi")
    assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"
    [detail] = info.value.details["error"]["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.RetryInfo" and detail["retryDelay"].endswith("s")
    assert "retry-after" not in info.value.response.headers  # as the Gemini API: no header
    wait = provider_error("gemini", info.value).retry_after_s  # what the retry layer waits
    assert wait is not None and 25 < wait <= 30


async def test_the_gemini_client_sends_through_the_accounts_limiter() -> None:
    with FakeLLMServer(lambda _r: Reply(text="ok")) as fake:
        provider = create_provider(settings(fake), shared_client=False)
        assert (await provider.complete(REQUEST)).message.text == "ok"
        await provider.aclose()
        limiter = ratelimit._limiters[asyncio.get_running_loop()][ratelimit.account_key(fake.url, KEY)]
    assert limiter.admitted == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_a_gemini_429_pauses_the_whole_account_for_its_retry_delay(stream: bool) -> None:
    arrivals: list[float] = []

    def answer(_request: object) -> HTTPError | Reply:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return HTTPError(429, "Resource has been exhausted", retry_after_s=0.6)
        return Reply(text="ok")

    with FakeLLMServer(answer) as fake:
        provider = create_provider(settings(fake))
        request = dataclasses.replace(REQUEST, stream=stream)  # a stream's 429 body is read before the SDK's
        results = await asyncio.gather(*(provider.complete(request) for _ in range(4)))
        await provider.aclose()
    assert [r.message.text for r in results] == ["ok"] * 4
    # the 429 was the probe: the three held behind it and its retry all waited out its delay
    assert len(arrivals) == 5 and all(t - arrivals[0] >= 0.55 for t in arrivals[1:])


async def test_static_limits_keep_a_gemini_fan_out_under_the_accounts_limit() -> None:
    """Gemini's free tier states its limits per minute and sends no headers: the program's
    `[limits] requests_per_minute` is what holds a fan-out. A minute is 0.5 s here."""
    window = 0.5
    with FakeLLMServer(lambda _r: Reply(text="ok"), rate_limits=RateLimits(5, window_s=window)) as fake:
        account = ratelimit.account_key(fake.url, KEY)
        ratelimit._limiters.setdefault(asyncio.get_running_loop(), {})[account] = ratelimit.AccountLimiter(
            ratelimit.StaticLimits(requests_per_minute=5), static_period_s=window)
        provider = create_provider(settings(fake, max_retries=5))
        started = time.monotonic()
        results = await asyncio.gather(*(provider.complete(REQUEST) for _ in range(15)))
        elapsed = time.monotonic() - started
        await provider.aclose()
    assert [r.message.text for r in results] == ["ok"] * 15
    assert elapsed >= 2 * window * 0.9  # 15 at 5 a window: at least three windows
    assert fake.rate_limited <= 2, fake.rate_limited  # a request crossing a window's edge at most
