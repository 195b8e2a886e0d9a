"""The fake's OpenAI Chat Completions wire, checked with the real openai SDK."""

from __future__ import annotations

import json

import openai
import pytest
from llmproc.messages import Usage
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ToolUse

from .conftest import USAGE

M = "gpt-5.5"
USER = [{"role": "user", "content": "Weather in Paris?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def test_text_reply(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(text="Sunny."))
    completion = gpt.chat.completions.create(model=M, messages=USER)
    choice = completion.choices[0]
    assert choice.message.content == "Sunny." and choice.finish_reason == "stop"
    assert completion.model == M and (completion._request_id or "").startswith("req_")
    assert (
        fake.requests[0].endpoint == "openai_chat"
        and fake.requests[0].headers["authorization"] == "Bearer sk-test"
    )


def test_tool_round_trip(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(
        Reply(
            tool_calls=[ToolUse("get_weather", {"city": "Paris"}), ToolUse("get_weather", {"city": "Nice"})]
        ),
        Reply(text="Both sunny."),
    )
    first = gpt.chat.completions.create(model=M, messages=USER, tools=TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "Paris"}, {"city": "Nice"}]
    assert len({c.id for c in calls}) == 2 and all(c.id.startswith("call_") for c in calls)
    history = [
        *USER,
        choice.message.model_dump(exclude_none=True),
        *[{"role": "tool", "tool_call_id": c.id, "content": "22C"} for c in calls],
    ]
    assert (
        gpt.chat.completions.create(model=M, messages=history, tools=TOOLS).choices[0].message.content
        == "Both sunny."
    )
    sent = fake.requests[1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert [m["tool_call_id"] for m in sent[2:]] == [c.id for c in calls]


def test_scripted_tool_id_is_kept(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(tool_calls=[ToolUse("get_weather", {}, id="call_mine")]))
    calls = gpt.chat.completions.create(model=M, messages=USER).choices[0].message.tool_calls or []
    assert calls[0].id == "call_mine"


def test_usage_maps_cache_into_prompt_tokens(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(text="x", usage=USAGE))
    usage = gpt.chat.completions.create(model=M, messages=USER).usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1110, 50, 1160)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 1000
    assert usage.prompt_tokens_details.cache_write_tokens == 100
    assert (
        usage.completion_tokens_details is not None and usage.completion_tokens_details.reasoning_tokens == 30
    )


def test_max_tokens_finish_reason(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(text="cut", stop_reason="max_tokens"))
    assert gpt.chat.completions.create(model=M, messages=USER).choices[0].finish_reason == "length"


def test_stream_helper_with_usage(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    text = "A streamed answer long enough for several chunks."
    fake.add(Reply(text=text, tool_calls=[ToolUse("get_weather", {"city": "Paris"})], usage=Usage(5, 9)))
    with gpt.chat.completions.stream(
        model=M, messages=USER, tools=TOOLS, stream_options={"include_usage": True}
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_completion()
    assert "content.delta" in kinds and "tool_calls.function.arguments.delta" in kinds
    message = final.choices[0].message
    assert message.content == text and final.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls and json.loads(message.tool_calls[0].function.arguments) == {"city": "Paris"}
    assert final.usage is not None and (final.usage.prompt_tokens, final.usage.completion_tokens) == (5, 9)


async def test_async_raw_stream_usage_chunk_last(fake: FakeLLMServer, async_gpt: openai.AsyncOpenAI) -> None:
    fake.add(Reply(text="hello"))
    stream = await async_gpt.chat.completions.create(
        model=M, messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello"


def test_stream_without_include_usage_has_no_usage(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(text="hello"))
    chunks = list(gpt.chat.completions.create(model=M, messages=USER, stream=True))
    assert all(c.usage is None for c in chunks) and chunks[-1].choices[0].finish_reason == "stop"


def test_http_error_retry_after_then_success(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(HTTPError(429, "slow down", headers={"retry-after": "0.05"}), Reply(text="ok"))
    completion = gpt.with_options(max_retries=1).chat.completions.create(model=M, messages=USER)
    assert completion.choices[0].message.content == "ok"
    assert [r.headers.get("x-stainless-retry-count") for r in fake.requests] == ["0", "1"]


def test_http_error_shape(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(HTTPError(401, "bad key"))
    with pytest.raises(openai.AuthenticationError) as info:
        gpt.chat.completions.create(model=M, messages=USER)
    assert info.value.status_code == 401 and info.value.type == "authentication_error"
    assert "bad key" in info.value.message and (info.value.request_id or "").startswith("req_")


def test_in_stream_error(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(text="partial", stream_error="server_error", cut_after=2))
    with pytest.raises(openai.APIError, match="scripted stream error"):
        list(gpt.chat.completions.create(model=M, messages=USER, stream=True))
    assert len(fake.requests) == 1


def test_stream_truncated_has_no_finish_reason(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(text="partial answer", stream_cut="truncate", cut_after=2))
    chunks = list(gpt.chat.completions.create(model=M, messages=USER, stream=True))
    assert len(chunks) == 2 and all(c.choices[0].finish_reason is None for c in chunks)


def test_stream_disconnect_raises_connection_error(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(text="partial answer", stream_cut="disconnect", cut_after=2))
    with pytest.raises(openai.APIConnectionError):
        list(gpt.chat.completions.create(model=M, messages=USER, stream=True))
