"""Testing a program offline: the fake server speaks the provider's real wire format, so the
real SDK, the real adapter and the real tool loop all run; only the model is scripted."""

from llmproc import LLMProgram
from llmproc.testing import Reply, ScriptedProvider, ToolUse

pytest_plugins = ["llmproc.testing.pytest_plugin"]  # fake_llm fixture + no-network guard


async def test_calculator_round_trip(fake_llm, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    program = LLMProgram.from_dict({
        "model": {"name": "claude-sonnet-5-5", "provider": "anthropic", "base_url": fake_llm.anthropic_base_url},
        "tools": {"enabled": ["calculator"]},
    })
    fake_llm.add(Reply(tool_calls=[ToolUse("calculator", {"expression": "6*7"})]), Reply(text="42"))
    process = await program.start()
    result = await process.run("What is 6*7?")
    assert result.answer == "42"
    tool_result = fake_llm.requests[1].body["messages"][-1]["content"][0]
    assert tool_result["type"] == "tool_result" and tool_result["content"] == "42"
    await process.aclose()


async def test_without_http():
    provider = ScriptedProvider([Reply(text="Hello from a script")])
    program = LLMProgram.from_dict({"model": {"name": "any", "provider": "scripted"}})
    process = await program.start(provider=provider)
    assert (await process.run("Hi")).answer == "Hello from a script"
    provider.assert_consumed()
