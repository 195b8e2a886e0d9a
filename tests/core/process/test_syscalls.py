"""System calls end to end: spawn, fork, goto, exec through the engine and the real Anthropic and
OpenAI SDKs against the fake provider server, with the requests the provider receives checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from llmproc import LLMProgram
from llmproc.errors import BudgetExceeded
from llmproc.messages import Usage
from llmproc.testing import FakeLLMServer, Reply, ToolUse

PROVIDERS = {"anthropic": "claude-sonnet-5-5", "openai": "gpt-5"}


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def model(fake: FakeLLMServer, provider: str) -> dict[str, Any]:
    url = fake.anthropic_base_url if provider == "anthropic" else fake.openai_base_url
    return {"name": PROVIDERS[provider], "provider": provider, "base_url": url}


def write(path: Path, data: str) -> Path:
    path.write_text(data)
    return path


def toml_model(fake: FakeLLMServer, provider: str) -> str:
    m = model(fake, provider)
    return f'[model]\nname = "{m["name"]}"\nprovider = "{provider}"\nbase_url = "{m["base_url"]}"\n'


def texts(body: dict[str, Any]) -> str:
    """Everything the provider was sent, as one string (shape differs per API)."""
    return json.dumps(body)


def tool_result_text(body: dict[str, Any], provider: str) -> list[str]:
    if provider == "anthropic":
        out = []
        for message in body["messages"]:
            if isinstance(message["content"], list):
                for block in message["content"]:
                    if block.get("type") == "tool_result":
                        content = block["content"]
                        out.append(content if isinstance(content, str) else content[0]["text"])
        return out
    return [item["output"] for item in body["input"] if item.get("type") == "function_call_output"]


providers = pytest.mark.parametrize("provider", list(PROVIDERS))


@providers
async def test_spawn_runs_linked_programs_concurrently(provider: str, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    write(tmp_path / "expert.toml", toml_model(fake_llm, provider) + '[prompt]\nsystem_prompt = "You are the EXPERT."\n')
    main = write(tmp_path / "main.toml", toml_model(fake_llm, provider) + '[tools]\nenabled = ["spawn"]\n'
                 '[linked_programs]\nexpert = { path = "expert.toml", description = "Knows everything" }\n')
    fake_llm.add(
        Reply(tool_calls=[ToolUse("spawn", {"program_name": "expert", "prompt": "question one"}),
                          ToolUse("spawn", {"program_name": "expert", "prompt": "question two"})],
              usage=Usage(100, 10)),
        Reply(text="same answer", delay=0.4, usage=Usage(30, 3)),
        Reply(text="same answer", delay=0.4, usage=Usage(30, 3)),
        Reply(text="Both experts agree.", usage=Usage(200, 5)),
    )
    process = await LLMProgram.from_toml(main).start(cwd=tmp_path)
    with anyio.fail_after(10):
        result = await process.run("Ask the expert twice")
    assert result.answer == "Both experts agree."
    _, earlier, later, _ = fake_llm.requests
    assert later.received_at < earlier.received_at + 0.4, "the second spawn waited for the first's answer"
    first, child_a, child_b, last = (r.body for r in fake_llm.requests)
    # The spawn tool tells the model which programs exist, with their descriptions.
    assert "Knows everything" in texts(first) and '"expert"' in texts(first)
    # Children start fresh: their own system prompt, only their prompt, no parent history.
    for child in (child_a, child_b):
        assert "You are the EXPERT." in texts(child) and "Ask the expert twice" not in texts(child)
    assert {("question one" in texts(c)) for c in (child_a, child_b)} == {True, False}
    assert tool_result_text(last, provider) == ["same answer", "same answer"]
    # Children's usage rolls up into the parent's run and totals.
    assert result.usage == Usage(360, 21)
    assert process.usage == Usage(360, 21)
    assert [c.depth for c in process.children] == [1, 1]
    assert all(len(c.history) == 2 for c in process.children)  # nothing mutable was shared
    await process.aclose()


@providers
async def test_self_spawning_program_stops_at_max_depth(provider: str, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    me = write(tmp_path / "me.toml", toml_model(fake_llm, provider) + '[tools]\nenabled = ["spawn"]\n'
               '[linked_programs]\nme = "me.toml"\n[limits]\nmax_depth = 2\n')
    spawn_again = Reply(tool_calls=[ToolUse("spawn", {"program_name": "me", "prompt": "go deeper"})])
    fake_llm.add(spawn_again, spawn_again, spawn_again, Reply(text="bottom"), Reply(text="middle"), Reply(text="top"))
    process = await LLMProgram.from_toml(me).start(cwd=tmp_path)
    with anyio.fail_after(10):
        result = await process.run("recurse")
    assert result.answer == "top"
    assert len(fake_llm.requests) == 6
    refused = tool_result_text(fake_llm.requests[3].body, provider)
    assert len(refused) == 1 and "max_depth=2 reached" in refused[0]
    assert tool_result_text(fake_llm.requests[4].body, provider) == ["bottom"]
    await process.aclose()


@providers
async def test_fork_copies_history_and_returns_every_answer(provider: str, fake_llm: FakeLLMServer,
                                                            tmp_path: Path) -> None:
    program = LLMProgram.from_dict({"model": model(fake_llm, provider), "tools": {"enabled": ["fork"]}})
    fake_llm.add(
        Reply(tool_calls=[ToolUse("fork", {"prompts": ["explore north", "explore south"]})]),
        Reply(text="copy answer", delay=0.2),
        Reply(text="copy answer", delay=0.2),
        Reply(text="Explored both ways."),
    )
    process = await program.start(cwd=tmp_path)
    with anyio.fail_after(10):
        result = await process.run("The secret is 7. Explore.")
    assert result.answer == "Explored both ways."
    _, copy_a, copy_b, last = (r.body for r in fake_llm.requests)
    for body in (copy_a, copy_b):
        # Each copy sees the parent's history and its own fork call answered with "you are copy i".
        assert "The secret is 7." in texts(body)
        results = tool_result_text(body, provider)
        assert len(results) == 1 and "You are copy" in results[0] and "of 2" in results[0]
    tasks = [tool_result_text(body, provider)[0] for body in (copy_a, copy_b)]
    assert sorted("explore north" in t for t in tasks) == [False, True]
    (combined,) = tool_result_text(last, provider)
    assert combined.count("copy answer") == 2 and 'index="1"' in combined and 'index="2"' in combined
    assert "You are copy" not in texts(last)  # the parent never sees the copies' private results
    assert [c.depth for c in process.children] == [1, 1]
    await process.aclose()


@providers
async def test_goto_rewinds_and_continues_with_the_new_message(provider: str, fake_llm: FakeLLMServer,
                                                                tmp_path: Path) -> None:
    program = LLMProgram.from_dict({"model": model(fake_llm, provider),
                                    "tools": {"enabled": ["goto", "calculator"]}})
    fake_llm.add(Reply(text="first answer"),
                 Reply(tool_calls=[ToolUse("calculator", {"expression": "1+1"})]),
                 Reply(tool_calls=[ToolUse("goto", {"message_id": "m3", "message": "Summary: 1+1=2. Continue."})]),
                 Reply(text="continued after goto"))
    process = await program.start(cwd=tmp_path)
    await process.run("first question")
    result = await process.run("second question, long detour")
    assert result.answer == "continued after goto"
    assert "[message m1]" in texts(fake_llm.requests[0].body)  # ids are visible to the model
    body = fake_llm.requests[3].body
    after = json.dumps(body["messages"] if provider == "anthropic" else body["input"])
    assert "first question" in after and "first answer" in after
    assert "second question" not in after and "1+1" not in after.replace("Summary: 1+1=2", "")
    assert "Summary: 1+1=2. Continue." in after
    roles = [m.role for m in process.history]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert process.history[2].text == "Summary: 1+1=2. Continue."


async def test_goto_to_an_unknown_message_is_an_error_result(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    program = LLMProgram.from_dict({"model": model(fake_llm, "anthropic"), "tools": {"enabled": ["goto"]}})
    fake_llm.add(Reply(tool_calls=[ToolUse("goto", {"message_id": "m99", "message": "x"})]), Reply(text="ok"))
    process = await program.start(cwd=tmp_path)
    await process.run("hi")
    (error,) = tool_result_text(fake_llm.requests[1].body, "anthropic")
    assert "cannot go to 'm99'" in error and "m1" in error


@providers
async def test_exec_replaces_program_keeps_pid(provider: str, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    write(tmp_path / "writer.toml", toml_model(fake_llm, provider)
          + '[prompt]\nsystem_prompt = "You are the WRITER."\n[tools]\nenabled = ["calculator"]\n')
    main = write(tmp_path / "main.toml", toml_model(fake_llm, provider)
                 + '[prompt]\nsystem_prompt = "You are the PLANNER."\n[tools]\nenabled = ["exec"]\n'
                   '[linked_programs]\nwriter = "writer.toml"\n')
    fake_llm.add(Reply(tool_calls=[ToolUse("exec", {"program_name": "writer", "message": "Write the plan: A, B."})]),
                 Reply(text="Written."))
    process = await LLMProgram.from_toml(main).start(cwd=tmp_path)
    pid = process.pid
    result = await process.run("Plan, then hand over to the writer.")
    assert result.answer == "Written."
    assert process.pid == pid and process.program.name == "writer"
    second = texts(fake_llm.requests[1].body)
    assert "You are the WRITER." in second and "PLANNER" not in second
    assert "calculator" in second and '"exec"' not in second
    assert "Write the plan: A, B." in second and "hand over" not in second
    assert [m.role for m in process.history] == ["user", "assistant"]
    await process.aclose()
    fresh = await LLMProgram.from_toml(main).start(cwd=tmp_path)
    assert fresh.pid == pid + 1  # exec took no pid of its own
    await fresh.aclose()


async def test_max_children_and_cost_limits(fake_llm: FakeLLMServer, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    program = LLMProgram.from_dict({"model": model(fake_llm, "anthropic"), "tools": {"enabled": ["fork"]},
                                    "limits": {"max_children": 2}})
    fake_llm.add(Reply(tool_calls=[ToolUse("fork", {"prompts": ["a", "b", "c"]})]), Reply(text="ok"))
    process = await program.start(cwd=tmp_path)
    await process.run("fork three")
    (error,) = tool_result_text(fake_llm.requests[1].body, "anthropic")
    assert "max_children=2 reached" in error

    from llmproc import pricing

    monkeypatch.setitem(pricing.PRICES, "claude-sonnet-5-5", pricing.Price(1e6, 0, 0, 0))  # $1 per input token
    costly = LLMProgram.from_dict({"model": model(fake_llm, "anthropic"), "tools": {"enabled": ["fork"]},
                                   "limits": {"max_cost_usd": 25.0}})
    fake_llm.add(Reply(tool_calls=[ToolUse("fork", {"prompts": ["a", "b"]})], usage=Usage(10, 0)),
                 Reply(text="x", usage=Usage(10, 0)), Reply(text="y", usage=Usage(10, 0)))
    process = await costly.start(cwd=tmp_path)
    with pytest.raises(BudgetExceeded) as info:
        await process.run("spend")
    assert info.value.limit == "max_cost_usd"
    assert process.cost_usd == pytest.approx(30.0)  # the children's cost counts for the parent's limit


async def test_cancelling_parent_cancels_children_and_keeps_partial_output(fake_llm: FakeLLMServer,
                                                                           tmp_path: Path) -> None:
    write(tmp_path / "worker.toml", toml_model(fake_llm, "anthropic") + '[tools]\nenabled = ["calculator"]\n')
    main = write(tmp_path / "main.toml", toml_model(fake_llm, "anthropic") + '[tools]\nenabled = ["spawn"]\n'
                 '[linked_programs]\nworker = "worker.toml"\n')
    fake_llm.add(Reply(tool_calls=[ToolUse("spawn", {"program_name": "worker", "prompt": "work"})]),
                 Reply(text="partial progress", tool_calls=[ToolUse("calculator", {"expression": "2"})]),
                 Reply(text="never", delay=30))
    process = await LLMProgram.from_toml(main).start(cwd=tmp_path)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(process.run, "start the worker")
            while len(fake_llm.requests) < 3:
                await anyio.sleep(0.01)
            group.cancel_scope.cancel()
    (child,) = process.children
    assert child.history[-1].tool_results  # the child's history is consistent too
    result = process.history[-1].tool_results[0]
    assert result.is_error and "cancelled" in result.content and "partial progress" in result.content
    await process.aclose()


async def test_python_api_fork_shares_history(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    program = LLMProgram.from_dict({"model": model(fake_llm, "anthropic")})
    fake_llm.add(Reply(text="parent one"), Reply(text="from the copy"), Reply(text="parent two"))
    process = await program.start(cwd=tmp_path)
    await process.run("hello")
    copy = await process.fork()
    assert copy.parent is process and list(copy.history) == list(process.history)
    assert (await copy.run("copy asks")).answer == "from the copy"
    assert (await process.run("parent asks")).answer == "parent two"
    assert "copy asks" not in texts(fake_llm.requests[2].body)
    assert len(copy.history) == 4 and len(process.history) == 4
    await copy.aclose()
    await process.aclose()


async def test_spawn_hands_file_descriptors_to_the_child(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("".join(f"line {i} of the report\n" for i in range(400)))
    fd_section = '[file_descriptor]\nenabled = true\nmax_direct_output_chars = 500\n'
    write(tmp_path / "reader.toml", toml_model(fake_llm, "anthropic") + fd_section)
    main = write(tmp_path / "main.toml", toml_model(fake_llm, "anthropic") + fd_section
                 + '[tools]\nenabled = ["spawn", "read_file"]\n[linked_programs]\nreader = "reader.toml"\n')
    fake_llm.add(Reply(tool_calls=[ToolUse("read_file", {"path": "big.txt"})]),
                 Reply(tool_calls=[ToolUse("spawn", {"program_name": "reader", "prompt": "Summarize it.",
                                                     "fds": ["fd:1"]})]),
                 Reply(tool_calls=[ToolUse("read_fd", {"fd": "fd:1", "page": 2})]),
                 Reply(text="It is a report."),
                 Reply(text="The child says: it is a report."))
    process = await LLMProgram.from_toml(main).start(cwd=tmp_path)
    result = await process.run("Read big.txt and get it summarized")
    assert result.answer == "The child says: it is a report."
    child_first = texts(fake_llm.requests[2].body)
    assert "<preloaded_fds>" in child_first and "fd:1" in child_first and "Summarize it." in child_first
    assert "line 399" not in child_first  # the child got the fd, not the content
    (page,) = tool_result_text(fake_llm.requests[3].body, "anthropic")
    assert "page 2 of" in page and "of the report" in page
    await process.aclose()
