"""The "openai_chat" provider (Chat Completions, OpenAI-compatible servers): the real openai SDK
against the fake HTTP server."""

from __future__ import annotations

import pytest

from llmproc.errors import MissingCredentialsError, ProviderError
from llmproc.messages import Message, TextPart, ThinkingPart, ToolCall, ToolResult, Usage
from llmproc.providers import openai_chat
from llmproc.providers.base import ProviderSettings, StreamEvent, TextDelta, ThinkingDelta, ToolCallDelta
from llmproc.providers.openai_common import PLACEHOLDER_KEY, parse_arguments
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ToolUse

from .conftest import ASK, WEATHER, make_request, make_run


def provider(fake: FakeLLMServer, **kw: object) -> openai_chat.OpenAIChatProvider:
    settings = {"base_url": fake.openai_base_url, "api_key": "sk-test", "max_retries": 0, **kw}
    return openai_chat.create(ProviderSettings("openai_chat", **settings))  # type: ignore[arg-type]


request = make_request("llama-test")
run = make_run(provider)


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_conversation(fake: FakeLLMServer, stream: bool) -> None:
    fake.add(Reply(tool_calls=[ToolUse("get_weather", {"city": "Paris"}, id="call_1"),
                               ToolUse("get_weather", {"city": "Rome"}, id="call_2")]),
             Reply(text="Sunny in both."))
    events: list[StreamEvent] = []
    p = provider(fake)
    try:
        first = await p.complete(request([ASK], stream), events.append)
        assert first.stop_reason == "tool_calls" and first.raw_stop_reason == "tool_calls"
        assert first.message.tool_calls == [ToolCall("call_1", "get_weather", {"city": "Paris"}),
                                            ToolCall("call_2", "get_weather", {"city": "Rome"})]
        assert first.request_id
        results = Message("user", (ToolResult("call_1", "22C sunny"),
                                   ToolResult("call_2", "no data", is_error=True)))
        second = await p.complete(request([ASK, first.message, results], stream), events.append)
    finally:
        await p.aclose()
    assert second.message.text == "Sunny in both." and second.stop_reason == "end"

    body0, body1 = fake.requests[0].body, fake.requests[1].body
    assert body0["messages"] == [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "Weather in Paris?"}]
    assert body0["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": WEATHER.description, "parameters": dict(WEATHER.parameters)}}]

    def call(call_id: str, arguments: str) -> dict:
        function = {"name": "get_weather", "arguments": arguments}
        return {"id": call_id, "type": "function", "function": function}

    assert body1["messages"][2:] == [
        {"role": "assistant", "content": None,
         "tool_calls": [call("call_1", '{"city":"Paris"}'), call("call_2", '{"city":"Rome"}')]},
        {"role": "tool", "tool_call_id": "call_1", "content": "22C sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "ERROR: no data"},
    ]
    if stream:
        assert body0["stream"] is True and body0["stream_options"] == {"include_usage": True}
        assert [e for e in events if isinstance(e, ToolCallDelta)] == [ToolCallDelta("get_weather")] * 2
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Sunny in both."
    else:
        assert "stream" not in body0 and events == []


@pytest.mark.parametrize("stream", [False, True])
async def test_usage_mapping(fake: FakeLLMServer, stream: bool) -> None:
    usage = Usage(input_tokens=100, cache_write_tokens=10, cache_read_tokens=50, output_tokens=30,
                  reasoning_tokens=20)
    fake.add(Reply(text="ok", usage=usage))
    response = await run(fake, request([ASK], stream))
    assert response.usage == usage
    assert fake.requests[0].body.get("stream", False) is stream


async def test_stream_without_usage_gives_zero_usage(fake: FakeLLMServer) -> None:
    # A server that ignores stream_options (simulated by not asking) sends no usage chunk.
    fake.add(Reply(text="ok", usage=Usage(input_tokens=5, output_tokens=5)))
    response = await run(fake, request([ASK], True, extra={"stream_options": {"include_usage": False}}))
    assert response.message.text == "ok" and response.usage == Usage()


@pytest.mark.parametrize("stream", [False, True])
async def test_reasoning_effort_parameters_and_reasoning_content(fake: FakeLLMServer, stream: bool) -> None:
    fake.add(Reply(thinking="Think first.", text="Done."), Reply(text="Again."))
    events: list[StreamEvent] = []
    first = await run(fake, request([ASK], stream, reasoning_effort="low", max_tokens=99, temperature=0.1),
                      events)
    assert first.message.parts == (ThinkingPart("Think first.", provider="openai_chat"), TextPart("Done."))
    body = fake.requests[0].body
    assert body["reasoning_effort"] == "low" and body["max_completion_tokens"] == 99
    assert "max_tokens" not in body and body["temperature"] == 0.1
    if stream:
        assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)) == "Think first."
    # Thinking is never sent back; without reasoning_effort max_tokens is the parameter.
    await run(fake, request([ASK, first.message, Message.user("again")], stream, max_tokens=99))
    body = fake.requests[1].body
    assert body["messages"][2] == {"role": "assistant", "content": "Done."}
    assert body["max_tokens"] == 99 and "max_completion_tokens" not in body and "reasoning_effort" not in body


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("scripted", "stop", "raw"), [
    ("max_tokens", "max_tokens", "length"),
    ("content_filter", "refusal", "content_filter"),
    ("stop", "end", "stop"),
])
async def test_stop_reasons(fake: FakeLLMServer, stream: bool, scripted: str, stop: str, raw: str) -> None:
    fake.add(Reply(text="partial", stop_reason=scripted))
    response = await run(fake, request([ASK], stream))
    assert (response.stop_reason, response.raw_stop_reason) == (stop, raw)


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_with_stop_finish_reason_still_count(fake: FakeLLMServer, stream: bool) -> None:
    # Some compatible servers report finish_reason "stop" together with tool calls.
    fake.add(Reply(tool_calls=[ToolUse("get_weather", {"city": "Oslo"})], stop_reason="stop"))
    response = await run(fake, request([ASK], stream))
    assert response.stop_reason == "tool_calls" and response.raw_stop_reason == "stop"


@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limit_is_retryable_provider_error(fake: FakeLLMServer, stream: bool) -> None:
    fake.add(HTTPError(429, "slow down", headers={"retry-after": "1"}))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], stream))
    assert info.value.status == 429 and info.value.retryable and info.value.provider == "openai_chat"
    assert info.value.request_id and len(fake.requests) == 1


@pytest.mark.parametrize(("fault", "retryable"), [
    ({"stream_cut": "truncate", "cut_after": 3}, True),
    ({"stream_cut": "disconnect", "cut_after": 3}, True),
    ({"stream_error": "server_error", "cut_after": 2}, True),
    ({"stream_error": "invalid_request_error", "cut_after": 2}, False),
])
async def test_stream_faults_become_provider_errors(fake: FakeLLMServer, fault: dict,
                                                     retryable: bool) -> None:
    fake.add(Reply(text="a fairly long answer that streams in several deltas", **fault))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], True))
    assert info.value.provider == "openai_chat"
    assert info.value.retryable is retryable
    assert info.value.request_id  # taken from the stream's response headers


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(MissingCredentialsError) as info:
        openai_chat.create(ProviderSettings("openai_chat"))
    assert info.value.env_var == "OPENAI_API_KEY"


async def test_local_server_needs_no_key(fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.add(Reply(text="from settings"), Reply(text="from env"))
    assert (await run(fake, request([ASK], False), api_key=None)).message.text == "from settings"
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_base_url)
    assert (await run(fake, request([ASK], False), api_key=None, base_url=None)).message.text == "from env"
    assert fake.requests[0].headers["authorization"] == f"Bearer {PLACEHOLDER_KEY}"


async def test_settings_base_url_overrides_environment(fake: FakeLLMServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    fake.add(Reply(text="reached the fake"))
    assert (await run(fake, request([ASK], False))).message.text == "reached the fake"


def test_invalid_arguments_are_kept_raw() -> None:
    assert parse_arguments('{"city": "Paris"}') == {"city": "Paris"}
    assert parse_arguments("") == {}
    assert parse_arguments("{city: Paris") == {"_raw": "{city: Paris"}
    assert parse_arguments("[1, 2]") == {"_raw": "[1, 2]"}
    history = [ASK, Message("assistant", (ToolCall("c1", "get_weather", {"_raw": "{city: Paris"}),)),
               Message("user", (ToolResult("c1", "invalid JSON arguments", is_error=True),))]
    messages = openai_chat.build_kwargs(request(history, False))["messages"]
    assert messages[2]["tool_calls"][0]["function"]["arguments"] == "{city: Paris"
    assert messages[3] == {"role": "tool", "tool_call_id": "c1", "content": "ERROR: invalid JSON arguments"}
