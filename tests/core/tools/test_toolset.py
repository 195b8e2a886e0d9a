"""Toolset.call turns every tool problem into an error result; wrappers reshape toolsets."""

from __future__ import annotations

import threading

import anyio
import pytest

from llmproc.errors import ToolError
from llmproc.tools import (
    DuplicateToolError,
    SimpleToolContext,
    Tool,
    ToolContext,
    ToolOutput,
    Toolset,
    aliased,
    combined,
    described,
    filtered,
    tool,
)


@tool
def add(a: int, b: int = 0) -> int:
    """Add two numbers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


@tool
def fail_tool_error(reason: str) -> str:
    """Fail on purpose."""
    raise ToolError(f"cannot do it: {reason}")


@tool
def fail_bug() -> str:
    """Crash."""
    raise KeyError("oops")


@tool
def whoami() -> str:
    """Report the thread."""
    return threading.current_thread().name


@pytest.fixture
def ctx(tmp_path) -> SimpleToolContext:
    return SimpleToolContext(cwd=tmp_path)


@pytest.fixture
def ts() -> Toolset:
    return Toolset([add, fail_tool_error, fail_bug, whoami], label="test")


async def test_call_ok(ts, ctx):
    assert await ts.call("add", {"a": 2, "b": 3}, ctx) == ToolOutput("5")
    assert await ts.call("add", '{"a": 2}', ctx) == ToolOutput("2")  # JSON text is accepted too


def test_names_specs_get(ts):
    assert ts.names == ["add", "fail_tool_error", "fail_bug", "whoami"]
    assert [s.name for s in ts.specs()] == ts.names
    assert ts.get("add") is add and ts.get("nope") is None
    assert "add" in ts and len(ts) == 4


async def test_unknown_tool_lists_available(ts, ctx):
    out = await ts.call("sub", {}, ctx)
    assert out.is_error
    assert out.content == "unknown tool 'sub'; available tools: add, fail_tool_error, fail_bug, whoami"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"b": 1}, "a: required argument missing"),
        ({"a": "x"}, "a: input should be a valid integer"),
        ({"a": 1, "c": 2}, "c: unexpected argument (expected: a, b)"),
        ([1, 2], "expected a JSON object, got list"),
        ("{not json", "not valid JSON"),
    ],
)
async def test_bad_arguments_are_error_results(ts, ctx, args, expected):
    out = await ts.call("add", args, ctx)
    assert out.is_error
    assert out.content.startswith("invalid arguments for add: ")
    assert expected in out.content


async def test_raising_tools_are_error_results(ts, ctx):
    out = await ts.call("fail_tool_error", {"reason": "no disk"}, ctx)
    assert out == ToolOutput("cannot do it: no disk", is_error=True)
    out = await ts.call("fail_bug", {}, ctx)
    assert out == ToolOutput("tool fail_bug failed: KeyError: 'oops'", is_error=True)


async def test_sync_tools_run_in_a_worker_thread(ts, ctx):
    out = await ts.call("whoami", {}, ctx)
    assert out.content != threading.current_thread().name


async def test_cancellation_propagates(ctx):
    started = anyio.Event()

    @tool
    async def slow() -> str:
        started.set()
        await anyio.sleep(60)
        return "never"

    ts = Toolset([slow])
    results = []
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            async def run() -> None:
                results.append(await ts.call("slow", {}, ctx))

            tg.start_soon(run)
            await started.wait()
            tg.cancel_scope.cancel()
    assert results == []  # cancelled, not turned into an error result


async def test_cancellation_in_a_sync_tool_propagates(ctx):
    release = threading.Event()

    @tool
    def blocking() -> str:
        release.wait(5)
        return "done"

    ts = Toolset([blocking])
    results = []
    with anyio.fail_after(5):
        with anyio.move_on_after(0.05) as scope:
            results.append(await ts.call("blocking", {}, ctx))
        release.set()
    assert scope.cancelled_caught and results == []


async def test_custom_tool_subclass(ctx):
    class Echo(Tool):
        async def call(self, args: dict, ctx: ToolContext) -> ToolOutput:
            return ToolOutput(args["text"])

    ts = Toolset([Echo("echo", "Echo text.", {"type": "object", "properties": {"text": {"type": "string"}}})])
    assert await ts.call("echo", {"text": "hi"}, ctx) == ToolOutput("hi")


async def test_aliased(ts, ctx):
    renamed = aliased(ts, {"add": "plus"})
    assert renamed.names == ["plus", "fail_tool_error", "fail_bug", "whoami"]
    spec = renamed.specs()[0]
    assert (spec.name, spec.description, spec.parameters) == ("plus", add.description, add.parameters)
    assert await renamed.call("plus", {"a": 1, "b": 1}, ctx) == ToolOutput("2")
    assert (await renamed.call("add", {"a": 1}, ctx)).is_error
    assert ts.names[0] == "add"  # the original is untouched
    with pytest.raises(ValueError, match="unknown tool.*'nope'.*available: add"):
        aliased(ts, {"nope": "x"})
    with pytest.raises(ValueError, match="invalid tool name"):
        aliased(ts, {"add": "bad name"})
    with pytest.raises(DuplicateToolError, match="'whoami'"):
        aliased(ts, {"add": "whoami"})


async def test_described(ts, ctx):
    redescribed = described(aliased(ts, {"add": "plus"}), {"plus": "Sum."})
    assert redescribed.get("plus").description == "Sum."
    assert redescribed.get("whoami").description == "Report the thread."
    assert await redescribed.call("plus", {"a": 4}, ctx) == ToolOutput("4")
    with pytest.raises(ValueError, match="description override"):
        described(ts, {"nope": "x"})


def test_filtered(ts):
    assert filtered(ts, ["whoami", "add"]).names == ["add", "whoami"]  # toolset order
    assert filtered(ts, set()).names == []
    with pytest.raises(ValueError, match="allow-list names unknown tool.*'typo'"):
        filtered(ts, ["add", "typo"])
    assert filtered(ts, ["add", "typo"], strict=False).names == ["add"]


async def test_combined(ts, ctx):
    @tool
    def mul(a: int, b: int) -> int:
        """Multiply."""
        return a * b

    both = combined(ts, Toolset([mul], label="extra"))
    assert both.names[-1] == "mul"
    assert await both.call("mul", {"a": 6, "b": 7}, ctx) == ToolOutput("42")

    with pytest.raises(DuplicateToolError) as info:
        combined(ts, Toolset([add], label="other"))
    assert "'add'" in str(info.value) and "toolset 'test'" in str(info.value)
    assert "toolset 'other'" in str(info.value)

    with pytest.raises(DuplicateToolError) as info:
        combined(aliased(Toolset([mul]), {"mul": "add"}), Toolset([add]))
    msg = str(info.value)
    assert "'mul' renamed to 'add' from toolset #1" in msg and "'add' from toolset #2" in msg
