"""Snapshot and restore with the offline scripted provider: what a state holds, programs that
changed or vanished, schema versions, states saved mid-run, and the limits a restore keeps."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from llmproc import BudgetExceeded, LLMProcess, LLMProgram
from llmproc.errors import ProgramChangedError, StateError
from llmproc.messages import TextPart, ThinkingPart, ToolResult
from llmproc.process import migrations
from llmproc.store import SCHEMA_VERSION
from llmproc.store.state import INTERRUPTED_RESULT
from llmproc.testing import Reply, ScriptedProvider, ToolUse
from llmproc.tools import tool

ECHO = """[model]
name = "echo"
provider = "scripted"
[prompt]
system_prompt = "You repeat what you are told."
"""


def write_program(tmp_path: Path, text: str = ECHO, name: str = "echo.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


async def saved_echo(tmp_path: Path, *prompts: str) -> tuple[Path, dict[str, Any]]:
    path = write_program(tmp_path)
    process = await LLMProgram.from_toml(path).start(cwd=tmp_path)
    for prompt in prompts or ("hello",):
        await process.run(prompt)
    state = process.snapshot()
    await process.aclose()
    return path, state


async def test_state_is_plain_json_with_everything_needed(tmp_path: Path) -> None:
    path, state = await saved_echo(tmp_path, "one", "two")
    assert json.loads(json.dumps(state)) == state
    assert state["kind"] == "llmproc.process" and state["version"] == SCHEMA_VERSION
    assert state["program"]["path"] == str(path) and len(state["program"]["hash"]) == 64
    assert [m["id"] for m in state["history"]] == ["m1", "m2", "m3", "m4"]
    assert state["next_message_id"] == 5 and state["status"] == "idle"
    assert state["usage"]["input_tokens"] > 0 and state["cost_usd"] == 0.0
    assert state["limits"] == {"depth": 0, "children_started": 0}
    assert state["system_prompt"] == "You repeat what you are told." and state["cwd"] == str(tmp_path)


async def test_restore_continues_the_conversation_and_its_ids(tmp_path: Path) -> None:
    _, state = await saved_echo(tmp_path, "one")
    process = await LLMProcess.restore(state)
    result = await process.run("two")
    assert result.answer == "two"
    assert [m.id for m in process.history] == ["m1", "m2", "m3", "m4"]
    assert [m.text for m in process.history] == ["one", "one", "two", "two"]
    assert process.cwd == tmp_path.resolve()
    again = process.snapshot()
    await process.aclose()
    assert again["usage"]["input_tokens"] > state["usage"]["input_tokens"]


async def test_program_restore_uses_that_program(tmp_path: Path) -> None:
    path, state = await saved_echo(tmp_path)
    program = LLMProgram.from_toml(path)
    process = await program.restore(state)
    assert process.program is program
    await process.aclose()


async def test_changed_program_file_is_refused_with_the_way_out(tmp_path: Path) -> None:
    path, state = await saved_echo(tmp_path)
    path.write_text(ECHO.replace("You repeat what you are told.", "You shout."))
    with pytest.raises(ProgramChangedError) as caught:
        await LLMProcess.restore(state)
    message = str(caught.value)
    assert str(path) in message and "changed" in message
    assert "allow_changed_program=True" in message and "--force" in message
    assert caught.value.saved_hash == state["program"]["hash"] != caught.value.current_hash
    # Restoring anyway: the history comes back, and the changed program's own prompt is used.
    process = await LLMProcess.restore(state, allow_changed_program=True)
    assert process.system_prompt == "You shout."
    assert [m.text for m in process.history] == ["hello", "hello"]
    await process.aclose()


async def test_another_file_with_the_same_content_is_accepted_a_different_one_named(tmp_path: Path) -> None:
    _, state = await saved_echo(tmp_path)
    copy = LLMProgram.from_toml(write_program(tmp_path, name="copy.toml"))
    process = await LLMProcess.restore(state, program=copy)
    await process.aclose()
    other = LLMProgram.from_toml(write_program(tmp_path, ECHO + "[limits]\nmax_turns = 3\n", "other.toml"))
    wrong = r"other\.toml is not the one the process was saved with \(.*echo\.toml; sha256"
    with pytest.raises(ProgramChangedError, match=wrong):
        await LLMProcess.restore(state, program=other)


async def test_vanished_program_file_says_how_to_restore(tmp_path: Path) -> None:
    path, state = await saved_echo(tmp_path)
    path.unlink()
    with pytest.raises(StateError, match=r"program file of this process state is gone: .*echo\.toml.*program="):
        await LLMProcess.restore(state)


async def test_program_built_in_code_is_rebuilt_from_the_state(tmp_path: Path) -> None:
    data = {"model": {"name": "echo", "provider": "scripted"}, "prompt": {"system_prompt": "Echo."},
            "limits": {"max_turns": 4}}
    process = await LLMProgram.from_dict(data, base_dir=tmp_path).start()
    await process.run("in code")
    state = json.loads(json.dumps(process.snapshot()))
    await process.aclose()
    assert state["program"]["path"] is None and state["program"]["config"]["limits"] == {"max_turns": 4}
    restored = await LLMProcess.restore(state)
    assert restored.program.config.limits.max_turns == 4
    assert (await restored.run("still")).answer == "still"
    await restored.aclose()
    # The same dict again is the same program; a different one is a changed program.
    same = await LLMProcess.restore(state, program=LLMProgram.from_dict(data, base_dir=tmp_path))
    await same.aclose()
    with pytest.raises(ProgramChangedError, match="built in code"):
        await LLMProcess.restore(state, program=LLMProgram.from_dict({**data, "limits": {"max_turns": 5}}))


async def test_program_with_linked_objects_needs_the_program_passed(tmp_path: Path) -> None:
    helper = LLMProgram.from_dict({"model": {"name": "echo", "provider": "scripted"}})
    data = {"model": {"name": "echo", "provider": "scripted"}, "tools": {"enabled": ["spawn"]},
            "linked_programs": {"helper": helper}}
    program = LLMProgram.from_dict(data)
    process = await program.start()
    state = process.snapshot()
    await process.aclose()
    with pytest.raises(StateError, match=r"linked program objects \(helper\); pass the program"):
        await LLMProcess.restore(state)
    restored = await program.restore(state)
    assert "helper" in restored.program.linked_programs
    await restored.aclose()


@pytest.mark.parametrize(("version", "words"), [
    (SCHEMA_VERSION + 98, [f"schema version {SCHEMA_VERSION + 98}", f"reads versions 1 to {SCHEMA_VERSION}",
                           "upgrade llmproc"]),
    (0, ["schema version 0", f"(1 to {SCHEMA_VERSION})", "cannot be restored"]),
    ("1", ["no valid schema version"]),
])
async def test_unreadable_schema_versions_name_both_versions(tmp_path: Path, version: Any, words: list[str]) -> None:
    _, state = await saved_echo(tmp_path)
    with pytest.raises(StateError) as caught:
        await LLMProcess.restore({**state, "version": version})
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize("state", [{}, {"kind": "other", "version": 1}, [1, 2]])
async def test_not_a_state_is_a_clear_error(state: Any) -> None:
    with pytest.raises(StateError, match="not an llmproc process state"):
        await LLMProcess.restore(state)


async def test_incomplete_and_malformed_states(tmp_path: Path) -> None:
    _, state = await saved_echo(tmp_path)
    with pytest.raises(StateError, match="missing history"):
        await LLMProcess.restore({k: v for k, v in state.items() if k != "history"})
    broken = {**state, "history": [{"role": "user", "parts": [{"type": "sound", "data": "x"}]}]}
    with pytest.raises(StateError, match="malformed: unknown message part type 'sound'"):
        await LLMProcess.restore(broken)
    with pytest.raises(StateError, match="malformed: cannot load an fd table of format version 7"):
        await LLMProcess.restore({**state, "fd_table": {"version": 7}})


async def test_older_states_are_migrated_step_by_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a (pretend) version 3 format, a version 1 state goes through both steps."""
    _, state = await saved_echo(tmp_path)
    seen: list[int] = []

    def step(version: int):
        def run(old: dict[str, Any]) -> dict[str, Any]:
            seen.append(old["version"])
            return {**old, "system_prompt": old["system_prompt"] + f" (v{version + 1})"}
        return run

    monkeypatch.setattr(migrations, "SCHEMA_VERSION", 3)
    monkeypatch.setitem(migrations.MIGRATIONS, 1, step(1))
    monkeypatch.setitem(migrations.MIGRATIONS, 2, step(2))
    migrated = migrations.migrate(state)
    assert seen == [1, 2] and migrated["version"] == 3 and state["version"] == 1
    process = await LLMProcess.restore(state)
    assert process.system_prompt == "You repeat what you are told. (v2) (v3)"
    await process.aclose()
    del migrations.MIGRATIONS[2]
    with pytest.raises(StateError, match="no migration from process state schema version 2 to 3"):
        migrations.migrate(state)


async def test_state_saved_mid_run_restores_with_the_unfinished_calls_answered(tmp_path: Path) -> None:
    captured: list[dict[str, Any]] = []
    process: LLMProcess | None = None

    @tool
    def checkpoint() -> str:
        """Save the process while this call runs."""
        assert process is not None
        captured.append(process.snapshot())
        return "saved"

    program = LLMProgram.from_toml(write_program(tmp_path))
    provider = ScriptedProvider([Reply(thinking="hmm", tool_calls=[ToolUse("checkpoint"), ToolUse("checkpoint")]),
                                 Reply(text="done")])
    process = await program.start(provider=provider, tools=[checkpoint])
    await process.run("go")
    await process.aclose()
    state = captured[0]
    assert state["status"] == "running" and state["tools"] == ["checkpoint"]
    assert state["history"][-1]["role"] == "assistant"

    restored = await LLMProcess.restore(state, provider=ScriptedProvider([Reply(text="resumed")]),
                                        tools=[checkpoint])
    last = restored.history[-1]
    assert last.role == "user" and len(last.tool_results) == 2
    assert all(r.is_error and r.content == INTERRUPTED_RESULT for r in last.tool_results)
    thinking = restored.history[-2].parts[0]
    assert isinstance(thinking, ThinkingPart) and thinking.signature == "scripted-signature"
    assert (await restored.resume()).answer == "resumed"
    await restored.aclose()


async def test_missing_python_tools_are_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    @tool
    def lookup(key: str) -> str:
        """Look a key up."""
        return key

    process = await LLMProgram.from_toml(write_program(tmp_path)).start(tools=[lookup])
    state = process.snapshot()
    await process.aclose()
    with caplog.at_level(logging.WARNING, logger="llmproc.store"):
        restored = await LLMProcess.restore(state)
    assert "lacks tools it had when saved: lookup" in caplog.text
    await restored.aclose()


async def test_children_and_depth_still_count_against_the_limits(tmp_path: Path) -> None:
    path = write_program(tmp_path, ECHO + "[limits]\nmax_children = 1\n")
    parent = await LLMProgram.from_toml(path).start()
    await parent.run("hi")
    child = await parent.fork()
    child_state = child.snapshot()
    state = parent.snapshot()
    assert state["children"] == [child.pid] and child_state["parent_pid"] == parent.pid
    await parent.aclose()

    restored = await LLMProcess.restore(state)
    assert [getattr(c, "saved_pid", None) for c in restored.children] == [child.pid]
    with pytest.raises(BudgetExceeded, match="max_children=1"):
        await restored.fork()
    assert restored.snapshot()["children"] == [child.pid]  # saved again, the tree is still told
    await restored.aclose()
    restored_child = await LLMProcess.restore(child_state)
    assert restored_child.depth == 1 and [m.text for m in restored_child.history] == ["hi", "hi"]
    await restored_child.aclose()


async def test_unknown_cost_and_tool_results_with_images_survive(tmp_path: Path) -> None:
    _, state = await saved_echo(tmp_path)
    image = {"media_type": "image/png", "data": "iVBORw0KGgo="}
    state = {**state, "cost_usd": None, "history": [*state["history"], {"role": "assistant", "parts": [
        {"type": "tool_call", "id": "c1", "name": "shot", "arguments": {}}]}, {"role": "user", "parts": [
        {"type": "tool_result", "call_id": "c1", "content": "png", "name": "shot", "images": [image]},
        {"type": "text", "text": "look"}]}]}
    process = await LLMProcess.restore(state)
    assert process.cost_usd is None
    result = process.history[-1].parts[0]
    assert isinstance(result, ToolResult) and result.images[0].data == image["data"]
    assert isinstance(process.history[-1].parts[1], TextPart)
    assert process.snapshot()["history"] == state["history"]
    await process.aclose()
