"""The turn loop with the offline scripted provider: tools, concurrency, limits, cancellation."""

from __future__ import annotations

import logging
import time

import anyio
import pytest

from llmproc import LLMProgram
from llmproc.errors import BudgetExceeded, LLMProcError, ProviderError
from llmproc.messages import Message, ToolCall, ToolResult, Usage
from llmproc.process import LLMProcess
from llmproc.process.events import TextDelta, ToolEnd, ToolStart, TurnEnd, TurnStart, UsageUpdate
from llmproc.providers.scripted import ScriptedProvider
from llmproc.testing.script import HTTPError, Reply, ToolUse
from llmproc.tools import tool


def program(**sections) -> LLMProgram:
    return LLMProgram.from_dict({"model": {"name": "scripted", "provider": "scripted"}, **sections})


SPANS: dict[str, tuple[float, float]] = {}  # label -> (started, ended), monotonic


@tool
async def slow(seconds: float, label: str) -> str:
    """Sleep, then say the label."""
    started = time.monotonic()
    await anyio.sleep(seconds)
    SPANS[label] = (started, time.monotonic())
    return f"done {label}"


@tool
def explode() -> str:
    """Always fails."""
    raise RuntimeError("kaboom")


async def start(script, *, tools=(slow, explode), **sections) -> tuple[LLMProcess, ScriptedProvider]:
    provider = ScriptedProvider(script)
    process = await program(**sections).start(provider=provider, tools=tools)
    return process, provider


async def test_tool_loop_answers_and_records_everything() -> None:
    process, provider = await _calc_process()
    result = await process.run("What is 2+3?")
    assert result.answer == "It is 5." == process.get_last_message()
    assert result.turns == 2 and result.stop_reason == "end"
    assert [(c.name, c.content, c.is_error) for c in result.tool_calls] == [("calculator", "5", False)]
    assert result.usage == Usage(30, 8, cache_read_tokens=8)
    assert result.cost_usd == 0.0
    roles = [(m.role, type(m.parts[0]).__name__) for m in process.history]
    assert roles == [("user", "TextPart"), ("assistant", "ToolCall"), ("user", "ToolResult"), ("assistant", "TextPart")]
    assert [m.id for m in process.history] == ["m1", "m2", "m3", "m4"]
    # The second request carried the tool result, the tool spec and the system prompt.
    second = provider.requests[1]
    assert second.messages[2].parts[0] == ToolResult("c1", "5", False, "calculator")
    assert [t.name for t in second.tools] == ["calculator"]
    provider.assert_consumed()


async def _calc_process() -> tuple[LLMProcess, ScriptedProvider]:
    provider = ScriptedProvider([
        Reply(tool_calls=[ToolUse("calculator", {"expression": "2+3"}, id="c1")], usage=Usage(10, 5)),
        Reply(text="It is 5.", usage=Usage(20, 3, cache_read_tokens=8)),
    ])
    process = await program(tools={"enabled": ["calculator"]}).start(provider=provider)
    return process, provider


async def test_tool_calls_of_a_turn_run_concurrently_and_keep_order() -> None:
    process, _ = await start([
        Reply(tool_calls=[ToolUse("slow", {"seconds": 0.3, "label": "a"}, id="a"),
                          ToolUse("slow", {"seconds": 0.05, "label": "b"}, id="b"),
                          ToolUse("slow", {"seconds": 0.3, "label": "c"}, id="c")]),
        Reply(text="ok"),
    ])
    SPANS.clear()
    with anyio.fail_after(5):
        result = await process.run("go")
    # all three were running at one moment: each started before any had ended (a loaded machine
    # slows this test down, it cannot make it fail)
    assert max(s for s, _ in SPANS.values()) < min(e for _, e in SPANS.values()), SPANS
    results = process.history[2].tool_results
    assert [r.call_id for r in results] == ["a", "b", "c"]
    assert [r.content for r in results] == ["done a", "done b", "done c"]
    assert [c.id for c in result.tool_calls] == ["a", "b", "c"]


async def test_failing_unknown_and_badly_called_tools_become_error_results() -> None:
    process, _ = await start([
        Reply(tool_calls=[ToolUse("explode", {}, id="x"), ToolUse("nope", {}, id="y"),
                          ToolUse("slow", {"seconds": "soon"}, id="z")]),
        Reply(text="recovered"),
    ])
    result = await process.run("go")
    assert result.answer == "recovered"
    x, y, z = process.history[2].tool_results
    assert x.is_error and "kaboom" in x.content
    assert y.is_error and "nope" in y.content and "slow" in y.content  # names the available tools
    assert z.is_error and "seconds" in z.content


async def test_events_arrive_in_order_and_stream_text() -> None:
    process, _ = await start([Reply(tool_calls=[ToolUse("slow", {"seconds": 0, "label": "q"})]),
                              Reply(text="three word answer")])
    events = []
    process.subscribe(events.append)
    await process.run("go", stream=True)
    kinds = [type(e).__name__ for e in events]
    assert kinds[:3] == ["TurnStart", "ToolCallDelta", "UsageUpdate"]
    assert kinds.index("TurnEnd") < kinds.index("ToolStart") < kinds.index("ToolEnd")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "three word answer"
    assert sum(isinstance(e, TextDelta) for e in events) == 3
    assert [e.turn for e in events if isinstance(e, TurnStart)] == [1, 2]
    assert isinstance(events[-1], TurnEnd) and events[-1].stop_reason == "end"
    assert any(isinstance(e, ToolStart) for e in events) and any(isinstance(e, ToolEnd) for e in events)
    assert any(isinstance(e, UsageUpdate) for e in events)


async def test_a_broken_subscriber_does_not_break_the_run(caplog: pytest.LogCaptureFixture) -> None:
    process, _ = await start([Reply(text="fine")])
    process.subscribe(lambda event: 1 / 0)
    assert (await process.run("go")).answer == "fine"
    assert "event subscriber" in caplog.text


async def test_max_turns_raises_and_leaves_a_consistent_history_that_can_continue() -> None:
    loop_forever = [Reply(tool_calls=[ToolUse("slow", {"seconds": 0, "label": str(i)})]) for i in range(3)]
    process, provider = await start(loop_forever, limits={"max_turns": 3})
    with pytest.raises(BudgetExceeded) as info:
        await process.run("go")
    assert info.value.limit == "max_turns"
    assert process.history[-1].role == "user" and process.history[-1].tool_results
    provider.add(Reply(text="finally"))
    result = await process.run("stop now")
    assert result.answer == "finally"
    # The new prompt joined the trailing tool results in one user turn (roles alternate).
    roles = [m.role for m in process.history]
    assert all(a != b for a, b in zip(roles, roles[1:]))


async def test_timeout_stops_a_slow_tool_and_keeps_history_consistent() -> None:
    process, _ = await start([Reply(tool_calls=[ToolUse("slow", {"seconds": 30, "label": "z"}, id="z")])],
                             limits={"timeout_s": 0.2})
    with anyio.fail_after(5):
        with pytest.raises(BudgetExceeded) as info:
            await process.run("go")
    assert info.value.limit == "timeout_s"
    result = process.history[-1].tool_results[0]
    assert result.call_id == "z" and result.is_error and "cancelled" in result.content


FAST = ToolUse("slow", {"seconds": 0, "label": "fast"}, id="f")
SLOW = ToolUse("slow", {"seconds": 30, "label": "slow"}, id="s")


@pytest.mark.parametrize("calls", [[FAST, SLOW], [SLOW, FAST]], ids=["fast-first", "fast-behind-slow"])
async def test_cancelling_a_run_keeps_finished_tool_output(calls: list[ToolUse]) -> None:
    # Results are kept in call order; a finished call waiting behind an unfinished one keeps its output.
    process, _ = await start([Reply(tool_calls=calls)])
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(process.run, "go")
            while not any(m.tool_calls for m in process.history):
                await anyio.sleep(0.01)
            await anyio.sleep(0.1)
            group.cancel_scope.cancel()
    results = {r.call_id: r for r in process.history[-1].tool_results}
    assert [r.call_id for r in process.history[-1].tool_results] == [c.id for c in calls]
    assert (results["f"].content, results["f"].is_error) == ("done fast", False)
    assert results["s"].is_error and "cancelled" in results["s"].content
    assert process.state.value == "idle"


async def test_concurrent_calls_finish_in_call_order() -> None:
    # The second call finishes first; records, ToolEnd events (and fd ids) still follow call order.
    process, _ = await start([Reply(tool_calls=[ToolUse("slow", {"seconds": 0.2, "label": "a"}, id="a"),
                                                ToolUse("slow", {"seconds": 0, "label": "b"}, id="b")]),
                              Reply(text="ok")])
    ended: list[str] = []
    process.subscribe(lambda e: ended.append(e.call.id) if isinstance(e, ToolEnd) else None)
    with anyio.fail_after(5):
        result = await process.run("go")
    assert [c.id for c in result.tool_calls] == ["a", "b"] == ended
    assert result.tool_calls[1].duration_s < 0.1  # b's own time, not its wait for a


async def test_provider_error_leaves_process_usable() -> None:
    process, provider = await start([HTTPError(500, "upstream broke")])
    with pytest.raises(ProviderError) as info:
        await process.run("go")
    assert info.value.status == 500 and info.value.retryable
    provider.add(Reply(text="back"))
    assert (await process.run("again")).answer == "back"


async def test_max_cost_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmproc import pricing

    monkeypatch.setitem(pricing.PRICES, "scripted", pricing.Price(1e6, 1e6, 0, 0))  # $1 per token
    process, _ = await start([Reply(tool_calls=[ToolUse("slow", {"seconds": 0, "label": "a"})], usage=Usage(1, 1)),
                              Reply(text="unreached")], limits={"max_cost_usd": 1.5})
    with pytest.raises(BudgetExceeded) as info:
        await process.run("go")
    assert info.value.limit == "max_cost_usd"
    assert process.cost_usd == pytest.approx(2.0)


async def test_unknown_model_price_is_none_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    prog = LLMProgram.from_dict({"model": {"name": "mystery-model-9", "provider": "openai_chat"}})
    process = await prog.start(provider=ScriptedProvider([Reply(text="a"), Reply(text="b")]))
    with caplog.at_level(logging.WARNING, logger="llmproc.pricing"):
        first = await process.run("one")
        second = await process.run("two")
    assert first.cost_usd is None and second.cost_usd is None and process.cost_usd is None
    assert caplog.text.count("mystery-model-9") == 1


async def test_misuse_is_a_clear_error() -> None:
    process, _ = await start([Reply(text="x", delay=0.2), Reply(text="y")])
    async with anyio.create_task_group() as group:
        group.start_soon(process.run, "first")
        await anyio.sleep(0.05)
        with pytest.raises(LLMProcError, match="already running"):
            await process.run("second")
    await process.aclose()
    with pytest.raises(LLMProcError, match="closed"):
        await process.run("again")
    with pytest.raises(ValueError, match="needs a prompt"):
        await (await program().start(provider=ScriptedProvider([]))).run()


async def test_initial_user_message_from_program() -> None:
    provider = ScriptedProvider()  # echo
    process = await program(prompt={"user": "Introduce yourself."}).start(provider=provider)
    assert (await process.run()).answer == "Introduce yourself."


async def test_tool_alias_and_description_from_program() -> None:
    provider = ScriptedProvider([Reply(tool_calls=[ToolUse("calc", {"expression": "7*6"})]), Reply(text="42")])
    process = await program(tools={"enabled": [{"name": "calculator", "alias": "calc",
                                                "description": "Do sums."}]}).start(provider=provider)
    await process.run("go")
    spec = provider.requests[0].tools[0]
    assert (spec.name, spec.description) == ("calc", "Do sums.")
    assert process.history[2].tool_results[0].content == "42"


def test_messages_round_trip_through_json() -> None:
    import json

    from llmproc.messages import TextPart, ThinkingPart, messages_from_json, messages_to_json

    history = [Message.user("hi", id="m1"),
               Message("assistant", (ThinkingPart("hmm", "sig=="), TextPart("ok"),
                                     ToolCall("c1", "f", {"a": [1, {"b": None}]})), "m2"),
               Message("user", (ToolResult("c1", "boom", True, "f"),), "m3")]
    assert messages_from_json(json.loads(json.dumps(messages_to_json(history)))) == history
