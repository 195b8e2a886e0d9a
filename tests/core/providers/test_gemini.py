"""The "gemini" provider: the real google-genai async client against the fake HTTP server."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from llmproc.errors import MissingCredentialsError, ProviderError
from llmproc.messages import Message, TextPart, ThinkingPart, ToolCall, ToolResult, Usage
from llmproc.providers import gemini
from llmproc.providers.base import (
    ProviderSettings, StreamEvent, TextDelta, ThinkingDelta, ToolCallDelta,
)
from llmproc.providers.gemini_convert import LOCAL_ID_PREFIX, SIGNATURE_CARRIER
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ToolUse

from .conftest import ASK, WEATHER, make_request, make_run

SIG = base64.urlsafe_b64encode(b"gemini thought signature").decode()


def provider(fake: FakeLLMServer, **kw: Any) -> gemini.GeminiProvider:
    settings: dict[str, Any] = {"base_url": fake.gemini_base_url, "api_key": "gm-test", "max_retries": 0, **kw}
    return gemini.create(ProviderSettings("gemini", **settings))


request = make_request("gemini-test")
run = make_run(provider)


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_conversation_with_thinking(fake: FakeLLMServer, stream: bool) -> None:
    fake.add(Reply(thinking="Weather lookup needed.", signature=SIG,
                   tool_calls=[ToolUse("get_weather", {"city": "Paris"}),
                               ToolUse("get_weather", {"city": "Rome"}, id="fc-2")]),
             Reply(text="Sunny in both."))
    p = provider(fake)
    try:
        first = await p.complete(request([ASK], stream, thinking_budget=512, max_tokens=900))
        assert first.stop_reason == "tool_calls" and first.raw_stop_reason == "STOP"
        thought, call1, call2 = first.message.parts
        assert thought == ThinkingPart("Weather lookup needed.", signature=SIG, provider="gemini")
        assert isinstance(call1, ToolCall) and call1.id.startswith(LOCAL_ID_PREFIX)
        assert (call1.name, call1.arguments) == ("get_weather", {"city": "Paris"})
        assert call2 == ToolCall("fc-2", "get_weather", {"city": "Rome"})
        assert first.request_id
        # The first result names its tool; the second relies on the call's id to find it.
        results = Message("user", (ToolResult(call1.id, "22C sunny", name="get_weather"),
                                   ToolResult("fc-2", "no data", is_error=True)))
        second = await p.complete(request([ASK, first.message, results], stream))
    finally:
        await p.aclose()
    assert second.message.parts == (TextPart("Sunny in both."),) and second.stop_reason == "end"

    body0, body1 = fake.requests[0].body, fake.requests[1].body
    assert body0["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    # The SDK copies nested config objects with their Python field names (the API takes both).
    assert body0["generationConfig"]["thinkingConfig"] in (
        {"thinkingBudget": 512, "includeThoughts": True}, {"thinking_budget": 512, "include_thoughts": True})
    assert body0["generationConfig"]["maxOutputTokens"] == 900
    declaration = body0["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "get_weather" and declaration["description"] == WEATHER.description
    assert body1["contents"][1] == {"role": "model", "parts": [
        {"text": "Weather lookup needed.", "thought": True, "thoughtSignature": SIG},
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},  # local id not sent
        {"functionCall": {"id": "fc-2", "name": "get_weather", "args": {"city": "Rome"}}},
    ]}
    assert body1["contents"][2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"output": "22C sunny"}}},
        {"functionResponse": {"id": "fc-2", "name": "get_weather", "response": {"error": "no data"}}},
    ]}
    expected_path = ":streamGenerateContent" if stream else ":generateContent"
    assert fake.requests[0].path.endswith("/models/gemini-test" + expected_path)
    assert fake.requests[0].headers["x-goog-api-key"] == "gm-test"


async def test_stream_deltas_reach_on_event(fake: FakeLLMServer) -> None:
    fake.add(Reply(thinking="Considering the forecast.", text="It is sunny and warm in Paris today.",
                   tool_calls=[ToolUse("get_weather", {"city": "Paris"})]))
    events: list[StreamEvent] = []
    response = await run(fake, request([ASK], True), events)
    assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)) == "Considering the forecast."
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "It is sunny and warm in Paris today." == response.message.text
    assert len([e for e in events if isinstance(e, TextDelta)]) > 1
    assert [e for e in events if isinstance(e, ToolCallDelta)] == [ToolCallDelta("get_weather")]
    # Streamed pieces are merged back into whole parts.
    assert [type(p) for p in response.message.parts] == [ThinkingPart, TextPart, ToolCall]


@pytest.mark.parametrize("stream", [False, True])
async def test_usage_mapping(fake: FakeLLMServer, stream: bool) -> None:
    # Gemini has no cache writes; cached tokens are reported inside the prompt count.
    usage = Usage(input_tokens=100, output_tokens=30, cache_read_tokens=50, reasoning_tokens=20)
    fake.add(Reply(text="ok", thinking="hmm", usage=usage))
    assert (await run(fake, request([ASK], stream))).usage == usage


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("scripted", "stop"), [
    ("MAX_TOKENS", "max_tokens"), ("SAFETY", "refusal"), ("STOP", "end"), ("MALFORMED_FUNCTION_CALL", "other"),
])
async def test_stop_reasons(fake: FakeLLMServer, stream: bool, scripted: str, stop: str) -> None:
    fake.add(Reply(text="partial", stop_reason=scripted))
    response = await run(fake, request([ASK], stream))
    assert (response.stop_reason, response.raw_stop_reason) == (stop, scripted)


@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limit_is_retryable_provider_error(fake: FakeLLMServer, stream: bool) -> None:
    fake.add(HTTPError(429, "quota exceeded"))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], stream))
    err = info.value
    assert (err.status, err.retryable, err.provider) == (429, True, "gemini")
    assert "quota exceeded" in str(err) and len(fake.requests) == 1


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (403, False), (503, True)])
async def test_http_errors_keep_status(fake: FakeLLMServer, status: int, retryable: bool) -> None:
    fake.add(HTTPError(status, "scripted"))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], False))
    assert (info.value.status, info.value.retryable) == (status, retryable)


@pytest.mark.parametrize("fault", [
    {"stream_cut": "truncate", "cut_after": 2},  # clean EOF before the chunk with finishReason
    {"stream_cut": "disconnect", "cut_after": 2},
    {"stream_error": "UNAVAILABLE", "cut_after": 1},
])
async def test_stream_faults_become_provider_errors(fake: FakeLLMServer, fault: dict[str, Any]) -> None:
    fake.add(Reply(text="a fairly long answer that streams in several deltas", **fault))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], True))
    assert info.value.provider == "gemini" and info.value.retryable


async def test_truncated_stream_says_so(fake: FakeLLMServer) -> None:
    fake.add(Reply(text="a fairly long answer that streams", stream_cut="truncate", cut_after=1))
    with pytest.raises(ProviderError, match="stream ended before the model finished"):
        await run(fake, request([ASK], True))


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(MissingCredentialsError) as info:
        gemini.create(ProviderSettings("gemini"))
    assert info.value.env_var == "GEMINI_API_KEY"


@pytest.mark.parametrize("variable", ["GEMINI_API_KEY", "GOOGLE_API_KEY"])
async def test_environment_key_works(fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "gm-from-env")
    fake.add(Reply(text="ok"))
    assert (await run(fake, request([ASK], False), api_key=None)).message.text == "ok"
    assert fake.requests[0].headers["x-goog-api-key"] == "gm-from-env"


async def test_settings_base_url_overrides_environment(fake: FakeLLMServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    fake.add(Reply(text="reached the fake"))
    assert (await run(fake, request([ASK], False))).message.text == "reached the fake"


async def test_environment_base_url_works(fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.gemini_base_url)
    fake.add(Reply(text="via env"))
    assert (await run(fake, request([ASK], False), base_url=None)).message.text == "via env"


async def test_parameters_and_extra_go_into_the_config(fake: FakeLLMServer) -> None:
    fake.add(Reply(text="ok"))
    await run(fake, request([ASK], False, temperature=0.3, top_p=0.8, extra={"stop_sequences": ["END"]}))
    config = fake.requests[0].body["generationConfig"]
    assert (config["temperature"], config["topP"], config["stopSequences"]) == (0.3, 0.8, ["END"])


async def test_signature_carrier_is_reattached_and_foreign_thinking_dropped(fake: FakeLLMServer) -> None:
    history = [ASK, Message("assistant", (
        ThinkingPart("claude thoughts", signature="s1", provider="anthropic"),
        ThinkingPart("", signature=SIG, provider="gemini", id=SIGNATURE_CARRIER),
        ToolCall(f"{LOCAL_ID_PREFIX}x", "get_weather", {"city": "Oslo"}),
    )), Message("user", (ToolResult(f"{LOCAL_ID_PREFIX}x", "cold"),))]
    fake.add(Reply(text="Cold."))
    await run(fake, request(history, False))
    contents = fake.requests[0].body["contents"]
    assert contents[1]["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": SIG}]
    assert contents[2]["parts"] == [{"functionResponse": {"name": "get_weather", "response": {"output": "cold"}}}]


def test_signatures_on_other_parts_become_carriers() -> None:
    from google.genai import types

    from llmproc.providers.gemini_convert import PartsAccumulator, contents_param

    raw = b"\xfa\xfbsig"  # bytes whose base64 differs between the standard and URL-safe alphabets
    acc = PartsAccumulator()
    for part in (types.Part(text="Hel"), types.Part(text="lo"),
                 types.Part(function_call=types.FunctionCall(name="get_weather", args={"city": "Oslo"}),
                            thought_signature=raw),
                 types.Part(text="", thought_signature=b"end")):
        acc.add(part)
    parts = acc.parts()
    carrier = ThinkingPart("", signature=base64.urlsafe_b64encode(raw).decode(), provider="gemini",
                           id=SIGNATURE_CARRIER)
    end = ThinkingPart("", signature=base64.urlsafe_b64encode(b"end").decode(), provider="gemini",
                       id=SIGNATURE_CARRIER)
    assert parts[0] == TextPart("Hello") and parts[1] == carrier and parts[3] == end
    assert isinstance(parts[2], ToolCall) and parts[2].arguments == {"city": "Oslo"}
    # Back to the wire: each signature on the part it came with.
    wire = contents_param([Message("assistant", parts)])[0]["parts"]
    assert wire[0] == {"text": "Hello"}
    assert wire[1]["thought_signature"] == raw and wire[1]["function_call"]["name"] == "get_weather"
    assert wire[2] == {"text": "", "thought_signature": b"end"}


def test_missing_sdk_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from llmproc.errors import ProviderNotInstalled

    monkeypatch.setitem(sys.modules, "google.genai", None)  # makes `from google import genai` fail
    with pytest.raises(ProviderNotInstalled, match=r"llmproc\[gemini\]"):
        gemini.create(ProviderSettings("gemini", api_key="k"))


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
