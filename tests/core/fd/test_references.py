"""<ref id="..."> extraction from answers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llmproc.fd import FDTable, capture_references, extract_references
from llmproc.fd.references import Reference, clean


def test_simple_and_several_references_in_order() -> None:
    text = 'Intro <ref id="a">alpha</ref> middle <ref id=\'b\'>beta</ref> end'
    assert extract_references(text) == [Reference("a", "alpha"), Reference("b", "beta")]


def test_fenced_code_is_unwrapped_and_the_leading_line_break_dropped() -> None:
    text = 'Script:\n<ref id="backup">\n```bash\ntar czf b.tgz src/\necho done\n```\n</ref>\nThat is it.'
    assert extract_references(text) == [Reference("backup", "tar czf b.tgz src/\necho done\n")]


def test_content_that_is_not_one_fenced_block_is_kept_as_written() -> None:
    two_blocks = "\n```\na\n```\ntext\n```\nb\n```\n"
    assert clean(two_blocks) == two_blocks[1:]
    assert clean("plain\ntext\n") == "plain\ntext\n"
    assert clean("\r\nwindows\r\n") == "windows\r\n"
    # A longer fence may hold a shorter one.
    assert clean("\n````md\n```py\ninner\n```\n````\n") == "```py\ninner\n```\n"


def test_nested_references_hold_the_inner_text_without_tags() -> None:
    text = '<ref id="outer">head <ref id="inner">core</ref> tail</ref>'
    assert extract_references(text) == [Reference("outer", "head core tail"), Reference("inner", "core")]


def test_invalid_names_unclosed_tags_and_stray_closers_are_skipped() -> None:
    text = ('</ref><ref id="bad name">x</ref> <ref id="ok.v-2_">y</ref> <ref id="">z</ref> '
            '<ref id="cut">never closed')
    assert extract_references(text) == [Reference("ok.v-2_", "y")]
    assert extract_references("no references here") == []


def test_later_reference_of_the_same_name_wins_in_the_table() -> None:
    table = FDTable()
    text = '<ref id="x">one</ref> <ref id="x">two</ref>'
    created = capture_references(table, text, source="reference in m2")
    assert [fd.id for fd in created] == ["fd:ref:x", "fd:ref:x"]
    assert table.get("ref:x").content == "two" and table.get("fd:ref:x").source == "reference in m2"
    assert table.ids == ["fd:ref:x"]


@given(st.text(alphabet=st.sampled_from(list("ab \n<>/\"'=")), max_size=80),
       st.from_regex(r"[A-Za-z0-9_.\-]{1,10}", fullmatch=True))
def test_marked_text_without_tags_or_fences_comes_back_exactly(body: str, name: str) -> None:
    # Text that contains no tag and does not start with a line break or fence is kept verbatim.
    if "<ref" in body.lower() or "</ref" in body.lower() or body.startswith(("\n", "\r\n")) or "```" in body:
        return
    text = f'before <ref id="{name}">{body}</ref> after'
    assert extract_references(text) == [Reference(name, body)]
