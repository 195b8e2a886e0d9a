"""Schemas and validators derived from typed functions."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal, Protocol

import pytest
from pydantic import BaseModel, Field

from llmproc.tools import SimpleToolContext, ToolContext, tool
from llmproc.tools.schema import InvalidToolArguments, parse_docstring


class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Point(BaseModel):
    x: int
    y: int = 0


def _all_keys(node, found=None):
    found = set() if found is None else found
    if isinstance(node, dict):
        for key, value in node.items():
            found.add(key)
            if key != "properties":
                _all_keys(value, found)
            else:
                for sub in value.values():
                    _all_keys(sub, found)
    elif isinstance(node, list):
        for item in node:
            _all_keys(item, found)
    return found


def test_types_defaults_optional_and_required():
    @tool
    def f(a: int, b: str = "x", c: float | None = None, d: bool = False, e: list[str] | None = None) -> str:
        """Do f things.

        More detail that is not part of the description.
        """
        return ""

    p = f.parameters
    assert f.name == "f"
    assert f.description == "Do f things."
    assert p["type"] == "object"
    assert p["additionalProperties"] is False
    assert p["required"] == ["a"]
    assert p["properties"]["a"] == {"type": "integer"}
    assert p["properties"]["b"] == {"type": "string", "default": "x"}
    assert p["properties"]["c"] == {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None}
    assert p["properties"]["d"] == {"type": "boolean", "default": False}
    assert p["properties"]["e"]["anyOf"][0] == {"type": "array", "items": {"type": "string"}}
    assert "title" not in _all_keys(p)


def test_descriptions_from_docstring_args_and_annotated():
    @tool
    def search(
        query: str,
        limit: Annotated[int, Field(description="From Annotated.", ge=1)] = 10,
        mode: Literal["fast", "slow"] = "fast",
    ) -> str:
        """Search for things,
        across two lines.

        Args:
            query: What to look for. It may
                continue on the next line.
            limit (int): Overridden by Annotated.
            mode: How hard to try.

        Returns:
            Nothing useful.
        """
        return ""

    props = search.parameters["properties"]
    assert search.description == "Search for things, across two lines."
    assert props["query"]["description"] == "What to look for. It may continue on the next line."
    assert props["limit"] == {"type": "integer", "minimum": 1, "default": 10, "description": "From Annotated."}
    assert props["mode"]["enum"] == ["fast", "slow"]
    assert props["mode"]["description"] == "How hard to try."


def test_explicit_name_and_description_win():
    @tool(name="other", description="Given.")
    def f(x: int) -> int:
        """From the docstring."""
        return x

    assert (f.name, f.description) == ("other", "Given.")
    assert f.spec().name == "other" and f.spec().parameters is f.parameters


def test_context_is_injected_and_hidden():
    seen = []

    @tool
    def by_type(n: int, context: ToolContext) -> str:
        seen.append(context)
        return str(n)

    @tool
    def by_name(ctx, n: int = 1) -> str:  # noqa: ANN001 - the name alone marks it
        seen.append(ctx)
        return str(n)

    assert list(by_type.parameters["properties"]) == ["n"]
    assert list(by_name.parameters["properties"]) == ["n"]
    assert "required" not in by_name.parameters


class ProcessContext(ToolContext, Protocol):
    """What the engine's richer context might look like."""

    depth: int


async def test_extended_context_protocols_are_injected(tmp_path):
    @tool
    async def f(n: int, process: ProcessContext) -> str:
        return str(process.cwd == tmp_path)

    assert list(f.parameters["properties"]) == ["n"]
    assert isinstance(SimpleToolContext(cwd=tmp_path), ToolContext)
    assert (await f.call({"n": 1}, SimpleToolContext(cwd=tmp_path))).content == "True"


async def test_context_value_is_passed(tmp_path):
    seen = []

    @tool
    async def f(n: int, ctx: ToolContext) -> str:
        seen.append(ctx)
        return str(n * 2)

    ctx = SimpleToolContext(cwd=tmp_path)
    out = await f.call({"n": 21}, ctx)
    assert out.content == "42" and not out.is_error
    assert seen == [ctx]


def test_nested_models_and_enums_are_inlined():
    @tool
    def f(p: Point, color: Color = Color.RED) -> str:
        return ""

    p = f.parameters
    assert "$defs" not in p and "$ref" not in _all_keys(p)
    assert p["properties"]["p"]["properties"] == {"x": {"type": "integer"}, "y": {"type": "integer", "default": 0}}
    assert p["properties"]["color"]["enum"] == ["red", "blue"]


async def test_validated_values_reach_the_function(tmp_path):
    got = {}

    @tool
    def f(p: Point, color: Color = Color.RED, n: int = 0) -> str:
        got.update(p=p, color=color, n=n)
        return "ok"

    out = await f.call({"p": {"x": 1}, "color": "blue", "n": "7"}, SimpleToolContext(cwd=tmp_path))
    assert out.content == "ok"
    assert got == {"p": Point(x=1, y=0), "color": Color.BLUE, "n": 7}


async def test_reserved_pydantic_names_work(tmp_path):
    @tool
    def f(json: str, model_config: int = 1) -> str:
        return f"{json}-{model_config}"

    assert set(f.parameters["properties"]) == {"json", "model_config"}
    out = await f.call({"json": "a", "model_config": 2}, SimpleToolContext(cwd=tmp_path))
    assert out.content == "a-2"


async def test_validation_errors_are_compact(tmp_path):
    @tool
    def f(n: int, name: str) -> str:
        return ""

    ctx = SimpleToolContext(cwd=tmp_path)
    with pytest.raises(InvalidToolArguments) as info:
        await f.call({"n": "abc", "extra": 1}, ctx)
    msg = str(info.value)
    assert msg.startswith("invalid arguments for f: ")
    assert "n: input should be a valid integer" in msg and "'abc'" in msg
    assert "name: required argument missing" in msg
    assert "extra: unexpected argument (expected: n, name)" in msg
    assert "\n" not in msg and "https://" not in msg


def test_return_values_become_text():
    from llmproc.tools.base import ToolOutput, to_output

    assert to_output("x") == ToolOutput("x")
    assert to_output(3) == ToolOutput("3")
    assert to_output({"a": [1, 2]}) == ToolOutput('{"a":[1,2]}')
    assert to_output(None) == ToolOutput("(no output)")
    assert to_output(ToolOutput("e", is_error=True)).is_error


def test_bad_signatures_are_refused():
    with pytest.raises(TypeError, match=r"\*args"):
        tool(lambda *a: None)
    with pytest.raises(ValueError, match="invalid tool name"):
        tool(lambda x: x, name="has space")


def test_parse_docstring_edge_cases():
    assert parse_docstring(None) == ("", {})
    desc, args = parse_docstring("""Summary only.""")
    assert (desc, args) == ("Summary only.", {})
    desc, args = parse_docstring(
        """Summary.

        Arguments:
            *names: Several.
            flag (bool, optional): A flag.

        Raises:
            ValueError: not an argument.
        """
    )
    assert desc == "Summary."
    assert args == {"names": "Several.", "flag": "A flag."}
