"""`llmproc store check`: is the process store whole? (llmproc.store.damage)

    llmproc store check [--store PATH_OR_URL] [--json]   exit 0 clean, 1 damage found, 2 cannot open
    llmproc store check --move-aside                     a damaged SQLite file -> FILE.damaged-<UTC time>
    llmproc store check --discard-quarantined            forget the quarantined rows once looked at

It runs SQLite's `PRAGMA integrity_check` (not on PostgreSQL, whose pages are its own business),
reads every process state (and checks its kind and schema version) and every record: what
cannot be read is quarantined on the way, as any reader of the store would, and listed.
"""

from __future__ import annotations

import json
import os
from contextlib import closing
from pathlib import Path
from typing import Any

import click

from llmproc.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, StoreConfigError, error_line
from llmproc.cli.saved import describe, open_store, store_option_with
from llmproc.errors import DamagedStoreError, StateError, StoreError


@click.group("store", short_help="Check the process store: llmproc store check.",
             context_settings={"help_option_names": ["-h", "--help"]})
def store_group() -> None:
    """The process store (saved processes, the MCP server's table)."""


@store_group.command("check", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.option("--move-aside", is_flag=True,
              help="A damaged SQLite file is renamed FILE.damaged-<UTC time> (with its -wal/-shm); "
                   "the next use starts a new store.")
@click.option("--discard-quarantined", is_flag=True, help="Delete the quarantined rows after listing them.")
@store_option_with("The store to check (default: $LLMPROC_STORE, else $LLMPROC_STATE_DIR/llmproc.db).")
def check_command(as_json: bool, move_aside: bool, discard_quarantined: bool, store_location: str | None) -> int:
    """Check the store: file integrity (SQLite), every process state and record. Exit 0 when
    clean, 1 when damage is found, 2 when the store cannot be opened."""
    from llmproc.store.open import ENV_VAR, sqlite_file

    location = store_location or os.environ.get(ENV_VAR) or None
    try:
        store = open_store(location)
    except DamagedStoreError as exc:
        return _damaged(exc, move_aside, as_json, EXIT_USAGE)
    except (StoreError, StoreConfigError) as exc:
        error_line(str(exc))
        return EXIT_USAGE
    report: dict[str, Any] = {"store": describe(store), "integrity": [], "states": [], "quarantined": []}
    try:
        with closing(store):
            _check(store, report, sqlite_file(location) is not None)
            if discard_quarantined:
                for row in report["quarantined"]:
                    store.delete_record(f"damaged:{row['kind']}", row["key"])
    except DamagedStoreError as exc:  # found at a read: the file, not a row
        return _damaged(exc, move_aside, as_json, EXIT_FAILED)
    clean = report["integrity"] == ["ok"] and not report["states"] and not report["quarantined"]
    path = getattr(store, "path", None)  # a SQLite store's file
    if report["integrity"] not in ([], ["ok"]) and move_aside and isinstance(path, Path):
        report["moved_to"] = str(_move(path))
    report["ok"] = clean
    if as_json:
        click.echo(json.dumps(report))
    else:
        _print(report, discard_quarantined)
    return EXIT_OK if clean else EXIT_FAILED


def _check(store: Any, report: dict[str, Any], is_sqlite: bool) -> None:
    from llmproc.process.migrations import migrate
    from llmproc.store.damage import DAMAGED

    if is_sqlite:
        with store._db("checking integrity") as db:
            report["integrity"] = [row[0] for row in db.execute("PRAGMA integrity_check")]
    else:
        report["integrity"] = ["ok"]  # PostgreSQL checks its own pages
    for saved in store.list():
        try:
            migrate(store.load(saved.name))  # a state that does not parse is quarantined here
        except StateError as exc:
            report["states"].append({"name": saved.name, "problem": str(exc)})
    for kind in sorted({kind for kind, _, _ in store.raw_records() if not kind.startswith(DAMAGED)}):
        store.list_records(kind)  # an unreadable record is quarantined here
    for kind, key, raw in store.raw_records(DAMAGED):
        try:
            reason = str(json.loads(raw).get("reason", ""))
        except (ValueError, AttributeError):
            reason = "unknown"
        report["quarantined"].append({"kind": kind[len(DAMAGED):], "key": key, "reason": reason})


def _damaged(exc: DamagedStoreError, move_aside: bool, as_json: bool, code: int) -> int:
    if not move_aside:
        error_line(str(exc))
        return code
    from llmproc.store.damage import moved_line

    target = _move(Path(exc.path))
    if as_json:
        click.echo(json.dumps({"store": exc.path, "ok": False, "damaged": str(exc), "moved_to": str(target)}))
    else:
        click.echo(moved_line(exc, target), err=True)
    return EXIT_FAILED


def _move(path: Path) -> Path:
    from llmproc.store.damage import move_aside

    return move_aside(path)


def _print(report: dict[str, Any], discarded: bool) -> None:
    lines = [f"store {report['store']}"]
    if report["integrity"] not in ([], ["ok"]):
        lines += [f"  integrity: {message}" for message in report["integrity"][:20]]
        lines.append(f"  moved to {report['moved_to']}" if "moved_to" in report else
                     "  the file is damaged: llmproc store check --move-aside moves it aside")
    lines += [f"  process {row['name']}: {row['problem']}" for row in report["states"]]
    verb = "discarded" if discarded else "quarantined"
    lines += [f"  {verb} damaged:{row['kind']}/{row['key']}: {row['reason']}" for row in report["quarantined"]]
    lines.append("  ok" if report["ok"] else "  damage found")
    click.echo("\n".join(lines))


__all__ = ["check_command", "store_group"]
