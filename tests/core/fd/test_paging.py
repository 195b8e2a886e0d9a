"""The paging math, checked as properties over generated content (hypothesis) and on cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmproc.fd.paging import PageTable, cut_point

# Text rich in line breaks, long lines, "\r\n" and non-ASCII, so every boundary rule is exercised.
texts = st.text(alphabet=st.sampled_from(list("ab \n\n\r\té€😀")), max_size=600)
page_sizes = st.integers(min_value=1, max_value=60)


def pages_of(text: str, table: PageTable) -> list[str]:
    return [text[slice(*table.page_bounds(p))] for p in range(1, table.page_count + 1)]


def lines_of(text: str) -> list[str]:
    """Lines as the fd system defines them: split after each "\\n", no empty line at the end."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    return lines + ([parts[-1]] if parts[-1] else [])


@settings(max_examples=400)
@given(texts, page_sizes)
def test_walking_the_pages_reproduces_the_content_exactly(text: str, size: int) -> None:
    table = PageTable.build(text, size)
    pages = pages_of(text, table)
    assert "".join(pages) == text  # every character exactly once, in order
    assert len(pages) == table.page_count  # "page x of y": y is the number of pages there are
    bounds = [table.page_bounds(p) for p in range(1, table.page_count + 1)]
    assert bounds[0][0] == 0 and bounds[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))  # no gap, no overlap
    assert all(len(page) <= size for page in pages)
    assert all(page for page in pages[:-1])  # only the last page may be empty (empty content)


@settings(max_examples=400)
@given(texts, page_sizes)
def test_pages_end_on_line_breaks_where_possible_and_are_more_than_half_full(text: str, size: int) -> None:
    table = PageTable.build(text, size)
    for p in range(1, table.page_count):  # every page but the last
        start, end = table.page_bounds(p)
        window = text[start + size // 2:start + size]
        if "\n" in window:
            # It ends after the last line break of the second half of its window.
            assert text[end - 1] == "\n" and "\n" not in text[end:start + size]
        else:
            assert end - start == size  # a hard cut only when there is no line break to end on
        assert end - start > size // 2
    # So the page count stays close to length / size.
    assert table.page_count <= max(1, 2 * len(text) // (size // 2 + 1) + 1)


@settings(max_examples=300)
@given(texts, page_sizes)
def test_line_numbers_agree_with_the_content(text: str, size: int) -> None:
    table = PageTable.build(text, size)
    lines = lines_of(text)
    assert table.line_count == len(lines)
    offset = 0
    for number, line in enumerate(lines, start=1):
        assert table.line_start(text, number) == offset
        assert table.line_bounds(text, number, number) == (offset, offset + len(line))
        for i in range(len(line)):
            assert table.line_of(text, offset + i) == number
        offset += len(line)


@settings(max_examples=200)
@given(st.text(alphabet=st.sampled_from(["\n", "\n", "\n", "a"]), max_size=900), st.integers(40, 300))
def test_line_starts_in_pages_dense_with_line_breaks(text: str, size: int) -> None:
    # Pages holding many line breaks take the bisecting path of line_start.
    table = PageTable.build(text, size)
    offset = 0
    for number, line in enumerate(lines_of(text), start=1):
        assert table.line_start(text, number) == offset
        offset += len(line)


@settings(max_examples=300)
@given(texts, page_sizes, st.data())
def test_line_ranges_are_the_joined_lines(text: str, size: int, data: st.DataObject) -> None:
    table = PageTable.build(text, size)
    lines = lines_of(text)
    if not lines:
        return
    first = data.draw(st.integers(1, len(lines)))
    last = data.draw(st.integers(first, len(lines) + 5))  # past the end is clamped
    start, end = table.line_bounds(text, first, last)
    assert text[start:end] == "".join(lines[first - 1:last])


@settings(max_examples=300)
@given(texts, page_sizes, st.data())
def test_page_of_and_page_line_spans_are_consistent(text: str, size: int, data: st.DataObject) -> None:
    table = PageTable.build(text, size)
    for p in range(1, table.page_count + 1):
        start, end = table.page_bounds(p)
        if end > start:
            assert table.page_of(start) == p and table.page_of(end - 1) == p
            assert table.line_of(text, start) == text[:start].count("\n") + 1


@given(texts, st.integers(1, 50), st.data())
def test_cut_point_bounds_a_read(text: str, limit: int, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    stop = cut_point(text, start, end, limit)
    assert start <= stop <= end and stop - start <= limit
    if end - start <= limit:
        assert stop == end
    else:
        assert stop > start


def test_empty_content_has_one_empty_page_and_no_lines() -> None:
    table = PageTable.build("", 10)
    assert table.page_count == 1 and table.page_bounds(1) == (0, 0)
    assert table.line_count == 0 and table.line_of("", 0) == 0
    assert table.char_bounds(0, None) == (0, 0)
    with pytest.raises(ValueError, match="the content is empty"):
        table.line_bounds("", 1, 1)


def test_page_boundaries_prefer_line_breaks() -> None:
    text = "".join(f"{i:03d} abcdef\n" for i in range(100))  # 11-character lines
    table = PageTable.build(text, 40)  # three whole lines fit in a page
    pages = pages_of(text, table)
    assert all(page.endswith("\n") and len(page) == 33 for page in pages[:-1])
    assert table.page_count == 34 and pages[-1] == "099 abcdef\n"


def test_a_line_longer_than_a_page_is_cut_hard() -> None:
    text = "x" * 25 + "\nshort\n"
    pages = pages_of(text, PageTable.build(text, 10))
    assert pages == ["x" * 10, "x" * 10, "xxxxx\n", "short\n"]


def test_out_of_range_errors_state_the_valid_range() -> None:
    text = "one\ntwo\nthree\n"
    table = PageTable.build(text, 5)
    assert pages_of(text, table) == ["one\n", "two\n", "three", "\n"]
    with pytest.raises(ValueError, match=r"page 9 does not exist: valid pages are 1-4"):
        table.page_bounds(9)
    with pytest.raises(ValueError, match=r"page 0 does not exist"):
        table.page_bounds(0)
    with pytest.raises(ValueError, match="there is only page 1"):
        PageTable.build("short", 100).page_bounds(2)
    with pytest.raises(ValueError, match=r"line 4 does not exist: valid lines are 1-3"):
        table.line_bounds(text, 4, 5)
    with pytest.raises(ValueError, match="before start_line"):
        table.line_bounds(text, 3, 2)
    with pytest.raises(ValueError, match=r"valid starts are 0-13"):
        table.char_bounds(14, None)
    with pytest.raises(ValueError, match="greater than start_char"):
        table.char_bounds(5, 5)
    with pytest.raises(ValueError):
        PageTable.build(text, 0)


def test_last_line_without_a_line_break_counts() -> None:
    table = PageTable.build("a\nb", 1)
    assert table.line_count == 2 and table.line_bounds("a\nb", 2, 2) == (2, 3)
