"""The process tree: rows linked by parent pid, indented with tree glyphs, totals rolled up.

Shared by `llmproc ps --tree`, `llmproc top` and the `ps` tool of llmproc-mcp (which may import
llmproc, not the reverse), so the three show a tree the same way. Pure: no I/O, no terminal.

A row's own numbers are what its runs counted; a subtree's are the row's plus every row below
it. Rows come from a store others write, so links are not trusted: a parent missing from the
rows makes its child a root, and a cycle is broken where it is found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class Row:
    """One process as a tree shows it."""

    pid: int
    parent: int | None
    program: str
    status: str
    turns: int = 0
    tokens: int = 0
    cost_usd: float | None = 0.0  # None: a price was unknown
    activity: str = ""
    created: float = 0.0  # Unix seconds
    updated: float = 0.0

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def tokens_of(usage: Mapping[str, Any]) -> int:
    """Tokens as llmproc-mcp counts them: every kind but reasoning (already in the output)."""
    return sum(int(v) for k, v in usage.items() if k != "reasoning_tokens" and isinstance(v, (int, float)))


def row_of_record(data: Mapping[str, Any]) -> Row | None:
    """A `process` record of llmproc-mcp's store (llmproc_mcp.entry.Entry.record) as a Row;
    None for a record of another shape (the server quarantines those, `ps` skips them)."""
    try:
        parent = data.get("parent")
        cost = data.get("cost_usd")
        usage = data.get("usage") or {}
        return Row(pid=int(data["pid"]), parent=None if parent is None else int(parent),
                   program=str(data.get("program", "?")), status=str(data.get("status", "?")),
                   turns=int(data.get("turns") or 0), tokens=tokens_of(usage) if isinstance(usage, Mapping) else 0,
                   cost_usd=None if cost is None else float(cost), activity=str(data.get("activity", "")),
                   created=float(data.get("created") or 0.0), updated=float(data.get("updated") or 0.0))
    except (KeyError, TypeError, ValueError):
        return None


@dataclass
class Totals:
    """A subtree's numbers: the row's own plus everything below it."""

    below: int = 0  # processes under the row
    active_below: int = 0
    turns: int = 0
    tokens: int = 0
    cost_usd: float | None = 0.0

    def add(self, row: Row) -> None:
        self.turns += row.turns
        self.tokens += row.tokens
        self.cost_usd = None if self.cost_usd is None or row.cost_usd is None else self.cost_usd + row.cost_usd


@dataclass
class Node:
    row: Row
    depth: int = 0
    prefix: str = ""  # the tree glyphs before the pid: "│  └─ "
    children: list[Node] = field(default_factory=list)
    direct_only: bool = True  # every process below is a child (no grandchildren)
    subtree: Totals = field(default_factory=Totals)


def build(rows: Iterable[Row]) -> list[Node]:
    """The rows in tree order (each followed by its subtree, siblings by pid), totals rolled up."""
    nodes = {row.pid: Node(row) for row in rows}
    roots: list[Node] = []
    for node in nodes.values():
        parent = nodes.get(node.row.parent) if node.row.parent is not None else None
        (parent.children if parent is not None and parent is not node else roots).append(node)
    order: list[Node] = []
    seen: set[int] = set()

    def walk(root: Node) -> None:
        stack: list[tuple[Node, int, str, bool]] = [(root, 0, "", True)]
        while stack:  # iterative: a long fork chain must not hit the recursion limit
            node, depth, lead, last = stack.pop()
            if node.row.pid in seen:
                continue
            seen.add(node.row.pid)
            node.depth = depth
            node.prefix = lead + ("└─ " if last else "├─ ") if depth else ""
            order.append(node)
            node.children.sort(key=lambda n: n.row.pid)
            inner = lead + ("   " if last else "│  ") if depth else ""
            kids = [c for c in node.children if c.row.pid not in seen]
            for i, child in reversed(list(enumerate(kids))):
                stack.append((child, depth + 1, inner, i == len(kids) - 1))

    for root in sorted(roots, key=lambda n: n.row.pid):
        walk(root)
    for node in sorted(nodes.values(), key=lambda n: n.row.pid):  # rows on a cycle: no root reaches them
        if node.row.pid not in seen:
            node.children = [c for c in node.children if c.row.pid not in seen]
            walk(node)
    _roll_up(order)
    return order


def _roll_up(order: list[Node]) -> None:
    for node in reversed(order):  # children come after their parent: add them up bottom-up
        node.subtree.add(node.row)
        for child in node.children:
            if child.depth != node.depth + 1:  # a link dropped when a cycle was broken
                continue
            sub = child.subtree
            node.subtree.below += 1 + sub.below
            node.subtree.active_below += int(child.row.active) + sub.active_below
            node.subtree.turns += sub.turns
            node.subtree.tokens += sub.tokens
            node.subtree.cost_usd = None if node.subtree.cost_usd is None or sub.cost_usd is None \
                else node.subtree.cost_usd + sub.cost_usd
            node.direct_only = node.direct_only and not sub.below


def money(cost: float | None) -> str:
    if cost is None:
        return "cost unknown"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def below_word(node: Node) -> str:
    """'3 children', '1 child', or '5 below' when some are grandchildren."""
    count = node.subtree.below
    if not node.direct_only:
        return f"{count} below"
    return f"{count} {'child' if count == 1 else 'children'}"


def line(node: Node, *, activity_chars: int = 80) -> str:
    """'├─ 2 helper: done, 3 turns (9 in all), 12,400 tokens (38,000 with 3 children), $0.0120
    ($0.0400 in all) · turn 3: answered': one process, with its subtree's totals when it has one."""
    row, sub = node.row, node.subtree
    turns = f"{row.turns} turn{'' if row.turns == 1 else 's'}"
    tokens, cost, status = f"{row.tokens:,} tokens", money(row.cost_usd), row.status
    if sub.below:
        turns += f" ({sub.turns} in all)"
        tokens += f" ({sub.tokens:,} with {below_word(node)})"
        cost += f" ({money(sub.cost_usd)} in all)"
        if sub.active_below:
            status += f", {sub.active_below} of {sub.below} below running or queued"
    text = f"{node.prefix}{row.pid} {row.program}: {status}, {turns}, {tokens}, {cost}"
    activity = " ".join(row.activity.split())
    if activity and activity != row.status:
        text += " · " + (activity if len(activity) <= activity_chars else activity[: activity_chars - 1] + "…")
    return text


def render(rows: Iterable[Row]) -> list[str]:
    return [line(node) for node in build(rows)]


def summary(order: list[Node]) -> str:
    """'12 processes in 2 trees, 3 running or queued; 120,000 tokens, $1.20'"""
    roots = [n for n in order if n.depth == 0]
    active = sum(1 for n in order if n.row.active)
    tokens = sum(n.subtree.tokens for n in roots)
    costs = [n.subtree.cost_usd for n in roots]
    cost = None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
    trees = f" in {len(roots)} tree{'' if len(roots) == 1 else 's'}" if len(roots) != len(order) else ""
    return (f"{len(order)} process{'' if len(order) == 1 else 'es'}{trees}, {active} running or queued; "
            f"{tokens:,} tokens, {money(cost)}")


def subtree_dict(node: Node) -> dict[str, Any]:
    """The JSON of a node's place in the tree (ps --tree --json, the `ps` tool's fields)."""
    sub = node.subtree
    return {"depth": node.depth, "below": sub.below, "active_below": sub.active_below,
            "subtree_turns": sub.turns, "subtree_tokens": sub.tokens, "subtree_cost_usd": sub.cost_usd}


__all__ = ["Node", "Row", "Totals", "below_word", "build", "line", "money", "render", "row_of_record",
           "subtree_dict", "summary", "tokens_of"]
