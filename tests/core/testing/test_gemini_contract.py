"""The fake's Gemini wire, checked with the real google-genai SDK."""

from __future__ import annotations

import httpx2
import pytest
from google import genai
from google.genai import errors, types
from llmproc.messages import Usage
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ToolUse

from .conftest import USAGE

M = "gemini-3-flash"
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Current weather",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)
CONFIG = types.GenerateContentConfig(
    tools=[types.Tool(function_declarations=[WEATHER])],
    automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
)


def test_text_reply(fake: FakeLLMServer, gemini: genai.Client) -> None:
    fake.add(Reply(text="Sunny."))
    response = gemini.models.generate_content(model=M, contents="Weather in Paris?")
    assert response.text == "Sunny." and response.candidates
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    (req,) = fake.requests
    assert req.path == f"/v1/models/{M}:generateContent" and req.model == M and req.endpoint == "gemini"
    assert req.headers["x-goog-api-key"] == "fake-key"
    assert req.body["contents"][0]["parts"][0]["text"] == "Weather in Paris?"


def test_function_call_round_trip(fake: FakeLLMServer, gemini: genai.Client) -> None:
    fake.add(Reply(tool_calls=[ToolUse("get_weather", {"city": "Paris"})]), Reply(text="Sunny, 22C."))
    first = gemini.models.generate_content(model=M, contents="Weather in Paris?", config=CONFIG)
    (call,) = first.function_calls or []
    assert call.name == "get_weather" and call.args == {"city": "Paris"}
    assert first.candidates and first.candidates[0].content
    history = [
        types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
        first.candidates[0].content,
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name="get_weather", response={"result": "22C sunny"})],
        ),
    ]
    assert gemini.models.generate_content(model=M, contents=history, config=CONFIG).text == "Sunny, 22C."
    sent = fake.requests[1].body["contents"]
    assert sent[1]["parts"][0]["functionCall"] == {"name": "get_weather", "args": {"city": "Paris"}}
    assert sent[2]["parts"][0]["functionResponse"]["response"] == {"result": "22C sunny"}
    assert fake.requests[1].body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"


def test_thought_part_with_signature(fake: FakeLLMServer, gemini: genai.Client) -> None:
    fake.add(Reply(thinking="Consider units.", signature="opaque-sig", text="22C"))
    response = gemini.models.generate_content(model=M, contents="q")
    assert response.candidates and response.candidates[0].content and response.candidates[0].content.parts
    thought, answer = response.candidates[0].content.parts
    assert thought.thought is True and thought.text == "Consider units."
    assert thought.thought_signature == b"opaque-sig"  # bytes on the SDK side, base64 on the wire
    assert answer.text == "22C" and response.text == "22C"


def test_usage_mapping(fake: FakeLLMServer, gemini: genai.Client) -> None:
    fake.add(Reply(text="x", usage=USAGE))
    usage = gemini.models.generate_content(model=M, contents="q").usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.cached_content_token_count) == (1110, 1000)
    assert (usage.candidates_token_count, usage.thoughts_token_count, usage.total_token_count) == (
        20,
        30,
        1160,
    )


def test_max_tokens_finish_reason(fake: FakeLLMServer, gemini: genai.Client) -> None:
    fake.add(Reply(text="cut", stop_reason="max_tokens"))
    response = gemini.models.generate_content(model=M, contents="q")
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS


def test_stream(fake: FakeLLMServer, gemini: genai.Client) -> None:
    text = "A streamed Gemini answer in several frames."
    fake.add(Reply(text=text, tool_calls=[ToolUse("get_weather", {"city": "Paris"})], usage=Usage(3, 12)))
    chunks = list(gemini.models.generate_content_stream(model=M, contents="q", config=CONFIG))
    assert len(chunks) > 2 and "".join(c.text or "" for c in chunks) == text
    last = chunks[-1]
    assert last.function_calls and last.function_calls[0].args == {"city": "Paris"}
    assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata is not None and last.usage_metadata.total_token_count == 15
    assert fake.requests[0].path.endswith(":streamGenerateContent") and fake.requests[0].query == {
        "alt": "sse"
    }


async def test_async_client(fake: FakeLLMServer, gemini: genai.Client) -> None:
    fake.add(Reply(text="async one"), Reply(text="async streamed"))
    assert (await gemini.aio.models.generate_content(model=M, contents="q")).text == "async one"
    pieces = [c.text async for c in await gemini.aio.models.generate_content_stream(model=M, contents="q")]
    assert "".join(p or "" for p in pieces) == "async streamed"


def test_http_error_shape(fake: FakeLLMServer, gemini: genai.Client) -> None:
    fake.add(HTTPError(429, "quota exhausted"))
    with pytest.raises(errors.ClientError) as info:
        gemini.models.generate_content(model=M, contents="q")
    assert (info.value.code, info.value.status, info.value.message) == (
        429,
        "RESOURCE_EXHAUSTED",
        "quota exhausted",
    )


def test_http_error_retried_when_opted_in(fake: FakeLLMServer) -> None:
    fake.add(HTTPError(503, "busy", headers={"retry-after": "0"}), Reply(text="ok"))
    retry = types.HttpRetryOptions(attempts=2, initial_delay=0.01, max_delay=0.05, http_status_codes=[503])
    client = genai.Client(
        api_key="k",
        http_options=types.HttpOptions(base_url=fake.gemini_base_url, timeout=10_000, retry_options=retry),
    )
    assert client.models.generate_content(model=M, contents="q").text == "ok"
    assert len(fake.requests) == 2


def test_in_stream_error(fake: FakeLLMServer, gemini: genai.Client) -> None:
    fake.add(Reply(text="partial answer that streams", stream_error="overloaded_error", cut_after=1))
    with pytest.raises(errors.ServerError) as info:
        list(gemini.models.generate_content_stream(model=M, contents="q"))
    assert (info.value.code, info.value.status) == (503, "UNAVAILABLE")


def test_stream_truncated_has_no_finish_reason(fake: FakeLLMServer, gemini: genai.Client) -> None:
    fake.add(Reply(text="partial answer that streams", stream_cut="truncate", cut_after=1))
    chunks = list(gemini.models.generate_content_stream(model=M, contents="q"))
    assert len(chunks) == 1 and chunks[0].candidates and chunks[0].candidates[0].finish_reason is None


def test_stream_disconnect_raises_transport_error(fake: FakeLLMServer, gemini: genai.Client) -> None:
    fake.add(Reply(text="partial answer that streams", stream_cut="disconnect", cut_after=1))
    with pytest.raises(httpx2.RemoteProtocolError):
        list(gemini.models.generate_content_stream(model=M, contents="q"))


def test_v1beta_and_count_tokens(fake: FakeLLMServer) -> None:
    client = genai.Client(
        api_key="k",
        http_options=types.HttpOptions(base_url=fake.gemini_base_url, api_version="v1beta", timeout=10_000),
    )
    fake.add(Reply(text="beta"))
    assert client.models.generate_content(model=M, contents="q").text == "beta"
    assert (client.models.count_tokens(model=M, contents="hello there").total_tokens or 0) > 0
    assert [r.path for r in fake.requests] == [
        f"/v1beta/models/{M}:generateContent",
        f"/v1beta/models/{M}:countTokens",
    ]
