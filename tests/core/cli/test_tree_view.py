"""The tree `llmproc ps --tree`, `llmproc top` and llmproc-mcp's `ps` share: rows from a store
others write, so odd links (a missing parent, a cycle, a long chain) still give a whole tree."""

from __future__ import annotations

import threading

from llmproc.cli import tree
from llmproc.cli.top import Reader, columns, frame


def row(pid: int, parent: int | None, tokens: int = 100, cost: float | None = 0.01, status: str = "done",
        activity: str = "") -> tree.Row:
    return tree.Row(pid=pid, parent=parent, program="p", status=status, turns=1, tokens=tokens, cost_usd=cost,
                    activity=activity, created=1000.0, updated=1000.0)


def test_children_sorted_by_pid_with_glyphs_and_totals() -> None:
    order = tree.build([row(5, 1), row(1, None), row(3, 1), row(4, 3, status="running"), row(2, None)])
    assert [(n.prefix, n.row.pid) for n in order] == [("", 1), ("├─ ", 3), ("│  └─ ", 4), ("└─ ", 5), ("", 2)]
    top = order[0]
    assert (top.subtree.below, top.subtree.active_below, top.subtree.tokens) == (3, 1, 400)
    assert tree.line(top).startswith("1 p: done, 1 of 3 below running or queued, 1 turn (4 in all), "
                                     "100 tokens (400 with 3 below), $0.0100 ($0.0400 in all)")
    assert "(200 with 1 child)" in tree.line(order[1])
    assert tree.summary(order) == "5 processes in 2 trees, 1 running or queued; 500 tokens, $0.0500"


def test_odd_links_still_make_a_tree() -> None:
    order = tree.build([row(7, 99), row(8, 9), row(9, 8), row(10, 10)])  # orphan, cycle, own parent
    assert sorted(n.row.pid for n in order) == [7, 8, 9, 10]
    assert {n.row.pid for n in order if n.depth == 0} == {7, 8, 10}
    assert next(n for n in order if n.row.pid == 8).subtree.tokens == 200  # 9 counted once


def test_unknown_cost_stays_unknown_and_long_chains_build() -> None:
    order = tree.build([row(1, None), row(2, 1, cost=None)])
    assert order[0].subtree.cost_usd is None and "(cost unknown in all)" in tree.line(order[0])
    chain = tree.build([row(i, i - 1 if i > 1 else None) for i in range(1, 5001)])  # no recursion limit
    assert chain[0].subtree.below == 4999 and chain[-1].depth == 4999


def test_top_frame_fits_the_terminal() -> None:
    rows = [row(1, None, status="running", activity="turn 1: " + "x" * 200),
            *(row(i, 1) for i in range(2, 40)), row(50, None)]
    lines = frame(rows, where="db", now=1060.0, width=100, height=12)
    assert len(lines) == 12 and all(len(line) <= 100 for line in lines)
    assert lines[-1].startswith("… 32 more lines")  # 4 + 39 rows, 11 shown
    assert lines[4].startswith("1 ") and lines[4].endswith("…") and "1m00s" in lines[4]
    idle = frame([row(50, None)], where="db", now=1060.0, width=None, height=None)
    assert idle[-1] == "nothing running (1 finished; --all shows them)"


def test_top_measures_wide_characters_in_terminal_columns() -> None:
    """CJK takes two columns a character: cut or padded by characters, a line would wrap."""
    rows = [tree.Row(pid=1, parent=None, program="研究助手", status="running", turns=1, tokens=10, cost_usd=0.0,
                     activity="turn 1: " + "読む" * 60, created=1000.0, updated=1000.0),
            row(2, None, status="running", activity="turn 1: plain")]
    lines = frame(rows, where="db", now=1060.0, width=80, height=None)
    assert all(columns(line) <= 80 for line in lines) and lines[4].endswith("…")
    assert columns(lines[4]) in (79, 80)  # a wide character never sticks out past the edge
    header = lines[3]
    # the columns after PROGRAM start at the same terminal column on every line
    starts = {columns(line[: line.index("running")]) for line in lines[4:]}
    assert len(starts) == 1 and columns(header[: header.index("STATUS")]) in starts
    assert columns("é") == 1 and columns("e\u0301") == 1 and columns("🙂") == 2


def test_a_slow_store_leaves_the_last_frame_up() -> None:
    release = threading.Event()
    reader = Reader("unused")
    reader._read = lambda: (release.wait(10), ([row(1, None)], "db"))[1]  # type: ignore[method-assign]
    reader.latest(timeout=0.05)
    assert reader.rows == [] and reader.note == "reading the store…"  # nothing read yet
    release.set()
    reader.latest(timeout=5)
    assert [r.pid for r in reader.rows] == [1] and reader.note == "" and reader.where == "db"
    release.clear()
    reader.latest(timeout=0.05)  # a later read that hangs: the last rows stay, and it says why
    assert [r.pid for r in reader.rows] == [1] and "slow" in reader.note
    release.set()
