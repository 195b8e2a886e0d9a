"""Every fault kind on every adapter, through the real SDKs and the registry's retry layer:
what is retried, what is not, and the same actionable ProviderError everywhere."""

from __future__ import annotations

import time
from typing import Any

import pytest

from llmproc.errors import ProviderError
from llmproc.messages import Message
from llmproc.providers._hints import KEY_HINTS
from llmproc.providers.base import ModelRequest, ModelResponse, Provider, StreamEvent, TextDelta
from llmproc.providers.registry import create_provider
from llmproc.providers.retry import RetryingProvider
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ScriptItem
from llmproc.testing.adapters import ADAPTERS, fake_settings

MODEL = "m-test"
FAST = {"max_retries": 2, "retry_initial_delay_s": 0.001, "retry_max_delay_s": 0.002}
TEXT = "an answer long enough to stream in several deltas"


def cut_after(adapter: str) -> int:
    # Stream events before the fault, none of them output: Gemini's first chunk already has text.
    return 0 if adapter == "gemini" else 1


# name -> (the failed attempt, whether the request streams)
def faults(adapter: str) -> dict[str, tuple[ScriptItem, bool]]:
    cut = cut_after(adapter)
    return {
        "408": (HTTPError(408, "timeout"), False),
        "409": (HTTPError(409, "conflict"), False),
        "429": (HTTPError(429, "rate limited"), False),
        "500": (HTTPError(500, "internal"), False),
        "503": (HTTPError(503, "unavailable"), True),
        "529": (HTTPError(529, "overloaded", error_type="overloaded_error"), True),
        "429 retry-after 0.01s": (HTTPError(429, "slow down", headers={"retry-after": "0.01"}), False),
        "529 retry-after-ms 5": (HTTPError(529, "overloaded", headers={"retry-after-ms": "5"}), True),
        "in-stream error": (Reply(text=TEXT, stream_error="overloaded_error", cut_after=cut), True),
        "truncated stream": (Reply(text=TEXT, stream_cut="truncate", cut_after=cut), True),
        "dropped stream": (Reply(text=TEXT, stream_cut="disconnect", cut_after=cut), True),
        "dropped connection": (Reply(text=TEXT, stream_cut="disconnect"), False),
    }


def request(stream: bool) -> ModelRequest:
    return ModelRequest(model=MODEL, system="Be brief.", messages=[Message.user("hi")], stream=stream)


async def call(fake: FakeLLMServer, adapter: str, req: ModelRequest, events: list[StreamEvent] | None = None,
               **settings: Any) -> ModelResponse:
    provider: Provider = create_provider(fake_settings(fake, adapter, **{**FAST, **settings}))
    assert isinstance(provider, RetryingProvider)
    try:
        return await provider.complete(req, events.append if events is not None else None)
    finally:
        await provider.aclose()


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("kind", list(faults("anthropic")))
async def test_transient_faults_are_retried(fake_llm: FakeLLMServer, adapter: str, kind: str) -> None:
    fault, stream = faults(adapter)[kind]
    fake_llm.add(fault, Reply(text="recovered"))
    events: list[StreamEvent] = []
    response = await call(fake_llm, adapter, request(stream), events)
    assert response.message.text == "recovered"
    assert len(fake_llm.requests) == 2  # one failure, one retry
    if stream:  # nothing from the failed attempt reached the listener
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "recovered"


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_huge_retry_after_fails_fast(fake_llm: FakeLLMServer, adapter: str) -> None:
    fake_llm.add(HTTPError(429, "slow down", headers={"retry-after": "3600"}), Reply(text="never"))
    started = time.perf_counter()
    with pytest.raises(ProviderError) as info:
        await call(fake_llm, adapter, request(False))
    assert time.perf_counter() - started < 5 and len(fake_llm.requests) == 1
    assert "asked to wait 3600s" in str(info.value) and info.value.status == 429


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_stream_cut_after_output_is_not_retried(fake_llm: FakeLLMServer, adapter: str) -> None:
    after_text = {"anthropic": 5, "anthropic_vertex": 5, "openai": 6, "openai_chat": 3, "gemini": 2}[adapter]
    fake_llm.add(Reply(text=TEXT, stream_cut="disconnect", cut_after=after_text), Reply(text="never"))
    events: list[StreamEvent] = []
    with pytest.raises(ProviderError, match="already been shown"):
        await call(fake_llm, adapter, request(True), events)
    assert len(fake_llm.requests) == 1 and any(isinstance(e, TextDelta) for e in events)


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_should_retry_false_is_obeyed(fake_llm: FakeLLMServer, adapter: str) -> None:
    fake_llm.add(HTTPError(503, "down for good", headers={"x-should-retry": "false"}), Reply(text="never"))
    with pytest.raises(ProviderError) as info:
        await call(fake_llm, adapter, request(False))
    assert len(fake_llm.requests) == 1 and not info.value.retryable


# -- the same error, with advice, on every provider -------------------------------------------

CONTEXT_MESSAGES = {
    "anthropic": "prompt is too long: 210000 tokens > 200000 maximum",
    "anthropic_vertex": "prompt is too long: 210000 tokens > 200000 maximum",
    "openai": "Your input exceeds the context window of this model. Please adjust your input and try again.",
    "openai_chat": "This model's maximum context length is 128000 tokens. However, your messages resulted "
                   "in 130512 tokens. Please reduce the length of the messages.",
    "gemini": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
}


async def failure(fake: FakeLLMServer, adapter: str, *items: ScriptItem) -> ProviderError:
    fake.add(*items)
    with pytest.raises(ProviderError) as info:
        await call(fake, adapter, request(False))
    error = info.value
    assert error.provider == adapter
    if adapter != "gemini":  # the fake sends Gemini errors without a request id header
        assert error.request_id and error.request_id in str(error)
    return error


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_invalid_key_names_the_variable(fake_llm: FakeLLMServer, adapter: str) -> None:
    error = await failure(fake_llm, adapter, HTTPError(401, "invalid x-api-key"))
    assert (error.status, error.retryable, error.retries) == (401, False, 0)
    assert KEY_HINTS[adapter] in str(error) and len(fake_llm.requests) == 1


async def test_gemini_reports_a_bad_key_as_400(fake_llm: FakeLLMServer) -> None:
    error = await failure(fake_llm, "gemini", HTTPError(400, "API key not valid. Please pass a valid API key.",
                                                         error_type="INVALID_ARGUMENT"))
    assert "GEMINI_API_KEY" in str(error)


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_unknown_model_names_model_and_provider(fake_llm: FakeLLMServer, adapter: str) -> None:
    error = await failure(fake_llm, adapter, HTTPError(404, f"model: {MODEL}"))
    assert error.status == 404 and not error.retryable
    assert f"model {MODEL!r} was not found on {adapter}" in str(error)


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_context_too_long_points_to_fds_and_goto(fake_llm: FakeLLMServer, adapter: str) -> None:
    error = await failure(fake_llm, adapter, HTTPError(400, CONTEXT_MESSAGES[adapter]))
    assert error.status == 400 and not error.retryable and len(fake_llm.requests) == 1
    assert "file descriptors" in str(error) and "goto" in str(error)


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_rate_limit_gives_up_after_the_retries(fake_llm: FakeLLMServer, adapter: str) -> None:
    error = await failure(fake_llm, adapter, *[HTTPError(429, "rate limit exceeded")] * 3)
    assert (error.status, error.retryable, error.retries) == (429, True, 2) and len(fake_llm.requests) == 3
    assert f"rate limited by {adapter} (gave up after 2 retries)" in str(error)


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_overloaded_says_so(fake_llm: FakeLLMServer, adapter: str) -> None:
    status = 529 if adapter.startswith("anthropic") else 503
    error = await failure(fake_llm, adapter, *[HTTPError(status, "Overloaded")] * 3)
    assert error.status == status and error.retries == 2
    assert f"{adapter} is overloaded" in str(error) and "max_retries" in str(error)
