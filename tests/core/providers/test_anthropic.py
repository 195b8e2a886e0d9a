"""The "anthropic" provider: the real anthropic SDK (async client) against the fake HTTP server."""

from __future__ import annotations

from typing import Any

import pytest

from llmproc.errors import MissingCredentialsError, ProviderError
from llmproc.messages import Message, TextPart, ThinkingPart, ToolCall, ToolResult, Usage
from llmproc.providers import anthropic_messages
from llmproc.providers.registry import create_provider
from llmproc.providers.base import ProviderSettings, StreamEvent, TextDelta, ThinkingDelta, ToolCallDelta
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ToolUse

from .conftest import ASK, WEATHER, make_request, make_run


def provider(fake: FakeLLMServer, **kw: Any) -> anthropic_messages.AnthropicProvider:
    settings: dict[str, Any] = {"base_url": fake.anthropic_base_url, "api_key": "sk-ant-test",
                                "max_retries": 0, **kw}
    return anthropic_messages.create(ProviderSettings("anthropic", **settings))


request = make_request("claude-test")
run = make_run(provider)


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_conversation_with_thinking(fake: FakeLLMServer, stream: bool) -> None:
    fake.add(Reply(thinking="The user wants weather.", signature="sig-abc==",
                   tool_calls=[ToolUse("get_weather", {"city": "Paris"}, id="toolu_1"),
                               ToolUse("get_weather", {"city": "Rome"}, id="toolu_2")]),
             Reply(text="Sunny in both."))
    p = provider(fake)
    try:
        first = await p.complete(request([ASK], stream, thinking_budget=2048, max_tokens=8000))
        assert first.stop_reason == "tool_calls" and first.raw_stop_reason == "tool_use"
        assert first.message.parts == (
            ThinkingPart("The user wants weather.", signature="sig-abc==", provider="anthropic"),
            ToolCall("toolu_1", "get_weather", {"city": "Paris"}),
            ToolCall("toolu_2", "get_weather", {"city": "Rome"}),
        )
        assert first.request_id and first.model == "claude-test"
        results = Message("user", (ToolResult("toolu_1", "22C sunny", name="get_weather"),
                                   ToolResult("toolu_2", "no data", is_error=True)))
        second = await p.complete(request([ASK, first.message, results], stream, thinking_budget=2048,
                                          max_tokens=8000))
    finally:
        await p.aclose()
    assert second.message.parts == (TextPart("Sunny in both."),) and second.stop_reason == "end"

    body0, body1 = fake.requests[0].body, fake.requests[1].body
    assert body0["thinking"] == {"type": "enabled", "budget_tokens": 2048} and body0["max_tokens"] == 8000
    assert body0["system"] == [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    assert body0["tools"] == [{"name": "get_weather", "description": WEATHER.description,
                               "input_schema": dict(WEATHER.parameters)}]
    assert body1["messages"][1] == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "The user wants weather.", "signature": "sig-abc=="},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
    ]}
    assert body1["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "22C sunny"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "no data", "is_error": True,
         "cache_control": {"type": "ephemeral"}},
    ]}
    assert body0.get("stream", False) is stream
    assert fake.requests[0].headers["authorization"] == "Bearer sk-ant-test"


async def test_stream_deltas_reach_on_event(fake: FakeLLMServer) -> None:
    fake.add(Reply(thinking="Let me think about the weather.", text="It is sunny and warm in Paris today.",
                   tool_calls=[ToolUse("get_weather", {"city": "Paris"})]))
    events: list[StreamEvent] = []
    response = await run(fake, request([ASK], True), events)
    thinking = "".join(e.text for e in events if isinstance(e, ThinkingDelta))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert thinking == "Let me think about the weather."
    assert text == "It is sunny and warm in Paris today." == response.message.text
    assert [e for e in events if isinstance(e, ToolCallDelta)] == [ToolCallDelta("get_weather")]
    assert len([e for e in events if isinstance(e, TextDelta)]) > 1  # really streamed
    # Order: thinking, then text, then the tool call.
    kinds = [type(e) for e in events]
    assert kinds.index(TextDelta) > kinds.index(ThinkingDelta) and kinds[-1] is ToolCallDelta


async def test_non_streamed_call_sends_no_events(fake: FakeLLMServer) -> None:
    fake.add(Reply(text="ok"))
    events: list[StreamEvent] = []
    await run(fake, request([ASK], False), events)
    assert events == []


async def test_on_event_errors_propagate_unchanged(fake: FakeLLMServer) -> None:
    fake.add(Reply(text="hello there"))

    def boom(event: StreamEvent) -> None:
        raise KeyError("from the callback")

    p = provider(fake)
    try:
        with pytest.raises(KeyError):
            await p.complete(request([ASK], True), boom)
    finally:
        await p.aclose()


@pytest.mark.parametrize("stream", [False, True])
async def test_usage_mapping(fake: FakeLLMServer, stream: bool) -> None:
    usage = Usage(input_tokens=100, output_tokens=30, cache_write_tokens=10, cache_read_tokens=50,
                  reasoning_tokens=20)
    fake.add(Reply(text="ok", thinking="hmm", usage=usage))
    response = await run(fake, request([ASK], stream))
    assert response.usage == usage


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("scripted", "stop", "raw"), [
    ("max_tokens", "max_tokens", "max_tokens"),
    ("refusal", "refusal", "refusal"),
    ("end_turn", "end", "end_turn"),
    ("stop_sequence", "end", "stop_sequence"),
    ("pause_turn", "other", "pause_turn"),
])
async def test_stop_reasons(fake: FakeLLMServer, stream: bool, scripted: str, stop: str, raw: str) -> None:
    fake.add(Reply(text="partial", stop_reason=scripted))
    response = await run(fake, request([ASK], stream))
    assert (response.stop_reason, response.raw_stop_reason) == (stop, raw)


@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limit_is_retryable_provider_error(fake: FakeLLMServer, stream: bool) -> None:
    fake.add(HTTPError(429, "slow down", headers={"retry-after": "1"}))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], stream))
    err = info.value
    assert (err.status, err.retryable, err.provider) == (429, True, "anthropic")
    assert err.request_id and "slow down" in str(err) and len(fake.requests) == 1


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (401, False), (500, True), (529, True)])
async def test_http_errors_keep_status(fake: FakeLLMServer, status: int, retryable: bool) -> None:
    fake.add(HTTPError(status, "scripted"))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], False))
    assert (info.value.status, info.value.retryable) == (status, retryable)


async def test_the_sdk_never_retries_the_registry_does(fake: FakeLLMServer) -> None:
    fake.add(HTTPError(529, "overloaded", headers={"retry-after-ms": "10"}))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], False), max_retries=5)  # the bare adapter: one attempt
    assert info.value.retry_after_s == 0.01 and len(fake.requests) == 1
    fake.add(HTTPError(529, "overloaded", headers={"retry-after-ms": "10"}), Reply(text="second try"))
    p = create_provider(ProviderSettings("anthropic", base_url=fake.anthropic_base_url,
                                         api_key="sk-ant-test", max_retries=1))
    try:
        response = await p.complete(request([ASK], False))
    finally:
        await p.aclose()
    assert response.message.text == "second try" and len(fake.requests) == 3
    assert [r.headers.get("x-stainless-retry-count") for r in fake.requests[1:]] == ["0", "0"]


@pytest.mark.parametrize("fault", [
    {"stream_cut": "truncate", "cut_after": 4},  # clean EOF before message_delta
    {"stream_cut": "truncate", "cut_after": 0},  # nothing at all
    {"stream_cut": "disconnect", "cut_after": 4},  # connection dropped mid-body
    {"stream_error": "overloaded_error", "cut_after": 3},  # in-stream error event
])
async def test_stream_faults_become_provider_errors(fake: FakeLLMServer, fault: dict[str, Any]) -> None:
    fake.add(Reply(text="a fairly long answer that streams in several deltas", **fault))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], True))
    assert info.value.provider == "anthropic" and info.value.retryable


async def test_in_stream_error_names_its_type(fake: FakeLLMServer) -> None:
    fake.add(Reply(text="a fairly long answer", stream_error="invalid_request_error", cut_after=3))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], True))
    assert "invalid_request_error" in str(info.value) and not info.value.retryable


async def test_truncated_stream_says_so(fake: FakeLLMServer) -> None:
    fake.add(Reply(text="a fairly long answer that streams", stream_cut="truncate", cut_after=4))
    with pytest.raises(ProviderError, match="stream ended before the model finished"):
        await run(fake, request([ASK], True))


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(MissingCredentialsError) as info:
        anthropic_messages.create(ProviderSettings("anthropic"))
    assert info.value.env_var == "ANTHROPIC_API_KEY" and "ANTHROPIC_API_KEY" in str(info.value)


async def test_environment_credentials_and_base_url_work(fake: FakeLLMServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.anthropic_base_url)
    fake.add(Reply(text="from env"))
    response = await run(fake, request([ASK], False), api_key=None, base_url=None)
    assert response.message.text == "from env"
    assert fake.requests[0].headers["authorization"] == "Bearer sk-ant-from-env"


async def test_settings_base_url_overrides_environment(fake: FakeLLMServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    fake.add(Reply(text="reached the fake"))
    assert (await run(fake, request([ASK], False))).message.text == "reached the fake"


async def test_parameters_and_extra_travel_in_the_body(fake: FakeLLMServer) -> None:
    fake.add(Reply(text="ok"), Reply(text="ok"))
    await run(fake, request([ASK], False, temperature=0.2, top_p=0.9,
                            extra={"metadata": {"user_id": "u1"}, "top_k": 5}))
    body = fake.requests[0].body
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.2, 0.9, 5)
    assert body["metadata"] == {"user_id": "u1"} and body["max_tokens"] == 4096
    await run(fake, request([ASK], True, thinking_budget=5000))
    body = fake.requests[1].body
    assert body["max_tokens"] > 5000 and "temperature" not in body


async def test_max_tokens_not_above_thinking_budget_is_an_error(fake: FakeLLMServer) -> None:
    with pytest.raises(ProviderError, match="thinking_budget"):
        await run(fake, request([ASK], False, thinking_budget=2000, max_tokens=1500))
    assert fake.requests == []


async def test_no_cache_markers_when_caching_is_off(fake: FakeLLMServer) -> None:
    fake.add(Reply(text="ok"))
    await run(fake, request([ASK], False, cache=False))
    assert "cache_control" not in str(fake.requests[0].body)


async def test_redacted_thinking_round_trips(fake: FakeLLMServer) -> None:
    # The fake does not emit redacted blocks; check the outgoing shape for a stored one.
    fake.add(Reply(text="ok"))
    history = [ASK, Message("assistant", (ThinkingPart("", redacted="opaque==", provider="anthropic"),
                                          TextPart("Hi"))), Message.user("again")]
    await run(fake, request(history, False))
    assert fake.requests[0].body["messages"][1]["content"] == [
        {"type": "redacted_thinking", "data": "opaque=="}, {"type": "text", "text": "Hi"}]
