"""A restored process sends exactly the request the original would have sent next: a 3-turn tool
conversation with thinking signatures (Anthropic) or reasoning items (OpenAI Responses) through
the real SDK and the fake provider server; snapshot; the original continues; a process restored
from the snapshot (through the SQLite store) continues the same way; the request bodies match
byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmproc import LLMProcess, LLMProgram
from llmproc.messages import Usage
from llmproc.store import open_store
from llmproc.testing import FakeLLMServer, Reply, ToolUse

SETTINGS = {
    "anthropic": ('name = "claude-sonnet-5-5"\nprovider = "anthropic"',
                  "max_tokens = 4096\nthinking_budget = 2048"),
    "openai": ('name = "gpt-5"\nprovider = "openai"', 'reasoning_effort = "low"'),
}


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def program_file(tmp_path: Path, fake: FakeLLMServer, provider: str) -> Path:
    model, params = SETTINGS[provider]
    url = fake.anthropic_base_url if provider == "anthropic" else fake.openai_base_url
    (tmp_path / "notes.md").write_text("The project is called Orchid.\n")
    (tmp_path / "big.txt").write_text("".join(f"row {i}: {'x' * 40}\n" for i in range(300)))
    path = tmp_path / "agent.toml"
    path.write_text(f"""
[model]
{model}
base_url = "{url}"
[prompt]
system_prompt = "You are careful."
[parameters]
{params}
[env_info]
variables = ["working_directory", "date"]
[preload]
files = ["notes.md"]
[tools]
enabled = ["calculator", "read_file", "read_fd"]
[file_descriptor]
enabled = true
max_direct_output_chars = 2000
default_page_size = 1000
""")
    return path


def first_conversation() -> list[Reply]:
    return [
        Reply(thinking="I need the product first.", signature="sig-one", usage=Usage(120, 30, reasoning_tokens=12),
              tool_calls=[ToolUse("calculator", {"expression": "6*7"})]),
        Reply(thinking="Now the file.", signature="sig-two", usage=Usage(150, 20, cache_read_tokens=100),
              tool_calls=[ToolUse("read_file", {"path": "big.txt"})]),
        Reply(thinking="The file is long; it went to an fd.", signature="sig-three",
              text="42, and big.txt is in fd:1.",
              usage=Usage(400, 15)),
    ]


def continuation() -> list[Reply]:
    # Fixed ids: the continuation runs twice and each run must produce the same bodies.
    return [Reply(tool_calls=[ToolUse("read_fd", {"fd": "fd:1", "page": 2}, id="call_cont_1")]),
            Reply(text="Page 2 starts at row 24.")]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("provider", list(SETTINGS))
async def test_restored_process_sends_the_same_next_requests(provider: str, stream: bool, fake_llm: FakeLLMServer,
                                                            tmp_path: Path) -> None:
    program = LLMProgram.from_toml(program_file(tmp_path, fake_llm, provider))
    fake_llm.add(*first_conversation())
    original = await program.start(cwd=tmp_path)
    result = await original.run("What is 6*7? Then read big.txt.", stream=stream)
    assert result.turns == 3 and result.answer == "42, and big.txt is in fd:1."
    assert original.fd_table is not None and original.fd_table.ids == ["fd:1"]

    with open_store(tmp_path / "state") as store:
        store.save("agent", original.snapshot())
        state = store.load("agent")
    json.dumps(state)  # plain JSON all the way
    # The preloaded file changes after the save: the saved prompt keeps what was sent.
    (tmp_path / "notes.md").write_text("The project was renamed.\n")

    fake_llm.add(*continuation())
    before = len(fake_llm.requests)
    await original.run("Show page 2 of fd:1.", stream=stream)
    expected = fake_llm.requests[before:]
    await original.aclose()

    restored = await LLMProcess.restore(state)
    fake_llm.add(*continuation())
    before = len(fake_llm.requests)
    await restored.run("Show page 2 of fd:1.", stream=stream)
    got = fake_llm.requests[before:]
    await restored.aclose()

    assert len(expected) == len(got) == 2
    for want, have in zip(expected, got):
        assert have.body == want.body
        assert have.raw_body == want.raw_body
    sent = json.dumps(got[0].body)
    for signature in ("sig-one", "sig-two", "sig-three"):  # thinking travels back verbatim
        assert signature in sent
    assert "Orchid" in sent and "renamed" not in sent
    assert "row 24" in json.dumps(got[1].body)  # the fd table came back with its content
    assert restored.usage == original.usage and restored.cost_usd == original.cost_usd
    assert original.cost_usd is not None and original.cost_usd > 0
    assert [m.id for m in restored.history] == [m.id for m in original.history]


async def test_anthropic_request_carries_the_thinking_blocks_in_their_place(fake_llm: FakeLLMServer,
                                                                          tmp_path: Path) -> None:
    program = LLMProgram.from_toml(program_file(tmp_path, fake_llm, "anthropic"))
    fake_llm.add(*first_conversation())
    process = await program.start(cwd=tmp_path)
    await process.run("Go.")
    restored = await LLMProcess.restore(json.loads(json.dumps(process.snapshot())))
    await process.aclose()
    fake_llm.add(Reply(text="ok"))
    await restored.run("Again.")
    await restored.aclose()
    messages = fake_llm.requests[-1].body["messages"]
    assistant_blocks = [[b["type"] for b in m["content"]] for m in messages if m["role"] == "assistant"]
    assert assistant_blocks == [["thinking", "tool_use"], ["thinking", "tool_use"], ["thinking", "text"]]
    signatures = [b["signature"] for m in messages if m["role"] == "assistant" for b in m["content"]
                  if b["type"] == "thinking"]
    assert signatures == ["sig-one", "sig-two", "sig-three"]
