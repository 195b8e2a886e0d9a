"""Signals between modules are types, not message text: which tree limit refused a child, which
tool results carry a cancelled run's partial output, what a duplicate tool name raises, and that a
cancelled run raises the event loop's cancellation (there is no ProcessCancelled)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import llmproc
from llmproc import LLMProgram
from llmproc.errors import BudgetExceeded, ChildLimitReached, DuplicateToolError, LLMProcError, ToolError
from llmproc.messages import ToolResult
from llmproc.process.loop import CANCELLED_RESULT, TurnLoop, keeps_partial_output
from llmproc.process.syscalls import check_new_children
from llmproc.providers.scripted import ScriptedProvider
from llmproc.testing import Reply, ToolUse
from llmproc.tools import Toolset, combined, tool


def program(**limits: Any) -> LLMProgram:
    return LLMProgram.from_dict({"model": {"name": "scripted", "provider": "scripted"}, "limits": limits})


@pytest.mark.parametrize(("limits", "forks", "limit", "value"), [
    ({"max_children": 2}, 2, "max_children", 2),
    ({"max_depth": 1}, 1, "max_depth", 1),
])
async def test_fork_says_which_limit_refused_it(limits: dict[str, int], forks: int, limit: str,
                                               value: int) -> None:
    process = await program(**limits).start()
    node = process
    for _ in range(forks):  # children of the root for max_children, a chain for max_depth
        child = await node.fork()
        node = child if limit == "max_depth" else process
    with pytest.raises(BudgetExceeded) as info:
        await node.fork()
    assert (info.value.limit, info.value.value) == (limit, value)
    await process.aclose()


async def test_the_tree_limit_is_a_tool_error_for_the_model() -> None:
    process = await program(max_children=0).start()
    with pytest.raises(ChildLimitReached) as info:
        check_new_children(process, 1)
    assert isinstance(info.value, ToolError) and info.value.limit == "max_children"
    await process.aclose()


def test_partial_output_is_recognised_by_its_marker_not_by_any_mention() -> None:
    loop = TurnLoop.__new__(TurnLoop)  # only _cancelled's inputs are needed

    class Child:
        pid = 7

        def get_last_message(self) -> str:
            return "half done"

    class Process:
        call_children = {"c1": [Child()]}

    loop.process = Process()  # type: ignore[assignment]
    from llmproc.messages import ToolCall

    cancelled = loop._cancelled(ToolCall("c1", "spawn", {}))
    assert cancelled.content.startswith(CANCELLED_RESULT) and "half done" in cancelled.content
    assert keeps_partial_output(cancelled)
    # A finished tool that merely mentions the words is not a stopped run's partial output.
    assert not keeps_partial_output(ToolResult("c2", "the partial output of process 3 was:", False, "grep"))
    bare = loop._cancelled(ToolCall("c3", "spawn", {}))  # cancelled, no child: nothing to keep
    assert not keeps_partial_output(bare)


def test_duplicate_tool_names_are_an_llmproc_error_and_still_a_value_error() -> None:
    @tool
    def whoami() -> str:
        """Who."""
        return "me"

    with pytest.raises(DuplicateToolError) as info:
        combined(Toolset([whoami]), Toolset([whoami]))
    assert isinstance(info.value, LLMProcError) and isinstance(info.value, ValueError)


async def test_a_cancelled_run_raises_the_loops_cancellation() -> None:
    assert not hasattr(llmproc, "ProcessCancelled") and "ProcessCancelled" not in llmproc.__all__
    provider = ScriptedProvider([Reply(tool_calls=[ToolUse("calculator", {"expression": "1"})]),
                                 Reply(text="never", delay=30)])
    process = await LLMProgram.from_dict({"model": {"name": "scripted", "provider": "scripted"},
                                          "tools": {"enabled": ["calculator"]}}).start(provider=provider)
    cancelled = False
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            async def run() -> None:
                nonlocal cancelled
                try:
                    await process.run("go")
                except anyio.get_cancelled_exc_class():
                    cancelled = True
                    raise

            group.start_soon(run)
            while len(provider.requests) < 2:
                await anyio.sleep(0.01)
            group.cancel_scope.cancel()
    assert cancelled and process.history[-1].role == "user"  # the history stays consistent
    await process.aclose()
