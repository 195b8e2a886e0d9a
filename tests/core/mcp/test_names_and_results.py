"""Tool names every provider accepts, and MCP results and schemas in llmproc's shapes."""

from __future__ import annotations

import json
import re

import mcp_types as types
from hypothesis import given
from hypothesis import strategies as st

from llmproc.tools.mcp import assign_names, sanitize
from llmproc.tools.mcp.results import EMPTY_RESULT, input_schema, to_output

# Anthropic, OpenAI and Gemini together (Gemini also wants a letter or "_" first).
PROVIDER_SAFE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


def test_sanitizing_keeps_good_names_and_repairs_others() -> None:
    assert sanitize("get_weather") == "get_weather"
    assert sanitize("get-sum") == "get-sum"
    assert sanitize("files.read/v2") == "files_read_v2"
    assert sanitize("3d render") == "_3d_render"
    assert sanitize("") == "_"
    long = sanitize("x" * 100)
    assert len(long) == 64 and long != sanitize("x" * 101)  # the hash tells them apart


def test_names_are_server_prefixed_and_clashes_get_a_suffix_on_both_sides() -> None:
    names = assign_names([("git", "status"), ("a.b", "c"), ("a_b", "c"), ("fs", "read")])
    assert names["git", "status"] == "git__status"
    assert names["fs", "read"] == "fs__read"
    clash = {names["a.b", "c"], names["a_b", "c"]}
    assert len(clash) == 2 and all(n.startswith("a_b__c_") for n in clash)
    # Stable: the same pairs in another order give the same names.
    assert assign_names(reversed(list(names))) == names


@given(st.lists(st.tuples(st.text(max_size=80), st.text(max_size=140)), max_size=30))
def test_any_server_and_tool_names_become_unique_provider_safe_names(pairs: list[tuple[str, str]]) -> None:
    names = assign_names(pairs)
    assert set(names) == set(pairs)
    assert len(set(names.values())) == len(names)
    assert all(PROVIDER_SAFE.match(n) for n in names.values())


def test_input_schemas_become_object_schemas_without_a_draft_marker() -> None:
    raw = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
           "properties": {"a": {"type": "number"}}, "required": ["a"]}
    assert input_schema(raw) == {"type": "object", "properties": {"a": {"type": "number"}}, "required": ["a"]}
    assert input_schema({"type": "object"}) == {"type": "object", "properties": {}}


def result(*content: types.ContentBlock, structured: object = None,
           is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=list(content), structured_content=structured, is_error=is_error)


def text(value: str) -> types.TextContent:
    return types.TextContent(type="text", text=value)


def test_structured_content_is_added_only_when_the_text_does_not_carry_it() -> None:
    assert to_output(result(text("3"), structured={"result": 3})).content == "3"
    assert to_output(result(text("1"), text("2"), structured={"result": [1, 2]})).content == "1\n2"
    same = json.dumps({"temp": 21})
    assert to_output(result(text(same), structured={"temp": 21})).content == same
    out = to_output(result(text("It is warm."), structured={"temp": 21}))
    assert out.content == 'It is warm.\n{"temp": 21}'
    assert to_output(result(structured={"temp": 21})).content == '{"temp": 21}'


def test_images_travel_and_what_no_model_takes_is_described() -> None:
    png = types.ImageContent(type="image", data="iVBORw0KGgo=", mime_type="image/png")
    audio = types.AudioContent(type="audio", data="AAAA" * 10, mime_type="audio/wav")
    link = types.ResourceLink(type="resource_link", name="readme", uri="file:///r.md",
                              mime_type="text/markdown", description="The readme.")
    doc = types.EmbeddedResource(type="resource",
                                 resource=types.TextResourceContents(uri="mem://a", text="alpha"))
    blob = types.EmbeddedResource(type="resource", resource=types.BlobResourceContents(
        uri="mem://b", blob="AAAA", mime_type="application/zip"))
    pic = types.EmbeddedResource(type="resource", resource=types.BlobResourceContents(
        uri="mem://p", blob="R0lG", mime_type="image/gif"))
    out = to_output(result(text("see:"), png, audio, link, doc, blob, pic))
    assert [(i.media_type, i.data) for i in out.images] == [("image/png", "iVBORw0KGgo="),
                                                            ("image/gif", "R0lG")]
    assert out.content.splitlines() == [
        "see:",
        "[audio/wav audio, about 30 bytes: not shown]",
        "[resource link readme: file:///r.md (text/markdown)] The readme.",
        "[resource mem://a]",
        "alpha",
        "[resource mem://b: application/zip, about 3 bytes: not shown]",
    ]


def test_errors_and_empty_results() -> None:
    failed = to_output(result(text("no such file"), is_error=True))
    assert failed.is_error and failed.content == "no such file"
    assert to_output(result()).content == EMPTY_RESULT
