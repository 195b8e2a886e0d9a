"""The MCP toolset against our own server over stdio: names, schemas, every kind of result,
progress, concurrency. One server serves the whole module (starting one costs about a second)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import anyio
import pytest
import pytest_asyncio

from llmproc.tools.base import SimpleToolContext, check_tool_name, reporting_progress
from llmproc.tools.mcp import McpServers, McpTool
from llmproc.tools.toolset import Toolset

from .conftest import our_spec

pytestmark = pytest.mark.asyncio(loop_scope="module")
LONG = "a_tool_with_a_name_much_longer_than_any_provider_accepts_" + "x" * 50
CTX = SimpleToolContext()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def toolset() -> AsyncIterator[Toolset]:
    servers = McpServers({"our": our_spec()}, {"our": "all"}, call_timeout_s=10)
    with anyio.fail_after(30):
        ts = await servers.start()
    yield ts
    with anyio.fail_after(15):
        await servers.aclose()


async def call(toolset: Toolset, name: str, **args: object):
    with anyio.fail_after(10):
        return await toolset.call(name, args, CTX)


async def test_every_tool_is_listed_under_a_name_every_provider_accepts(toolset: Toolset) -> None:
    names = toolset.names
    assert names[:4] == ["our__echo", "our__add", "our__weather", "our__picture"]
    assert "our__files_read_v2" in names
    long_name = next(n for n in names if n.startswith("our__a_tool_with"))
    assert len(long_name) == 64
    for name in names:
        assert check_tool_name(name) == name
        assert name[0].isalpha() or name[0] == "_"  # Gemini's extra rule
    # The original names go to the server.
    tool = toolset.get(long_name)
    assert isinstance(tool, McpTool) and tool.mcp_name == LONG
    assert (await call(toolset, long_name)).content == "long"
    assert (await call(toolset, "our__files_read_v2", path="x")).content == "read x"


async def test_schemas_are_object_schemas_without_draft_markers(toolset: Toolset) -> None:
    specs = {s.name: s for s in toolset.specs()}
    add = specs["our__add"]
    assert add.description == "Add two integers."
    assert add.parameters["type"] == "object"
    assert set(add.parameters["properties"]) == {"a", "b"}
    assert add.parameters["required"] == ["a", "b"]
    assert specs["our__picture"].parameters["properties"] == {}
    assert all("$schema" not in s.parameters for s in specs.values())


async def test_text_and_structured_results(toolset: Toolset) -> None:
    echo = await call(toolset, "our__echo", text="héllo")
    assert (echo.content, echo.is_error, echo.images) == ("héllo", False, ())  # no {"result": ...} twice
    assert (await call(toolset, "our__add", a=2, b=40)).content == "42"
    weather = await call(toolset, "our__weather", city="Paris")
    assert json.loads(weather.content) == {"city": "Paris", "celsius": 21.5}


async def test_an_image_result_travels_as_image_data(toolset: Toolset) -> None:
    out = await call(toolset, "our__picture")
    assert not out.is_error and out.content == ""
    [image] = out.images
    assert image.media_type == "image/png"
    assert base64.b64decode(image.data).startswith(b"\x89PNG\r\n\x1a\n")


async def test_tool_errors_and_bad_arguments_are_error_results(toolset: Toolset) -> None:
    failed = await call(toolset, "our__fail", message="the disk is full")
    assert failed.is_error and "the disk is full" in failed.content
    bad = await call(toolset, "our__add", a="two", b=1)
    assert bad.is_error and "a" in bad.content
    assert (await call(toolset, "our__echo", text="still fine")).content == "still fine"


async def test_progress_notifications_reach_the_reporter_of_the_call(toolset: Toolset) -> None:
    seen: list[tuple[float, float | None, str | None]] = []
    with reporting_progress(lambda *p: seen.append(p)):
        out = await call(toolset, "our__count", steps=3)
    assert out.content == "counted to 3"
    assert seen == [(1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3")]


async def test_concurrent_calls_each_get_their_own_answer(toolset: Toolset) -> None:
    results: dict[int, str] = {}

    async def one(i: int) -> None:
        results[i] = (await toolset.call("our__echo", {"text": f"call {i}"}, CTX)).content

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(one, i)
    assert results == {i: f"call {i}" for i in range(20)}
