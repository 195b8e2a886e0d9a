"""The "openai" provider (Responses API): the real openai SDK against the fake HTTP server."""

from __future__ import annotations

import pytest

from llmproc.errors import MissingCredentialsError, ProviderError
from llmproc.messages import Message, TextPart, ThinkingPart, ToolCall, ToolResult, Usage
from llmproc.providers import openai_responses
from llmproc.providers.base import (
    ModelRequest, ProviderSettings, StreamEvent, TextDelta, ThinkingDelta, ToolCallDelta,
)
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ToolUse

from .conftest import ASK, WEATHER, make_request, make_run


def provider(fake: FakeLLMServer) -> openai_responses.OpenAIResponsesProvider:
    return openai_responses.create(ProviderSettings(
        "openai", base_url=fake.openai_base_url, api_key="sk-test", max_retries=0))


request = make_request("gpt-test")
run = make_run(provider)


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_conversation(fake: FakeLLMServer, stream: bool) -> None:
    fake.add(Reply(tool_calls=[ToolUse("get_weather", {"city": "Paris"}, id="call_1")]),
             Reply(text="Sunny, 22C."))
    events: list[StreamEvent] = []
    p = provider(fake)
    try:
        first = await p.complete(request([ASK], stream), events.append)
        assert first.stop_reason == "tool_calls"
        assert first.message.tool_calls == [ToolCall("call_1", "get_weather", {"city": "Paris"})]
        assert first.request_id
        history = [ASK, first.message, Message("user", (ToolResult("call_1", "22C sunny"),))]
        second = await p.complete(request(history, stream), events.append)
    finally:
        await p.aclose()
    assert second.message.text == "Sunny, 22C."
    assert second.stop_reason == "end" and second.raw_stop_reason == "completed"
    assert second.model == "gpt-test"

    body0, body1 = fake.requests[0].body, fake.requests[1].body
    assert body0["instructions"] == "Be brief."
    assert body0["tools"] == [{"type": "function", "name": "get_weather", "description": WEATHER.description,
                               "parameters": dict(WEATHER.parameters), "strict": False}]
    assert body0["input"] == [{"role": "user", "content": "Weather in Paris?"}]
    assert body1["input"][1:] == [
        {"type": "function_call", "call_id": "call_1", "name": "get_weather",
         "arguments": '{"city":"Paris"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "22C sunny"},
    ]
    assert "store" not in body0 and "reasoning" not in body0  # only with reasoning_effort
    assert body0.get("stream", False) is stream
    if stream:
        assert ToolCallDelta("get_weather") in events
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Sunny, 22C."
    else:
        assert events == []


@pytest.mark.parametrize("stream", [False, True])
async def test_reasoning_is_replayed_with_encrypted_content(fake: FakeLLMServer, stream: bool) -> None:
    fake.add(Reply(thinking="Need the weather tool.", signature="enc-1",
                   tool_calls=[ToolUse("get_weather", {"city": "Paris"}, id="call_1")]),
             Reply(text="Sunny."))
    events: list[StreamEvent] = []
    p = provider(fake)
    try:
        first = await p.complete(request([ASK], stream, reasoning_effort="high"), events.append)
        thinking = first.message.parts[0]
        assert isinstance(thinking, ThinkingPart)
        assert thinking.thinking == "Need the weather tool."
        assert (thinking.signature, thinking.provider) == ("enc-1", "openai")
        assert thinking.id and thinking.id.startswith("rs_")
        history = [ASK, first.message, Message("user", (ToolResult("call_1", "22C", is_error=True),))]
        await p.complete(request(history, stream, reasoning_effort="high"))
    finally:
        await p.aclose()
    body0, body1 = fake.requests[0].body, fake.requests[1].body
    assert body0["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body0["include"] == ["reasoning.encrypted_content"] and body0["store"] is False
    assert body1["input"][1] == {"type": "reasoning", "id": thinking.id, "encrypted_content": "enc-1",
                                 "summary": [{"type": "summary_text", "text": "Need the weather tool."}]}
    assert body1["input"][3] == {"type": "function_call_output", "call_id": "call_1", "output": "ERROR: 22C"}
    if stream:
        assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)) == "Need the weather tool."


def test_history_conversion_is_stable_and_drops_foreign_thinking() -> None:
    history = [
        ASK,
        Message("assistant", (ThinkingPart("hmm", signature="sig", provider="anthropic"),
                              TextPart("Let me see."),
                              ToolCall("call_9", "get_weather", {"_raw": "{city: Paris"}))),
        Message("user", (ToolResult("call_9", "bad arguments", is_error=True), TextPart("And Rome?"))),
    ]
    req = ModelRequest(model="m", system="s", messages=history,
                       extra={"verbosity_hint": 1, "prompt_cache_key": "k"})
    kwargs = openai_responses.build_kwargs(req)
    assert kwargs == openai_responses.build_kwargs(req)  # byte-stable prefix: nothing dynamic
    assert kwargs["input"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Let me see."},
        {"type": "function_call", "call_id": "call_9", "name": "get_weather", "arguments": "{city: Paris"},
        {"type": "function_call_output", "call_id": "call_9", "output": "ERROR: bad arguments"},
        {"role": "user", "content": "And Rome?"},
    ]
    # SDK parameters become keyword arguments, unknown keys go to the body untouched.
    assert kwargs["prompt_cache_key"] == "k" and kwargs["extra_body"] == {"verbosity_hint": 1}


@pytest.mark.parametrize("stream", [False, True])
async def test_usage_and_parameters(fake: FakeLLMServer, stream: bool) -> None:
    usage = Usage(input_tokens=100, cache_write_tokens=10, cache_read_tokens=50, output_tokens=30,
                  reasoning_tokens=20)
    fake.add(Reply(text="ok", usage=usage))
    response = await run(fake, request([ASK], stream, max_tokens=64, temperature=0.5, top_p=0.9,
                                       extra={"metadata": {"run": "x"}}))
    assert response.usage == usage
    body = fake.requests[0].body
    assert (body["max_output_tokens"], body["temperature"], body["top_p"]) == (64, 0.5, 0.9)
    assert body["metadata"] == {"run": "x"}
    # The wire reports total input (non-cached + cache write + cache read) as input_tokens.
    assert usage.total_input_tokens == 160


@pytest.mark.parametrize("stream", [False, True])
async def test_max_tokens_stop_reason(fake: FakeLLMServer, stream: bool) -> None:
    fake.add(Reply(text="Once upon", stop_reason="max_tokens"))
    response = await run(fake, request([ASK], stream))
    assert response.stop_reason == "max_tokens"
    assert response.raw_stop_reason == "incomplete:max_output_tokens"
    assert response.message.text == "Once upon"


@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limit_is_retryable_provider_error(fake: FakeLLMServer, stream: bool) -> None:
    fake.add(HTTPError(429, "slow down", headers={"retry-after": "1"}))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], stream))
    assert info.value.status == 429 and info.value.retryable and info.value.provider == "openai"
    assert info.value.request_id
    assert len(fake.requests) == 1  # max_retries=0 is passed to the SDK


async def test_bad_request_is_not_retryable(fake: FakeLLMServer) -> None:
    fake.add(HTTPError(400, "bad input"))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], False))
    assert info.value.status == 400 and not info.value.retryable and "bad input" in str(info.value)


@pytest.mark.parametrize(("fault", "retryable"), [
    ({"stream_cut": "truncate", "cut_after": 4}, True),
    ({"stream_cut": "disconnect", "cut_after": 4}, True),
    ({"stream_error": "server_error", "cut_after": 3}, True),
    ({"stream_error": "invalid_request_error", "cut_after": 3}, False),
])
async def test_stream_faults_become_provider_errors(fake: FakeLLMServer, fault: dict,
                                                     retryable: bool) -> None:
    fake.add(Reply(text="a fairly long answer that streams in several deltas", **fault))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], True))
    assert info.value.provider == "openai"
    assert info.value.retryable is retryable
    assert info.value.request_id  # taken from the stream's response headers


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(MissingCredentialsError) as info:
        openai_responses.create(ProviderSettings("openai"))
    assert info.value.env_var == "OPENAI_API_KEY" and "OPENAI_API_KEY" in str(info.value)
    # A base_url alone is not enough for the hosted Responses API.
    with pytest.raises(MissingCredentialsError):
        openai_responses.create(ProviderSettings("openai", base_url="http://127.0.0.1:1/v1"))


async def test_key_from_environment(fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_base_url)
    fake.add(Reply(text="hi"))
    p = openai_responses.create(ProviderSettings("openai", max_retries=0))
    try:
        assert (await p.complete(request([ASK], False))).message.text == "hi"
    finally:
        await p.aclose()
    assert fake.requests[0].headers["authorization"] == "Bearer sk-env"
