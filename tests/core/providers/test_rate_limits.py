"""Rate limits: the fake server's emulation (each provider's headers and 429s, read by the real
SDKs) and the account limiter every SDK client llmproc builds waits for (providers/ratelimit.py).
Wall-clock assertions are generous sanity bounds only."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime
from typing import Any

import anthropic
import openai
import pytest

from llmproc.messages import Message
from llmproc.providers import ratelimit, ratelimit_headers
from llmproc.providers.base import ModelRequest, ProviderSettings
from llmproc.providers.registry import create_provider
from llmproc.testing import FakeLLMServer, HTTPError, RateLimits, Reply

REQUEST = ModelRequest(model="fake-model", system="Be brief.", messages=[Message.user("hi")])


VERTEX = {"region": "us-east5", "project_id": "proj", "access_token": "token"}


def settings(fake: FakeLLMServer, provider: str, **kw: Any) -> ProviderSettings:
    url = {"anthropic": fake.anthropic_base_url, "anthropic_vertex": fake.vertex_base_url}.get(
        provider, fake.openai_base_url)
    options = VERTEX if provider == "anthropic_vertex" else {}
    return ProviderSettings(provider, base_url=url, api_key="test-key", options=options, **kw)


def ok(_request: object) -> Reply:
    return Reply(text="ok")


# -- the fake's emulation, seen by the real SDKs ------------------------------------------------

def test_anthropic_headers_and_429() -> None:
    with FakeLLMServer(ok, rate_limits=RateLimits(2, 10_000, window_s=30.0)) as fake:
        client = anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key="k", max_retries=0)
        raw = client.messages.with_raw_response.create(model="m", max_tokens=10,
                                                       messages=[{"role": "user", "content": "hi"}])
        h = raw.headers
        assert (h["anthropic-ratelimit-requests-limit"], h["anthropic-ratelimit-requests-remaining"]) == ("2", "1")
        assert h["anthropic-ratelimit-input-tokens-limit"] == "10000"
        assert int(h["anthropic-ratelimit-input-tokens-remaining"]) < 10_000
        reset = datetime.fromisoformat(h["anthropic-ratelimit-requests-reset"].replace("Z", "+00:00"))
        assert 0 < reset.timestamp() - time.time() <= 30.5
        client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(anthropic.RateLimitError) as info:
            client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        assert info.value.type == "rate_limit_error"
        assert 0 < float(info.value.response.headers["retry-after"]) <= 30.5
        assert info.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"
        assert fake.rate_limited == 1 and fake.remaining == []


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_openai_headers_and_429(api: str) -> None:
    with FakeLLMServer(ok, rate_limits=RateLimits(2, 10_000, window_s=30.0)) as fake:
        client = openai.OpenAI(base_url=fake.openai_base_url, api_key="k", max_retries=0)

        def call(raw: bool = False) -> Any:
            if api == "responses":
                target = client.responses.with_raw_response if raw else client.responses
                return target.create(model="m", input="hi")
            target = client.chat.completions.with_raw_response if raw else client.chat.completions
            return target.create(model="m", messages=[{"role": "user", "content": "hi"}])

        h = call(raw=True).headers
        assert (h["x-ratelimit-limit-requests"], h["x-ratelimit-remaining-requests"]) == ("2", "1")
        assert h["x-ratelimit-limit-tokens"] == "10000"
        reset = ratelimit_headers.parse_duration(h["x-ratelimit-reset-requests"])
        assert reset is not None and 0 < reset <= 30.5
        call()
        with pytest.raises(openai.RateLimitError) as info:
            call()
        assert info.value.code is None and info.value.type == "rate_limit_error"
        assert 0 < int(info.value.response.headers["retry-after-ms"]) <= 30_500
        assert fake.rate_limited == 1


def test_a_request_past_the_token_limit_is_refused_and_consumes_no_script_item() -> None:
    with FakeLLMServer(rate_limits=RateLimits(input_tokens_per_minute=100, window_s=30.0)) as fake:
        fake.add(Reply(text="ok"))
        client = anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key="k", max_retries=0)
        with pytest.raises(anthropic.RateLimitError):
            client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "x" * 1000}])
        assert len(fake.remaining) == 1


def test_header_parsing() -> None:
    now = 1_000.0
    assert ratelimit_headers.parse_duration("6m0s") == 360.0
    assert ratelimit_headers.parse_duration("20ms") == pytest.approx(0.02)
    assert ratelimit_headers.parse_duration("1h2m3.5s") == pytest.approx(3723.5)
    snap = ratelimit_headers.parse({"x-ratelimit-remaining-requests": "4", "x-ratelimit-limit-requests": "5",
                                    "x-ratelimit-reset-requests": "1.5s"}, now)
    assert snap is not None and snap.budgets["requests"] == ratelimit_headers.Budget(5, 4, 1001.5)
    assert ratelimit_headers.parse({"content-type": "application/json"}, now) is None
    assert ratelimit_headers.retry_after({"retry-after-ms": "250", "retry-after": "9"}, now) == 0.25
    assert ratelimit_headers.retry_after({"retry-after": "2"}, now) == 2.0
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "13.5s"}
    quota = {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []}
    assert ratelimit_headers.retry_info_delay({"error": {"details": [quota, retry_info]}}) == 13.5
    assert ratelimit_headers.retry_info_delay([{"error": {"details": [retry_info]}}]) == 13.5  # a stream's
    for body in ({"error": {"details": [quota]}}, {"error": "x"}, "not json", None, [],
                 {"error": {"details": [{**retry_info, "retryDelay": "soon"}]}}):
        assert ratelimit_headers.retry_info_delay(body) is None


# -- the limiter, over real SDK clients ---------------------------------------------------------

@pytest.mark.parametrize("provider", ["anthropic", "anthropic_vertex", "openai", "openai_chat"])
async def test_the_limiter_learns_the_limits_and_holds_requests(provider: str) -> None:
    window = 0.5
    with FakeLLMServer(ok, rate_limits=RateLimits(requests_per_minute=10, window_s=window)) as fake:
        provider_ = create_provider(settings(fake, provider))
        started = time.monotonic()
        results = await asyncio.gather(*(provider_.complete(REQUEST) for _ in range(30)))
        elapsed = time.monotonic() - started
        await provider_.aclose()
        assert all(r.message.text == "ok" for r in results)
        windows = math.ceil(elapsed / window) + 1
        assert fake.rate_limited <= windows, (fake.rate_limited, elapsed)
        assert elapsed >= window * 0.8  # 30 requests at 10 a window span at least three windows
        assert elapsed < 15


async def test_the_limiter_lets_one_request_through_until_the_first_response_tells_the_limits() -> None:
    arrivals: list[float] = []

    def slow(request: object) -> Reply:
        arrivals.append(time.monotonic())
        return Reply(text="ok", delay=0.3)

    with FakeLLMServer(slow, rate_limits=RateLimits(requests_per_minute=100, window_s=60.0)) as fake:
        provider = create_provider(settings(fake, "anthropic"))
        await asyncio.gather(*(provider.complete(REQUEST) for _ in range(5)))
        await provider.aclose()
    assert len(arrivals) == 5
    assert arrivals[1] - arrivals[0] >= 0.25  # the others waited for the probe's answer
    assert arrivals[-1] - arrivals[1] < 0.25  # then went together: 95 requests were left


async def test_the_probe_holds_the_others_no_longer_than_probe_max_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "PROBE_MAX_S", 0.3)  # a first call not streamed, whose answer is slow
    arrivals: list[float] = []

    def answer(request: object) -> Reply:
        arrivals.append(time.monotonic())
        return Reply(text="ok", delay=1.0 if len(arrivals) == 1 else 0.0)

    with FakeLLMServer(answer) as fake:
        provider = create_provider(settings(fake, "anthropic"))
        await asyncio.gather(*(provider.complete(REQUEST) for _ in range(3)))
        await provider.aclose()
    assert 0.25 <= arrivals[1] - arrivals[0] < 0.9


async def test_a_retry_after_past_retry_after_max_s_does_not_pause_the_account() -> None:
    with FakeLLMServer() as fake:
        fake.add(HTTPError(429, "come back in an hour", headers={"retry-after": "3600"}), Reply(text="ok"))
        provider = create_provider(settings(fake, "anthropic"))
        with pytest.raises(Exception, match="3600"):
            await provider.complete(REQUEST)
        started = time.monotonic()
        assert (await provider.complete(REQUEST)).message.text == "ok"  # the call fails, the account does not hang
        assert time.monotonic() - started < 5
        await provider.aclose()


async def test_a_429_pauses_the_whole_account_until_retry_after() -> None:
    arrivals: list[tuple[float, bool]] = []
    first = [True]

    def answer(request: object) -> HTTPError | Reply:
        arrivals.append((time.monotonic(), first[0]))
        if first[0]:
            first[0] = False
            return HTTPError(429, "slow down", headers={"retry-after": "0.6"})
        return Reply(text="ok")

    with FakeLLMServer(answer) as fake:  # a server without rate-limit headers
        provider = create_provider(settings(fake, "openai_chat"))
        results = await asyncio.gather(*(provider.complete(REQUEST) for _ in range(4)))
        await provider.aclose()
    assert [r.message.text for r in results] == ["ok"] * 4
    rejected_at = arrivals[0][0]
    assert len(arrivals) == 5 and all(t - rejected_at >= 0.55 for t, _ in arrivals[1:])


async def test_the_switch_turns_the_limiter_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ratelimit.SWITCH, "off")
    with FakeLLMServer(ok, rate_limits=RateLimits(requests_per_minute=3, window_s=30.0)) as fake:
        provider = create_provider(settings(fake, "anthropic", max_retries=0))
        results = await asyncio.gather(*(provider.complete(REQUEST) for _ in range(5)), return_exceptions=True)
        await provider.aclose()
    assert fake.rate_limited == 2 and sum(isinstance(r, Exception) for r in results) == 2


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_the_limited_client_keeps_the_sdk_pool_and_timeouts(provider: str) -> None:
    with FakeLLMServer() as fake:
        sdk = create_provider(settings(fake, provider, timeout_s=7.5), shared_client=False).inner._client
        http = sdk._client
        assert type(http).__name__.startswith("RateLimited")
        assert http.timeout.read == 7.5 and sdk.timeout.read == 7.5
        assert http._transport._pool._max_connections == 1000  # the SDK's DEFAULT_CONNECTION_LIMITS


# -- static limits ---------------------------------------------------------------------------------

async def test_static_limits_hold_over_a_sliding_period() -> None:
    limiter = ratelimit.AccountLimiter(ratelimit.StaticLimits(requests_per_minute=2), static_period_s=0.4)
    started = time.monotonic()
    for _ in range(3):
        ticket = await limiter.acquire(10)
        limiter.observe(ticket, 200, {})  # no headers: a local server
    assert time.monotonic() - started >= 0.35
    tokens = ratelimit.AccountLimiter(ratelimit.StaticLimits(input_tokens_per_minute=100), static_period_s=0.4)
    for size in (60, 60):
        tokens.observe(await tokens.acquire(size), 200, {})
    assert tokens.waited == 1


async def test_program_limits_and_the_server_ceiling_reach_the_accounts_limiter() -> None:
    from llmproc import LLMProgram
    from llmproc.providers.registry import settings_for

    program = LLMProgram.from_dict({"model": {"name": "m", "provider": "openai_chat", "base_url": "http://x/v1"},
                                    "limits": {"requests_per_minute": 30, "input_tokens_per_minute": 5000}})
    found = ratelimit.static_limits(settings_for(program))
    assert found == ratelimit.StaticLimits(30, 5000)
    limiter = ratelimit.limiter_for("http://x key#0", found)
    ratelimit.set_loop_ceiling(ratelimit.StaticLimits(requests_per_minute=10))
    assert limiter.static == ratelimit.StaticLimits(10, 5000)
    assert ratelimit.limiter_for("http://y key#0").static == ratelimit.StaticLimits(10, None)


async def test_the_limiter_holds_requests_past_the_input_token_budget() -> None:
    window = 0.5
    big = ModelRequest(model="fake-model", system="Be brief.", messages=[Message.user("x" * 2400)])
    limits = RateLimits(requests_per_minute=1000, input_tokens_per_minute=2000, window_s=window)
    with FakeLLMServer(ok, rate_limits=limits) as fake:  # about 650 tokens a request: 3 a window
        provider = create_provider(settings(fake, "openai_chat"))
        started = time.monotonic()
        await asyncio.gather(*(provider.complete(big) for _ in range(9)))
        elapsed = time.monotonic() - started
        await provider.aclose()
        assert fake.rate_limited <= math.ceil(elapsed / window) + 1, (fake.rate_limited, elapsed)
        assert elapsed >= window * 0.8
