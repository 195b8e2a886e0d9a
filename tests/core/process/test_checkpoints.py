"""Runs that survive a crash: the `on_checkpoint` hook of the turn loop, snapshots taken while a
turn's tools run (they keep the finished results), and restoring one: saved results reused,
cut-off calls answered "interrupted" or, with `rerun_read_only`, read-only tools run again."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import anyio
import pytest

from llmproc import LLMProcess, LLMProgram
from llmproc.messages import ImageData, Message, ToolResult
from llmproc.providers.scripted import ScriptedProvider
from llmproc.store.state import INTERRUPTED_RESULT
from llmproc.testing.script import Reply, ToolUse
from llmproc.tools import tool
from llmproc.tools.base import ToolError, ToolOutput

PNG = ImageData("image/png", "iVBORw0KGgo=")


def program() -> LLMProgram:
    return LLMProgram.from_dict({"model": {"name": "scripted", "provider": "scripted"},
                                 "prompt": {"system_prompt": "You use tools."}})


class Tools:
    """A read-only and a writing tool that count their calls, plus tools with unusual results."""

    def __init__(self) -> None:
        self.looked_up: list[str] = []
        self.written: list[str] = []
        self.delay = 0.0
        self.spans: list[tuple[float, float]] = []  # (started, ended) of each lookup, monotonic

        @tool(read_only=True)
        async def lookup(key: str) -> str:
            """Look a key up."""
            self.looked_up.append(key)
            started = time.monotonic()
            await anyio.sleep(self.delay)
            self.spans.append((started, time.monotonic()))
            return f"value of {key}"

        @tool
        async def write(text: str) -> str:
            """Write something down."""
            self.written.append(text)
            return f"wrote {text}"

        @tool(read_only=True)
        def shot() -> ToolOutput:
            """Take a picture."""
            return ToolOutput("a picture", images=(PNG,))

        @tool(read_only=True)
        def fail() -> str:
            """Always fails."""
            raise ToolError("no such thing")

        self.all = [lookup, write, shot, fail]


async def start(tools: Tools, script: list[Reply]) -> tuple[LLMProcess, ScriptedProvider]:
    provider = ScriptedProvider(script)
    return await program().start(provider=provider, tools=tools.all), provider


async def test_the_hook_runs_after_each_model_call_tool_result_and_turn_of_results() -> None:
    tools = Tools()
    process, _ = await start(tools, [
        Reply(tool_calls=[ToolUse("lookup", {"key": "a"}, id="c1"), ToolUse("write", {"text": "x"}, id="c2")]),
        Reply(text="done"),
    ])
    seen: list[tuple[str, str, list[str]]] = []
    first: list[tuple[bool, bool, int]] = []  # the hook's errors are only logged: check after the run

    async def hook(proc: LLMProcess, point: str) -> None:
        seen.append((point, proc.history[-1].role, [r.call_id for r in proc.finished_results]))
        await anyio.sleep(0.01 if len(seen) == 1 else 0)  # a real save awaits
        if len(seen) == 1:  # the first response is in the history and counted; no tool started meanwhile
            first.append((proc is process, proc.usage.output_tokens > 0, len(tools.looked_up + tools.written)))

    process.on_checkpoint = hook
    assert (await process.run("go")).answer == "done"
    assert seen == [("model", "assistant", []), ("tool", "assistant", ["c1"]),
                    ("tool", "assistant", ["c1", "c2"]), ("results", "user", []), ("model", "assistant", [])]
    assert first == [(True, True, 0)]
    assert process.finished_results == ()
    child = await process.fork()
    assert child.on_checkpoint is None
    await process.aclose()


async def test_a_failing_hook_is_logged_and_the_run_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    tools = Tools()
    process, provider = await start(tools, [
        Reply(tool_calls=[ToolUse("lookup", {"key": "a"}, id="c1"), ToolUse("write", {"text": "x"}, id="c2")]),
        Reply(text="done"),
    ])
    points: list[str] = []

    async def hook(proc: LLMProcess, point: str) -> None:
        points.append(point)
        raise OSError("disk full")

    process.on_checkpoint = hook
    with caplog.at_level(logging.ERROR, logger="llmproc.process"):
        result = await process.run("go")
    assert result.answer == "done" and points == ["model", "tool", "tool", "results", "model"]
    failures = [r for r in caplog.records if "checkpoint hook" in r.getMessage()]
    assert len(failures) == 5 and all(r.exc_info and isinstance(r.exc_info[1], OSError) for r in failures)
    assert tools.written == ["x"]
    provider.assert_consumed()
    await process.aclose()


async def saved_mid_turn(tools: Tools, calls: list[ToolUse], after: int) -> dict[str, Any]:
    """Run one turn of `calls`; the state saved by the hook once `after` results were recorded."""
    process, _ = await start(tools, [Reply(thinking="plan", tool_calls=calls), Reply(text="done")])
    states: list[dict[str, Any]] = []

    async def hook(proc: LLMProcess, point: str) -> None:
        if point == "tool" and len(proc.finished_results) == after:
            states.append(json.loads(json.dumps(proc.snapshot())))  # as a store gives it back

    process.on_checkpoint = hook
    await process.run("go")
    await process.aclose()
    [state] = states
    return state


THREE = [ToolUse("lookup", {"key": "a"}, id="c1"), ToolUse("write", {"text": "x"}, id="c2"),
         ToolUse("lookup", {"key": "b"}, id="c3")]


async def test_a_snapshot_during_the_tools_keeps_the_finished_results() -> None:
    tools = Tools()
    state = await saved_mid_turn(tools, THREE, after=1)
    assert state["status"] == "running" and state["history"][-1]["role"] == "assistant"
    assert state["pending_results"] == [{"call_id": "c1", "content": "value of a", "name": "lookup",
                                         "type": "tool_result"}]
    idle = await program().start(provider=ScriptedProvider([Reply(text="hi")]))
    await idle.run("hello")
    assert "pending_results" not in idle.snapshot()  # only a save mid-turn has them
    await idle.aclose()


async def test_restore_reuses_finished_results_and_answers_the_rest_interrupted() -> None:
    tools = Tools()
    state = await saved_mid_turn(tools, THREE, after=1)
    assert (tools.looked_up, tools.written) == (["a", "b"], ["x"])
    provider = ScriptedProvider([Reply(text="resumed")])
    restored = await LLMProcess.restore(state, provider=provider, tools=tools.all)
    expected = (ToolResult("c1", "value of a", False, "lookup"),
                ToolResult("c2", INTERRUPTED_RESULT, True, "write"),
                ToolResult("c3", INTERRUPTED_RESULT, True, "lookup"))
    assert restored.history[-1].parts == expected
    assert (tools.looked_up, tools.written) == (["a", "b"], ["x"])  # nothing ran again
    assert (await restored.resume()).answer == "resumed"
    assert provider.requests[0].messages[-1].parts == expected
    await restored.aclose()


async def test_rerun_read_only_runs_cut_off_read_only_calls_again_and_nothing_else() -> None:
    tools = Tools()
    state = await saved_mid_turn(tools, THREE, after=1)
    provider = ScriptedProvider([Reply(text="resumed")])
    restored = await LLMProcess.restore(state, provider=provider, tools=tools.all, rerun_read_only=True)
    assert tools.looked_up == ["a", "b", "b"]  # c3 once more; c1 finished, so not again
    assert tools.written == ["x"]  # not read-only: never again
    expected = (ToolResult("c1", "value of a", False, "lookup"),
                ToolResult("c2", INTERRUPTED_RESULT, True, "write"),
                ToolResult("c3", "value of b", False, "lookup"))
    assert restored.history[-1].parts == expected
    assert restored.history[-2].parts[0].type == "thinking"  # the model call is not repeated
    assert (await restored.resume()).answer == "resumed"
    request = provider.requests[0]
    assert request.messages[-1] == Message("user", expected, request.messages[-1].id)
    assert [m.role for m in request.messages] == ["user", "assistant", "user"]
    provider.assert_consumed()
    await restored.aclose()


async def test_several_read_only_calls_rerun_concurrently_in_call_order() -> None:
    tools = Tools()
    calls = [ToolUse("write", {"text": "x"}, id="c1"), ToolUse("lookup", {"key": "a"}, id="c2"),
             ToolUse("lookup", {"key": "b"}, id="c3")]
    state = await saved_mid_turn(tools, calls, after=1)
    tools.delay, tools.spans = 0.5, []
    restored = await LLMProcess.restore(state, provider=ScriptedProvider(), tools=tools.all, rerun_read_only=True)
    (start_a, end_a), (start_b, end_b) = tools.spans  # the two reruns were in flight at once
    assert max(start_a, start_b) < min(end_a, end_b)
    assert [(r.call_id, r.content) for r in restored.history[-1].tool_results] == [
        ("c1", "wrote x"), ("c2", "value of a"), ("c3", "value of b")]
    assert sorted(tools.looked_up) == ["a", "a", "b", "b"] and tools.written == ["x"]
    await restored.aclose()


async def test_saved_results_keep_errors_and_images() -> None:
    tools = Tools()
    calls = [ToolUse("shot", id="c1"), ToolUse("fail", id="c2"), ToolUse("write", {"text": "x"}, id="c3")]
    state = await saved_mid_turn(tools, calls, after=2)
    restored = await LLMProcess.restore(state, provider=ScriptedProvider(), tools=tools.all, rerun_read_only=True)
    assert restored.history[-1].parts == (ToolResult("c1", "a picture", False, "shot", images=(PNG,)),
                                          ToolResult("c2", "no such thing", True, "fail"),
                                          ToolResult("c3", INTERRUPTED_RESULT, True, "write"))
    await restored.aclose()


async def test_a_tool_missing_after_restore_is_not_rerun() -> None:
    tools = Tools()
    state = await saved_mid_turn(tools, THREE, after=1)
    restored = await LLMProcess.restore(state, provider=ScriptedProvider(), rerun_read_only=True)
    assert [r.content for r in restored.history[-1].tool_results] == [
        "value of a", INTERRUPTED_RESULT, INTERRUPTED_RESULT]
    assert tools.looked_up == ["a", "b"]
    await restored.aclose()
