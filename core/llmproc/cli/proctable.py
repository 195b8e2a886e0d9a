"""llmproc-mcp's process table, read from its store: `llmproc ps --tree` and `llmproc top`.

Why not the saved processes `llmproc ps` lists: a saved state records the pid, parent pid and
children pids it had in memory (docs/state.md), but those pids are per run of a program, and the
children are never saved on their own, so no saved process can be linked to another. The rows
of llmproc-mcp (records of kind "process") are linked: every fork copy names the pid it was
copied from, pids are unique across the store, and the table is what fans out to many processes.

The table is found where the server keeps it: --store, else $LLMPROC_STORE, else
$LLMPROC_MCP_STATE_DIR, else $LLMPROC_STATE_DIR/mcp (llmproc_mcp.settings.default_state_dir).
A table that does not exist yet reads as empty and is not created.
"""

from __future__ import annotations

import json
import os
from contextlib import closing
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from llmproc.cli import tree

if TYPE_CHECKING:
    from llmproc.store import ProcessStore

KIND = "process"  # llmproc_mcp.table keeps its rows under this record kind
TABLE_HELP = ("The llmproc-mcp store to read: a directory or *.db file, sqlite:///PATH, or a postgresql:// URL. "
              "Default: the server's: $LLMPROC_STORE, else $LLMPROC_MCP_STATE_DIR, else $LLMPROC_STATE_DIR/mcp.")


def table_location(store_location: str | None) -> str:
    """Where llmproc-mcp keeps its table when started with the same environment."""
    if store_location is not None:
        return store_location
    from llmproc.store.sqlite import state_dir

    return (os.environ.get("LLMPROC_STORE") or os.environ.get("LLMPROC_MCP_STATE_DIR")
            or str(state_dir() / "mcp"))


def missing_file(location: str) -> Path | None:
    """The SQLite file `location` names when it does not exist (nothing to read, nothing to make)."""
    from llmproc.cli.common import StoreConfigError
    from llmproc.errors import StoreError
    from llmproc.store.open import sqlite_file

    if not location.strip():
        raise StoreConfigError("--store needs a path or a URL (sqlite:///PATH, postgresql://...)")
    try:
        path = sqlite_file(location)
    except StoreError as exc:
        raise StoreConfigError(str(exc)) from None
    return path if path is not None and not path.exists() else None


def read_rows(location: str, *, warn: bool = False) -> tuple[list[tree.Row], str]:
    """The table's rows (unreadable records skipped) and where they were read, for messages;
    with `warn`, a stderr line for the rows skipped and one for quarantined rows (`ps` says so
    too), so that a total missing a damaged subtree does not pass for the whole table."""
    from llmproc.cli.saved import describe, open_store, warn_quarantined

    missing = missing_file(location)
    if missing is not None:
        return [], str(missing)
    with closing(open_store(location)) as store:
        rows, skipped = _rows_and_skipped(store)
        if warn:
            warn_quarantined(store)
            if skipped:
                click.echo(f"warning: {len(skipped)} process {'row' if len(skipped) == 1 else 'rows'} of an "
                           f"unknown shape left out: {', '.join(skipped[:5])}{', ...' if len(skipped) > 5 else ''} "
                           "(written by another llmproc version?)", err=True)
        return rows, describe(store)


def read_from(store: ProcessStore) -> list[tree.Row]:
    return _rows_and_skipped(store)[0]


def _rows_and_skipped(store: ProcessStore) -> tuple[list[tree.Row], list[str]]:
    rows, skipped = [], []
    for key, data in store.list_records(KIND).items():
        row = tree.row_of_record(data)
        if row is None:
            skipped.append(key)
        else:
            rows.append(row)
    return rows, skipped


def ps_tree(store_location: str | None, as_json: bool) -> int:
    """`llmproc ps --tree`: the table as a tree, with subtree totals."""
    rows, where = read_rows(table_location(store_location), warn=True)
    order = tree.build(rows)
    if as_json:
        click.echo(json.dumps([{**asdict(node.row), **tree.subtree_dict(node)} for node in order]))
    elif not order:
        click.echo(f"no llmproc-mcp processes in {where} (--tree shows the process table of llmproc-mcp; "
                   f"--store names another)", err=True)
    else:
        click.echo("\n".join(tree.line(node) for node in order))
        click.echo(tree.summary(order))
    return 0


__all__ = ["KIND", "TABLE_HELP", "missing_file", "ps_tree", "read_from", "read_rows", "table_location"]
