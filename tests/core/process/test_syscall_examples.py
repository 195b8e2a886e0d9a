"""The example programs for the system calls, driven end to end against the fake provider
server (reached through the SDKs' own ANTHROPIC_BASE_URL / OPENAI_BASE_URL variables)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from llmproc import LLMProgram
from llmproc.testing import FakeLLMServer, Reply, ToolUse

FEATURES = Path(__file__).resolve().parents[3] / "examples" / "features"


@pytest.fixture(autouse=True)
def provider_env(monkeypatch: pytest.MonkeyPatch, fake_llm: FakeLLMServer) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_llm.anthropic_base_url)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.openai_base_url)


async def run(example: str, prompt: str, tmp_path: Path) -> tuple[str, list[str]]:
    process = await LLMProgram.from_toml(FEATURES / example).start(cwd=tmp_path)
    try:
        with anyio.fail_after(15):
            result = await process.run(prompt)
    finally:
        await process.aclose()
    return result.answer, [p.program.name for p in process.children]


async def test_program_linking_example(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.add(Reply(tool_calls=[ToolUse("spawn", {"program_name": "math_expert", "prompt": "2+2?"}),
                                   ToolUse("spawn", {"program_name": "code_expert", "prompt": "print 4"})]),
                 Reply(text="4"), Reply(text="print(4)"), Reply(text="Math says 4; code says print(4)."))
    answer, children = await run("program-linking/main.toml", "Ask both experts", tmp_path)
    assert answer == "Math says 4; code says print(4)."
    assert sorted(children) == ["code_expert", "math_expert"]
    paths = sorted(r.path for r in fake_llm.requests)
    assert paths.count("/v1/messages") == 3 and paths.count("/v1/responses") == 1  # code_expert is OpenAI


async def test_fork_example(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.add(Reply(tool_calls=[ToolUse("fork", {"prompts": ["part 1", "part 2"]})]),
                 Reply(text="done"), Reply(text="done"), Reply(text="Both parts done."))
    answer, children = await run("fork.toml", "Do two parts", tmp_path)
    assert answer == "Both parts done." and children == ["fork", "fork"]


async def test_goto_example(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.add(Reply(tool_calls=[ToolUse("goto", {"message_id": "m1", "message": "Short version, please."})]),
                 Reply(text="Short."))
    answer, _ = await run("goto.toml", "A very long request", tmp_path)
    assert answer == "Short."
    assert "A very long request" not in json.dumps(fake_llm.requests[1].body["messages"])


async def test_exec_example(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.add(Reply(tool_calls=[ToolUse("exec", {"program_name": "writer", "message": "Plan: intro, body."})]),
                 Reply(text="The document."))
    answer, _ = await run("exec.toml", "Write a doc", tmp_path)
    assert answer == "The document."
    first, second = (r.body for r in fake_llm.requests)
    assert first["model"] == "claude-haiku-5-5" and second["model"] == "claude-sonnet-5-5"
    assert "You write clear documents" in json.dumps(second["system"])
