"""Every provider completes a multi-turn tool conversation through the engine and the real SDK
against the fake provider server, streamed and not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmproc import LLMProgram
from llmproc.messages import Usage
from llmproc.process.events import TextDelta
from llmproc.providers.anthropic_messages import create_vertex
from llmproc.providers.base import ProviderSettings
from llmproc.testing import FakeLLMServer, Reply, ToolUse

MODELS = {
    "anthropic": "claude-sonnet-5-5",
    "anthropic_vertex": "claude-sonnet-5-5",
    "openai": "gpt-5",
    "openai_chat": "llama3.2",
    "gemini": "gemini-2.5-flash",
}


def base_url(fake: FakeLLMServer, provider: str) -> str:
    return {"anthropic": fake.anthropic_base_url, "anthropic_vertex": fake.vertex_base_url,
            "openai": fake.openai_base_url, "openai_chat": fake.openai_base_url,
            "gemini": fake.gemini_base_url}[provider]


def tool_result_in(body: dict[str, Any], provider: str) -> str:
    """Find the calculator's result in the provider's own request shape."""
    text = json.dumps(body)
    if provider in ("anthropic", "anthropic_vertex"):
        block = body["messages"][-1]["content"][0]
        assert block["type"] == "tool_result"
        return block["content"] if isinstance(block["content"], str) else block["content"][0]["text"]
    if provider == "openai":
        item = next(i for i in body["input"] if i.get("type") == "function_call_output")
        return item["output"]
    if provider == "openai_chat":
        message = next(m for m in body["messages"] if m["role"] == "tool")
        return message["content"]
    assert "functionResponse" in text or "function_response" in text
    contents = body["contents"][-1]["parts"][0]
    response = contents.get("functionResponse") or contents.get("function_response")
    return json.dumps(response["response"])


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("provider", list(MODELS))
async def test_tool_conversation(provider: str, stream: bool, fake_llm: FakeLLMServer, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setenv(var, "test-key")
    model: dict[str, Any] = {"name": MODELS[provider], "provider": provider}
    if provider != "anthropic_vertex":
        model["base_url"] = base_url(fake_llm, provider)
    program = LLMProgram.from_dict({"model": model, "prompt": {"system_prompt": "Use tools."},
                                    "tools": {"enabled": ["calculator"]}}, base_dir=tmp_path)
    client = None
    if provider == "anthropic_vertex":
        client = create_vertex(ProviderSettings("anthropic_vertex", base_url=fake_llm.vertex_base_url, options={
            "project_id": "p", "region": "us-east5", "access_token": "ya29.test"}))
    fake_llm.add(Reply(tool_calls=[ToolUse("calculator", {"expression": "6*7"})], usage=Usage(50, 10)),
                 Reply(text="It is 42.", usage=Usage(70, 5, cache_read_tokens=40)))
    process = await program.start(provider=client, cwd=tmp_path)
    deltas: list[str] = []
    process.subscribe(lambda e: deltas.append(e.text) if isinstance(e, TextDelta) else None)
    try:
        result = await process.run("What is 6*7?", stream=stream)
        fake_llm.add(Reply(text="Still 42."))
        second = await process.run("And now?", stream=stream)
    finally:
        await process.aclose()
    assert result.answer == "It is 42."
    assert result.turns == 2
    assert [(c.name, c.content) for c in result.tool_calls] == [("calculator", "42")]
    assert result.usage.output_tokens == 15
    assert result.usage.cache_read_tokens == 40
    assert len(fake_llm.requests) == 3
    assert all(r.stream is stream for r in fake_llm.requests)
    assert "42" in tool_result_in(fake_llm.requests[1].body, provider)
    if stream:
        assert "".join(deltas) == "It is 42.Still 42."
    # The second run continues the same conversation: its request carries the whole history.
    assert second.answer == "Still 42." and second.turns == 1
    third = json.dumps(fake_llm.requests[2].body)
    assert third.index("What is 6*7?") < third.index("It is 42.") < third.index("And now?")
