"""The "anthropic_vertex" provider: the real AsyncAnthropicVertex client against the fake server
(Vertex rawPredict / streamRawPredict paths, access-token auth, no google-auth needed)."""

from __future__ import annotations

from typing import Any

import pytest

from llmproc.errors import ProviderError
from llmproc.messages import Message, ThinkingPart, ToolCall, ToolResult, Usage
from llmproc.providers import anthropic_messages
from llmproc.providers.base import ProviderSettings, StreamEvent, TextDelta, ToolCallDelta
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ToolUse

from .conftest import ASK, make_request, make_run

OPTIONS = {"project_id": "my-proj", "region": "us-east5", "access_token": "ya29.fake"}
MODEL = "claude-test@20260101"


def provider(fake: FakeLLMServer, **kw: Any) -> anthropic_messages.AnthropicProvider:
    settings: dict[str, Any] = {"base_url": fake.vertex_base_url, "max_retries": 0, "options": OPTIONS, **kw}
    return anthropic_messages.create_vertex(ProviderSettings("anthropic_vertex", **settings))


request = make_request(MODEL)
run = make_run(provider)


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_conversation_with_thinking(fake: FakeLLMServer, stream: bool) -> None:
    fake.add(Reply(thinking="Need the weather.", signature="vertex-sig==",
                   tool_calls=[ToolUse("get_weather", {"city": "Paris"}, id="toolu_v1")]),
             Reply(text="Sunny."))
    events: list[StreamEvent] = []
    p = provider(fake)
    try:
        first = await p.complete(request([ASK], stream, thinking_budget=1024, max_tokens=4096), events.append)
        assert first.stop_reason == "tool_calls"
        assert first.message.parts == (
            ThinkingPart("Need the weather.", signature="vertex-sig==", provider="anthropic_vertex"),
            ToolCall("toolu_v1", "get_weather", {"city": "Paris"}),
        )
        results = Message("user", (ToolResult("toolu_v1", "22C", name="get_weather"),))
        second = await p.complete(request([ASK, first.message, results], stream), events.append)
    finally:
        await p.aclose()
    assert second.message.text == "Sunny." and second.stop_reason == "end"

    verb = "streamRawPredict" if stream else "rawPredict"
    path = f"/v1/projects/my-proj/locations/us-east5/publishers/anthropic/models/{MODEL}:{verb}"
    assert [r.path for r in fake.requests] == [path, path]
    assert fake.requests[0].headers["authorization"] == "Bearer ya29.fake"
    body0, body1 = fake.requests[0].body, fake.requests[1].body
    assert "model" not in body0 and body0["anthropic_version"]
    assert body0["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert body1["messages"][1]["content"][0] == {
        "type": "thinking", "thinking": "Need the weather.", "signature": "vertex-sig=="}
    assert body1["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_v1", "content": "22C", "cache_control": {"type": "ephemeral"}}]}
    if stream:
        assert ToolCallDelta("get_weather") in events
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Sunny."
    else:
        assert events == []


async def test_anthropic_thinking_is_replayed_on_vertex(fake: FakeLLMServer) -> None:
    # Signatures are valid across Claude platforms; other providers' reasoning is dropped.
    fake.add(Reply(text="ok"))
    history = [ASK, Message("assistant", (
        ThinkingPart("from anthropic", signature="s1", provider="anthropic"),
        ThinkingPart("from openai", signature="enc", provider="openai", id="rs_1"),
        ThinkingPart("from gemini", signature="g==", provider="gemini"),
        ToolCall("toolu_1", "get_weather", {"city": "Paris"}),
    )), Message("user", (ToolResult("toolu_1", "22C"),))]
    await run(fake, request(history, False))
    assert fake.requests[0].body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "from anthropic", "signature": "s1"},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ]


@pytest.mark.parametrize("stream", [False, True])
async def test_usage_mapping(fake: FakeLLMServer, stream: bool) -> None:
    usage = Usage(input_tokens=40, output_tokens=12, cache_write_tokens=7, cache_read_tokens=3)
    fake.add(Reply(text="ok", usage=usage))
    assert (await run(fake, request([ASK], stream))).usage == usage


@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limit_is_retryable_provider_error(fake: FakeLLMServer, stream: bool) -> None:
    fake.add(HTTPError(429, "quota"))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], stream))
    assert (info.value.status, info.value.retryable, info.value.provider) == (429, True, "anthropic_vertex")


@pytest.mark.parametrize("fault", [
    {"stream_cut": "truncate", "cut_after": 4},
    {"stream_cut": "disconnect", "cut_after": 4},
    {"stream_error": "overloaded_error", "cut_after": 3},
])
async def test_stream_faults_become_provider_errors(fake: FakeLLMServer, fault: dict[str, Any]) -> None:
    fake.add(Reply(text="a fairly long answer that streams in several deltas", **fault))
    with pytest.raises(ProviderError) as info:
        await run(fake, request([ASK], True))
    assert info.value.provider == "anthropic_vertex" and info.value.retryable


@pytest.mark.parametrize(("missing", "variable"), [("region", "CLOUD_ML_REGION"),
                                                   ("project_id", "ANTHROPIC_VERTEX_PROJECT_ID")])
def test_missing_project_or_region_names_the_variable(missing: str, variable: str) -> None:
    options = {k: v for k, v in OPTIONS.items() if k != missing}
    with pytest.raises(ProviderError, match=variable):
        anthropic_messages.create_vertex(ProviderSettings("anthropic_vertex", options=options))


async def test_project_and_region_from_environment(fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_VERTEX_PROJECT_ID", "env-proj")
    monkeypatch.setenv("CLOUD_ML_REGION", "europe-west1")
    monkeypatch.setenv("ANTHROPIC_VERTEX_BASE_URL", fake.vertex_base_url)
    fake.add(Reply(text="ok"))
    response = await run(fake, request([ASK], False), base_url=None, options={}, api_key="ya29.token")
    assert response.message.text == "ok"
    assert fake.requests[0].path.startswith("/v1/projects/env-proj/locations/europe-west1/")
    assert fake.requests[0].headers["authorization"] == "Bearer ya29.token"


async def test_settings_base_url_overrides_environment(fake: FakeLLMServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_VERTEX_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    fake.add(Reply(text="reached the fake"))
    assert (await run(fake, request([ASK], False))).message.text == "reached the fake"
