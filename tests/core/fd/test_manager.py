"""FDTable: ids, reads by page/line/char, extraction, errors, copy, adopt, serialization."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmproc.errors import FDError
from llmproc.fd import FDTable, normalize_id, render

NUMBERED = "".join(f"line {i:04d} {'x' * 40}\n" for i in range(1, 301))  # 300 lines of 51 chars


@pytest.fixture
def table() -> FDTable:
    return FDTable(page_size=1000, max_direct_chars=2000)


def test_ids_are_numbered_and_never_reused(table: FDTable) -> None:
    a, b = table.create("one"), table.create("two", source="tool x")
    assert (a.id, b.id) == ("fd:1", "fd:2") and b.source == "tool x"
    twin = table.copy()
    assert twin.create("three").id == table.create("four").id == "fd:3"  # each table counts on its own
    assert table.ids == ["fd:1", "fd:2", "fd:3"]


@pytest.mark.parametrize("raw, canonical", [
    ("fd:3", "fd:3"), ("3", "fd:3"), (3, "fd:3"), ("fd3", "fd:3"), ("FD:3", "fd:3"), (" fd:03 ", "fd:3"),
    ('"fd:3"', "fd:3"), ("ref:code", "fd:ref:code"), ("fd:ref:code", "fd:ref:code"), ("other", "other"),
])
def test_normalize_id_accepts_what_models_write(raw: str | int, canonical: str) -> None:
    assert normalize_id(raw) == canonical


def test_unknown_fd_error_lists_the_known_ones(table: FDTable) -> None:
    with pytest.raises(FDError, match="no file descriptors yet"):
        table.get("fd:1")
    table.create("a")
    table.create_reference("code", "print(1)\n")
    with pytest.raises(FDError) as info:
        table.get("fd:9")
    assert "unknown file descriptor 'fd:9'" in str(info.value) and "fd:1, fd:ref:code" in str(info.value)
    with pytest.raises(FDError, match=r"'fd:7', 'fd:8'"):
        table.select(["fd:1", "fd:7", "fd:8"])


def test_read_by_page_line_and_char(table: FDTable) -> None:
    fd = table.create(NUMBERED)
    assert fd.length == len(NUMBERED) and fd.line_count == 300
    assert fd.page_count == 16  # 19 whole lines (969 chars) per page
    first = table.read_page("fd:1", 1)
    assert first.text == NUMBERED[:969] and (first.first_line, first.last_line) == (1, 19)
    last = table.read_page(1, fd.page_count)
    assert last.text.endswith("line 0300 " + "x" * 40 + "\n") and last.end == fd.length
    lines = table.read_lines("fd:1", 10, 12)
    assert lines.text == "".join(NUMBERED.splitlines(keepends=True)[9:12]) and not lines.truncated
    chars = table.read_chars("fd:1", 5, 9)
    assert chars.text == NUMBERED[5:9] and (chars.first_line, chars.last_line) == (1, 1)


def test_line_and_char_reads_are_cut_to_the_limit_on_a_line_break(table: FDTable) -> None:
    table.create(NUMBERED)
    sel = table.read_lines("fd:1", 1, None, limit=table.max_read_chars)
    assert sel.truncated and sel.end - sel.start <= 2000 and sel.text.endswith("\n")
    assert (sel.first_line, sel.last_line) == (1, 39)
    whole = table.read_chars("fd:1", 0, None)  # no limit: the whole content
    assert whole.text == NUMBERED and not whole.truncated


def test_errors_name_the_fd_and_the_valid_range(table: FDTable) -> None:
    table.create(NUMBERED)
    with pytest.raises(FDError, match=r"^fd:1: page 17 does not exist: valid pages are 1-16$"):
        table.read_page("fd:1", 17)
    with pytest.raises(FDError, match=r"fd:1: line 301 does not exist: valid lines are 1-300"):
        table.read_lines("fd:1", 301)
    with pytest.raises(FDError, match=r"fd:1: start_char 99999 is out of range: valid starts are 0-15299"):
        table.read_chars("fd:1", 99999)


def test_extract_makes_a_new_fd_with_its_own_pages(table: FDTable) -> None:
    table.create(NUMBERED, source="tool grep")
    new = table.extract(table.read_lines("fd:1", 101, 200))
    assert new.id == "fd:2" and new.line_count == 100 and new.content.startswith("line 0101")
    assert new.source == "extract of fd:1 (lines 101-200)"
    assert table.read_lines("fd:2", 1, 1).text.startswith("line 0101")


def test_copy_shares_descriptors_and_diverges_independently(table: FDTable) -> None:
    fd = table.create(NUMBERED)
    table.create_reference("code", "v1")
    twin = table.copy()
    assert twin.get("fd:1") is fd and twin.get("fd:1").content is NUMBERED  # nothing copied
    twin.create_reference("code", "v2")
    twin.create("only in the copy")
    assert table.get("ref:code").content == "v1" and twin.get("ref:code").content == "v2"
    assert "fd:2" not in table and "fd:2" in twin


def test_adopt_keeps_ids_and_renames_on_conflict(table: FDTable) -> None:
    parent = FDTable(page_size=500)
    parent.create("a" * 10)
    parent.create(NUMBERED)
    parent.create_reference("plan", "step 1\n")
    child = FDTable(page_size=1000)
    mapping = child.adopt(parent.select(["fd:2", "ref:plan"]))
    assert mapping == {"fd:2": "fd:2", "fd:ref:plan": "fd:ref:plan"}
    assert child.get("fd:2").content is NUMBERED
    assert child.get("fd:2").page_count == 16  # pages follow the child's page size
    assert child.create("new").id == "fd:3"  # no clash with an adopted number
    again = child.adopt(parent.select(["fd:2"]))
    assert again == {"fd:2": "fd:2"}  # the same content: nothing to do
    other = FDTable()
    other.create("different")
    assert child.adopt(other.select(["fd:1"])) == {"fd:1": "fd:1"}
    clash = FDTable()
    clash.create("x")
    clash.create("not the child's fd:2")
    assert child.adopt(clash.select(["fd:2"])) == {"fd:2": "fd:4"}
    assert child.get("fd:4").content == "not the child's fd:2"


def test_to_dict_round_trips_through_json(table: FDTable) -> None:
    table.create(NUMBERED, source="tool read_file")
    table.create_reference("code", "print('hi')\n", source="reference in message m4")
    data = json.loads(json.dumps(table.to_dict()))
    back = FDTable.from_dict(data)
    assert back.ids == table.ids and back.page_size == 1000 and back.max_direct_chars == 2000
    for fd in table:
        restored = back.get(fd.id)
        assert (restored.content, restored.source) == (fd.content, fd.source)
        assert restored.page_count == fd.page_count
    assert back.create("next").id == "fd:2"
    with pytest.raises(FDError, match="format version 99"):
        FDTable.from_dict({**data, "version": 99})


@settings(max_examples=150)
@given(st.text(alphabet=st.sampled_from(list("ab\n é")), max_size=400), st.integers(1, 40))
def test_walking_read_page_reproduces_content_and_says_page_x_of_y(text: str, size: int) -> None:
    table = FDTable(page_size=size, max_direct_chars=size)
    fd = table.create(text)
    walked = []
    for page in range(1, fd.page_count + 1):
        sel = table.read_page(fd.id, page)
        shown = render.selection(sel)
        assert f'page="{page} of {fd.page_count}"' in shown
        assert ("next: read_fd" in shown) == (page < fd.page_count)
        walked.append(sel.text)
    assert "".join(walked) == text
    with pytest.raises(FDError, match=f"page {fd.page_count + 1} does not exist"):
        table.read_page(fd.id, fd.page_count + 1)
