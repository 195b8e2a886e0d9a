"""The tool list a host sees: names, short descriptions, honest annotations, clean schemas."""

from __future__ import annotations

import json
from pathlib import Path

import anyio

from .conftest import STEP_S, in_memory

EXPECTED = {"run_program", "spawn", "fork", "read_fd", "send", "wait", "ps", "kill"}


async def test_tools_are_listed_with_short_descriptions(programs: Path) -> None:
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == EXPECTED
    for tool in tools.values():
        assert tool.description and len(tool.description) < 2048, tool.name
        assert "ctx" not in tool.input_schema.get("properties", {}), tool.name
    # What hosts give their model (name, description, input schema) stays small: it is in every
    # conversation. Output schemas are for programs; the model APIs take no such field.
    total = sum(len(json.dumps(t.model_dump(by_alias=True, exclude_none=True, exclude={"output_schema"})))
                for t in tools.values())
    assert total < 12_000, total
    # Hosts show titles, not names made readable ("Read Fd").
    assert all(t.title and t.title[0].isupper() and t.title != t.name for t in tools.values())
    # The registered programs are named where a model chooses one.
    assert all(name in tools["run_program"].description for name in ("boss", "helper", "reader"))


async def test_results_that_report_processes_declare_their_schema(programs: Path) -> None:
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            result = await client.call_tool("ps", {})
    for name in EXPECTED - {"read_fd"}:  # read_fd returns text only: every host forwards it whole
        schema = tools[name].output_schema
        assert schema is not None and schema["required"] == ["text", "processes"], name
    assert tools["read_fd"].output_schema is None
    # The text the model reads is in both parts of the result, identical.
    assert result.structured_content is not None
    assert result.structured_content["text"] == result.content[0].text  # type: ignore[union-attr]


async def test_annotations_are_honest(programs: Path) -> None:
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
    read_only = {name for name, t in tools.items() if t.annotations and t.annotations.read_only_hint}
    assert read_only == {"read_fd", "ps", "wait"}  # hosts may run these in parallel
    for name in ("run_program", "spawn", "fork", "send"):
        ann = tools[name].annotations
        assert ann is not None and ann.read_only_hint is False and ann.open_world_hint is True
    assert tools["kill"].annotations is not None and tools["kill"].annotations.destructive_hint is True


async def test_input_schemas(programs: Path) -> None:
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
    assert tools["run_program"].input_schema["required"] == ["program", "prompt"]
    spawn = tools["spawn"].input_schema
    assert spawn["properties"]["tasks"]["type"] == "array"
    task = spawn["$defs"]["Task"]
    assert set(task["required"]) == {"program", "prompt"}
    assert set(tools["read_fd"].input_schema["properties"]) == {
        "fd", "page", "start_line", "end_line", "start_char", "end_char"}
    assert tools["ps"].input_schema.get("properties", {}) == {}
