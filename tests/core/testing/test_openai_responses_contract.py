"""The fake's OpenAI Responses wire, checked with the real openai SDK."""

from __future__ import annotations

import json

import openai
import pytest
from llmproc.messages import Usage
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ToolUse

from .conftest import USAGE

M = "gpt-5.5"
TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    }
]


def test_text_reply(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(text="Sunny."))
    response = gpt.responses.create(model=M, input="Weather in Paris?")
    assert response.output_text == "Sunny." and response.status == "completed"
    assert (
        fake.requests[0].endpoint == "openai_responses"
        and fake.requests[0].body["input"] == "Weather in Paris?"
    )


def test_tool_round_trip_with_reasoning(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(
        Reply(
            thinking="Need the weather tool.",
            signature="enc-blob",
            tool_calls=[ToolUse("get_weather", {"city": "Paris"})],
        ),
        Reply(text="Sunny, 22C."),
    )
    first = gpt.responses.create(
        model=M,
        input="Weather in Paris?",
        tools=TOOLS,
        store=False,
        reasoning={"effort": "high", "summary": "auto"},
        include=["reasoning.encrypted_content"],
    )
    reasoning, call = first.output
    assert reasoning.type == "reasoning" and reasoning.encrypted_content == "enc-blob"
    assert reasoning.summary[0].text == "Need the weather tool."
    assert call.type == "function_call" and json.loads(call.arguments) == {"city": "Paris"}
    follow = [
        {"role": "user", "content": "Weather in Paris?"},
        *[o.model_dump(exclude_none=True) for o in first.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": "22C sunny"},
    ]
    assert gpt.responses.create(model=M, input=follow, tools=TOOLS).output_text == "Sunny, 22C."
    sent = fake.requests[1].body["input"]
    assert sent[1]["type"] == "reasoning" and sent[1]["encrypted_content"] == "enc-blob"
    assert sent[3] == {"type": "function_call_output", "call_id": call.call_id, "output": "22C sunny"}


def test_encrypted_content_only_when_included(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(thinking="t", text="x"))
    reasoning = gpt.responses.create(model=M, input="q").output[0]
    assert reasoning.type == "reasoning" and reasoning.encrypted_content is None


def test_usage_and_cache_numbers(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(text="x", usage=USAGE))
    usage = gpt.responses.create(model=M, input="q").usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (1110, 50, 1160)
    assert usage.input_tokens_details.cached_tokens == 1000
    assert usage.input_tokens_details.cache_write_tokens == 100
    assert usage.output_tokens_details.reasoning_tokens == 30


def test_max_tokens_is_incomplete(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(text="cut", stop_reason="max_tokens"))
    response = gpt.responses.create(model=M, input="q")
    assert response.status == "incomplete"
    assert (
        response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    )


def test_stream_helper_final_response(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    text = "A streamed answer long enough for several deltas."
    fake.add(
        Reply(
            text=text,
            thinking="think first",
            tool_calls=[ToolUse("get_weather", {"city": "Paris"})],
            usage=Usage(4, 8),
        )
    )
    with gpt.responses.stream(
        model=M, input="q", tools=TOOLS, include=["reasoning.encrypted_content"]
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert (
        "response.reasoning_summary_text.delta" in kinds and "response.function_call_arguments.delta" in kinds
    )
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert final.output_text == text and [o.type for o in final.output] == [
        "reasoning",
        "message",
        "function_call",
    ]
    assert final.usage is not None and (final.usage.input_tokens, final.usage.output_tokens) == (4, 8)


async def test_async_stream(fake: FakeLLMServer, async_gpt: openai.AsyncOpenAI) -> None:
    fake.add(Reply(text="async hello"))
    async with async_gpt.responses.stream(model=M, input="q") as stream:
        deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert "".join(deltas) == "async hello" == final.output_text


def test_http_error_retry_after_then_success(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(HTTPError(503, "busy", headers={"retry-after": "0.05"}), Reply(text="ok"))
    assert gpt.with_options(max_retries=1).responses.create(model=M, input="q").output_text == "ok"
    assert len(fake.requests) == 2


def test_in_stream_error_is_yielded_then_helper_fails(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(text="partial", stream_error="server_error", cut_after=3))
    with gpt.responses.stream(model=M, input="q") as stream:
        events = list(stream)
        assert events[-1].type == "error" and events[-1].code == "server_error"
        assert events[-1].sequence_number == 3
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            stream.get_final_response()


def test_stream_truncated_fails_in_helper(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(text="partial", stream_cut="truncate", cut_after=4))
    with (
        pytest.raises(RuntimeError, match=r"response\.completed"),
        gpt.responses.stream(model=M, input="q") as s,
    ):
        s.get_final_response()


def test_stream_disconnect_raises_connection_error(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    fake.add(Reply(text="partial", stream_cut="disconnect", cut_after=4))
    with pytest.raises(openai.APIConnectionError), gpt.responses.stream(model=M, input="q") as stream:
        stream.get_final_response()


def test_input_tokens_count(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    assert gpt.responses.input_tokens.count(model=M, input="hello there").input_tokens > 0
    assert fake.remaining == [] and fake.requests[0].path == "/v1/responses/input_tokens"


NAMESPACE_TOOLS = [
    {
        "type": "namespace",
        "name": "mcp__llmproc",
        "description": "Tools of the llmproc MCP server",
        "tools": [{"type": "function", "name": "ps", "parameters": {"type": "object", "properties": {}}}],
    }
]


def test_namespaced_function_call(fake: FakeLLMServer, gpt: openai.OpenAI) -> None:
    """A call to a function of a `namespace` tool (as Codex offers MCP tools) carries the namespace
    in the JSON reply, the stream's output items and its final response; without one, none."""
    call = ToolUse("ps", {}, namespace="mcp__llmproc")
    fake.add(Reply(tool_calls=[call]), Reply(tool_calls=[call]), Reply(tool_calls=[ToolUse("ps")]))
    item = gpt.responses.create(model=M, input="q", tools=NAMESPACE_TOOLS).output[0]
    assert item.type == "function_call" and (item.namespace, item.name) == ("mcp__llmproc", "ps")
    with gpt.responses.stream(model=M, input="q", tools=NAMESPACE_TOOLS) as stream:
        kinds = ("response.output_item.added", "response.output_item.done")
        items = [e.item for e in stream if e.type in kinds]
        final = stream.get_final_response()
    assert [(i.type, getattr(i, "namespace", None)) for i in [*items, *final.output]] == [
        ("function_call", "mcp__llmproc")
    ] * 3
    raw = gpt.responses.with_raw_response.create(model=M, input="q", tools=TOOLS).http_response.json()
    assert raw["output"][0]["type"] == "function_call" and "namespace" not in raw["output"][0]
