"""The fake's Anthropic Messages and Vertex wire, checked with the real anthropic SDK."""

from __future__ import annotations

import anthropic
import httpx2
import pytest
from llmproc.messages import Usage
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ToolUse

M = "claude-sonnet-5-5"
USER = [{"role": "user", "content": "Weather in Paris?"}]
TOOLS = [
    {
        "name": "get_weather",
        "description": "Current weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]


def test_text_reply_and_request_record(fake: FakeLLMServer, claude: anthropic.Anthropic) -> None:
    fake.add(Reply(text="Sunny, 22C."))
    msg = claude.messages.create(model=M, max_tokens=256, messages=USER, system="Be brief.")
    assert msg.content[0].type == "text" and msg.content[0].text == "Sunny, 22C."
    assert msg.stop_reason == "end_turn" and msg.model == M
    assert msg._request_id and msg._request_id.startswith("req_")
    (req,) = fake.requests
    assert (req.method, req.path, req.endpoint, req.model, req.stream) == (
        "POST",
        "/v1/messages",
        "anthropic",
        M,
        False,
    )
    assert req.headers["authorization"] == "Bearer sk-ant-test"
    assert req.body["system"] == "Be brief." and req.body["messages"] == USER


async def test_tool_round_trip_async(fake: FakeLLMServer, async_claude: anthropic.AsyncAnthropic) -> None:
    fake.add(Reply(tool_calls=[ToolUse("get_weather", {"city": "Paris"})]), Reply(text="Sunny."))
    first = await async_claude.messages.create(model=M, max_tokens=256, messages=USER, tools=TOOLS)
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.name == "get_weather" and call.input == {"city": "Paris"} and call.id.startswith("toolu_")
    history = [
        *USER,
        first.to_param(),
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "22C"}]},
    ]
    second = await async_claude.messages.create(model=M, max_tokens=256, messages=history, tools=TOOLS)
    assert second.content[0].text == "Sunny."
    sent = fake.requests[1].body["messages"]
    assert sent[1]["content"][0] == {
        "type": "tool_use",
        "id": call.id,
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    assert sent[2]["content"][0] == {"type": "tool_result", "tool_use_id": call.id, "content": "22C"}


def test_thinking_signature_round_trip(fake: FakeLLMServer, claude: anthropic.Anthropic) -> None:
    fake.add(
        Reply(thinking="Paris means Celsius.", signature="sig-123", tool_calls=[ToolUse("get_weather", {})]),
        Reply(text="done"),
    )
    first = claude.messages.create(
        model=M,
        max_tokens=4096,
        messages=USER,
        tools=TOOLS,
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    thinking = first.content[0]
    assert thinking.type == "thinking" and thinking.thinking == "Paris means Celsius."
    assert thinking.signature == "sig-123"
    tool_id = first.content[1].id
    history = [
        *USER,
        first.to_param(),
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}]},
    ]
    claude.messages.create(model=M, max_tokens=4096, messages=history, tools=TOOLS)
    replayed = fake.requests[1].body["messages"][1]["content"][0]
    assert replayed == {"type": "thinking", "thinking": "Paris means Celsius.", "signature": "sig-123"}


def test_generated_ids_and_signatures_are_unique(fake: FakeLLMServer, claude: anthropic.Anthropic) -> None:
    fake.add(*[Reply(thinking="t", tool_calls=[ToolUse("a"), ToolUse("b")]) for _ in range(2)])
    blocks = [
        b for _ in range(2) for b in claude.messages.create(model=M, max_tokens=99, messages=USER).content
    ]
    ids = [b.id for b in blocks if b.type == "tool_use"]
    sigs = [b.signature for b in blocks if b.type == "thinking"]
    assert len(set(ids)) == 4 and len(set(sigs)) == 2 and all(sigs)


def test_usage_and_cache_numbers(fake: FakeLLMServer, claude: anthropic.Anthropic) -> None:
    fake.add(
        Reply(
            text="x",
            thinking="t",
            usage=Usage(
                input_tokens=11,
                output_tokens=40,
                cache_write_tokens=300,
                cache_read_tokens=2000,
                reasoning_tokens=25,
            ),
        )
    )
    usage = claude.messages.create(model=M, max_tokens=99, messages=USER).usage
    assert (usage.input_tokens, usage.output_tokens) == (11, 40)
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (300, 2000)
    assert usage.output_tokens_details is not None and usage.output_tokens_details.thinking_tokens == 25


def test_max_tokens_stop_reason(fake: FakeLLMServer, claude: anthropic.Anthropic) -> None:
    fake.add(Reply(text="cut", stop_reason="max_tokens"))
    assert claude.messages.create(model=M, max_tokens=5, messages=USER).stop_reason == "max_tokens"


def test_stream_helper_final_message(fake: FakeLLMServer, claude: anthropic.Anthropic) -> None:
    text = "A long enough answer to span several text deltas."
    fake.add(
        Reply(
            text=text,
            thinking="hmm",
            tool_calls=[ToolUse("get_weather", {"city": "Paris"})],
            usage=Usage(input_tokens=7, output_tokens=30, cache_read_tokens=5),
        )
    )
    with claude.messages.stream(model=M, max_tokens=256, messages=USER, tools=TOOLS) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds.count("text") > 1 and "input_json" in kinds and "signature" in kinds
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[1].text == text and final.content[2].input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_input_tokens) == (
        7,
        30,
        5,
    )
    assert fake.requests[0].stream and fake.requests[0].body["stream"] is True


async def test_async_stream_text(fake: FakeLLMServer, async_claude: anthropic.AsyncAnthropic) -> None:
    fake.add(Reply(text="streamed answer, in pieces"))
    async with async_claude.messages.stream(model=M, max_tokens=64, messages=USER) as stream:
        pieces = [t async for t in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(pieces) == "streamed answer, in pieces" and len(pieces) == 2
    assert final.stop_reason == "end_turn"


def test_http_error_retry_after_then_success(fake: FakeLLMServer, claude: anthropic.Anthropic) -> None:
    fake.add(HTTPError(429, "slow down", headers={"retry-after": "0.05"}), Reply(text="ok"))
    msg = claude.with_options(max_retries=1).messages.create(model=M, max_tokens=9, messages=USER)
    assert msg.content[0].text == "ok"
    assert [r.headers.get("x-stainless-retry-count") for r in fake.requests] == ["0", "1"]


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
        (400, anthropic.BadRequestError, "invalid_request_error"),
    ],
)
def test_http_error_shape(
    fake: FakeLLMServer,
    claude: anthropic.Anthropic,
    status: int,
    error_class: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    fake.add(HTTPError(status, "scripted failure"))
    with pytest.raises(error_class) as info:
        claude.messages.create(model=M, max_tokens=9, messages=USER)
    assert info.value.status_code == status and info.value.type == error_type
    assert "scripted failure" in str(info.value) and (info.value.request_id or "").startswith("req_")


def test_in_stream_error(fake: FakeLLMServer, claude: anthropic.Anthropic) -> None:
    fake.add(Reply(text="partial answer", stream_error="overloaded_error", cut_after=3))
    stream = claude.messages.stream(model=M, max_tokens=64, messages=USER)
    with pytest.raises(anthropic.APIStatusError) as info, stream as events:
        events.get_final_message()
    assert info.value.type == "overloaded_error" and len(fake.requests) == 1


def test_stream_truncated_is_silent_without_stop_reason(
    fake: FakeLLMServer, claude: anthropic.Anthropic
) -> None:
    fake.add(Reply(text="partial answer", stream_cut="truncate", cut_after=4))
    with claude.messages.stream(model=M, max_tokens=64, messages=USER) as stream:
        final = stream.get_final_message()
    assert final.stop_reason is None and final.content[0].text == "partial answer"


def test_stream_disconnect_raises_transport_error(fake: FakeLLMServer, claude: anthropic.Anthropic) -> None:
    fake.add(Reply(text="partial answer", stream_cut="disconnect", cut_after=4))
    stream = claude.messages.stream(model=M, max_tokens=64, messages=USER)
    # anthropic < 2.17 lets httpx2's error through; 2.17 wraps it in APIConnectionError. llmproc
    # retries both (providers/retry.py), so either is the contract.
    with pytest.raises((httpx2.RemoteProtocolError, anthropic.APIConnectionError)), stream as events:
        events.get_final_message()


def test_count_tokens_takes_no_script_item(fake: FakeLLMServer, claude: anthropic.Anthropic) -> None:
    fake.add(Reply(text="still here"))
    count = claude.messages.count_tokens(model=M, messages=USER)
    assert count.input_tokens > 0 and len(fake.remaining) == 1


def test_vertex_raw_predict_and_stream(fake: FakeLLMServer, vertex: anthropic.AnthropicVertex) -> None:
    fake.add(Reply(text="from vertex"), Reply(text="streamed from vertex"))
    msg = vertex.messages.create(model=M, max_tokens=64, messages=USER)
    with vertex.messages.stream(model=M, max_tokens=64, messages=USER) as stream:
        final = stream.get_final_message()
    assert msg.content[0].text == "from vertex" and final.content[0].text == "streamed from vertex"
    plain, streamed = fake.requests
    assert plain.path == f"/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models/{M}:rawPredict"
    assert streamed.path.endswith(":streamRawPredict") and streamed.stream
    assert plain.endpoint == "vertex" and plain.model == M and "model" not in plain.body
    assert plain.headers["authorization"] == "Bearer ya29.fake" and "anthropic_version" in plain.body


def test_vertex_count_tokens(fake: FakeLLMServer, vertex: anthropic.AnthropicVertex) -> None:
    assert vertex.messages.count_tokens(model=M, messages=USER).input_tokens > 0
    assert fake.requests[0].path.endswith("/models/count-tokens:rawPredict")
