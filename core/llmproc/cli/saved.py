"""Saved processes on the command line: `llmproc ps`, `llmproc rm`, and what
`llmproc-demo --save/--resume` needs (start or restore a process, save it after each turn).

The store is the one `--store PATH_OR_URL` names (a SQLite path, sqlite:///PATH or a PostgreSQL
URL), else `llmproc.store.open_store()`'s default: $LLMPROC_STORE, else $LLMPROC_STATE_DIR, else
the XDG state directory. A store that cannot be opened is one `error:` line: exit 2 when the
location is wrong (unknown scheme, malformed URL, psycopg not installed, a newer store format),
exit 1 when it cannot be reached (server down, connection refused, file not openable).
"""

from __future__ import annotations

import datetime
import json
import shlex
import sqlite3
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import click

from llmproc.cli.common import InputError, StoreConfigError, error_line, load_program

if TYPE_CHECKING:
    from llmproc.errors import StoreError
    from llmproc.process import LLMProcess
    from llmproc.store import ProcessStore, StoredProcess

STORE_HELP = ("Where saved processes are kept: a directory or *.db file, sqlite:///PATH, or a "
              "postgresql:// URL. Default: $LLMPROC_STORE, else $LLMPROC_STATE_DIR/llmproc.db.")

_COLUMNS = ("NAME", "PROGRAM", "TURNS", "TOKENS", "COST", "UPDATED")


def shown_path(path: str) -> str:
    """A program path as short as it can be: relative to the working directory, or with ~."""
    if not path.startswith("/"):
        return path  # the name of a program built in code
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        home = str(Path.home())
        return "~" + path[len(home):] if path.startswith(home + "/") else path


def _row(saved: StoredProcess) -> tuple[str, ...]:
    cost = "?" if saved.cost_usd is None else f"${saved.cost_usd:.4f}"
    updated = datetime.datetime.fromtimestamp(saved.updated_at).strftime("%Y-%m-%d %H:%M")
    return (saved.name, shown_path(saved.program), str(saved.turns), f"{saved.tokens:,}", cost, updated)


def format_table(rows: list[tuple[str, ...]], columns: tuple[str, ...] = _COLUMNS) -> str:
    table = [columns, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table)


def store_option_with(help_text: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """A `--store PATH_OR_URL` option saying what the command keeps there (`store_location`)."""
    return click.option("--store", "store_location", metavar="PATH_OR_URL", help=help_text)


store_option = store_option_with(STORE_HELP)


@click.command("ps", short_help="List saved processes (llmproc-demo --save NAME).",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--json", "as_json", is_flag=True, help="One JSON object per saved process.")
@click.option("--tree", is_flag=True, help="llmproc-mcp's process table as a tree, totals per subtree "
              "(default store: the server's; see llmproc top).")
@store_option
def ps_command(as_json: bool, tree: bool, store_location: str | None) -> int:
    """List saved processes: name, program, turns, tokens, cost, last update."""
    if tree:  # saved processes carry no usable parent links (cli/proctable.py says why)
        from llmproc.cli.proctable import ps_tree

        return ps_tree(store_location, as_json)
    with closing(open_store(store_location)) as store:
        saved = store.list()
        where = describe(store)
        warn_quarantined(store)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in saved]))
    elif not saved:
        click.echo(f"no saved processes in {where} (save one with llmproc-demo PROGRAM --save NAME"
                   f"{store_flag(store, store_location)})", err=True)
    else:
        click.echo(format_table([_row(s) for s in saved]))
    return 0


@click.command("rm", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, required=True)
@store_option
def rm_command(names: tuple[str, ...], store_location: str | None) -> int:
    """Delete saved processes."""
    with closing(open_store(store_location)) as store:
        for name in names:
            store.delete(name)
            click.echo(f"removed {name}", err=True)
    return 0


def open_store(location: str | None = None) -> ProcessStore:
    """The store `location` (--store) names, else the default (`llmproc.store.open_store`).
    StoreConfigError (exit 2) when the location is wrong; StoreError (exit 1) when the store
    named cannot be reached."""
    from llmproc.errors import DamagedStoreError, StoreError
    from llmproc.store import open_store as open_location

    if location is not None and not location.strip():
        raise StoreConfigError("--store needs a path or a URL (sqlite:///PATH, postgresql://...)")
    try:
        return open_location(location)
    except StoreError as exc:
        if _unreachable(exc) or isinstance(exc, DamagedStoreError):  # damaged: exit 2, its own line
            raise
        raise StoreConfigError(str(exc)) from None


def warn_quarantined(store: ProcessStore) -> None:
    """One stderr line when the store holds quarantined rows (llmproc.store.damage)."""
    from llmproc.store.damage import DAMAGED

    raw_records = getattr(store, "raw_records", None)
    found = raw_records(DAMAGED) if raw_records is not None else []
    if found:
        names = ", ".join(f"{kind[len(DAMAGED):]}/{key}" for kind, key, _ in found[:5])
        more = ", ..." if len(found) > 5 else ""
        rows = "row" if len(found) == 1 else "rows"
        click.echo(f"warning: {len(found)} damaged {rows} quarantined in {describe(store)}: {names}{more} "
                   f"(llmproc store check)", err=True)


def _unreachable(exc: StoreError) -> bool:
    """Whether opening failed on the way to the store (an OperationalError of either driver: a
    server down, a refused connection, a file that cannot be opened), not on what was asked."""
    cause = exc.__cause__ or exc.__context__
    psycopg = sys.modules.get("psycopg")
    return isinstance(cause, (OSError, sqlite3.OperationalError)) or (
        psycopg is not None and isinstance(cause, psycopg.OperationalError))


def describe(store: ProcessStore) -> str:
    """Where the store is, for messages (a PostgreSQL URL without its password)."""
    return str(getattr(store, "location", None) or getattr(store, "path", None) or store)


def store_flag(store: ProcessStore | None, location: str | None) -> str:
    """` --store WHERE` for the commands a message suggests, when --store chose the store."""
    if store is None or location is None:
        return ""
    return f" --store {shlex.quote(describe(store))}"


def _exists(store: ProcessStore, name: str) -> bool:
    exists = getattr(store, "exists", None)
    if exists is not None:
        return bool(exists(name))
    return any(saved.name == name for saved in store.list())


async def start_or_restore(store: ProcessStore | None, program_path: str | None, resume: str | None,
                           save_as: str | None, force: bool, store_location: str | None = None) -> LLMProcess:
    """A new process of PROGRAM, or the saved process `resume` (PROGRAM, when given, must hash
    the same as the saved one unless `force`). Saving never overwrites another saved process."""
    if store is not None and save_as is not None and save_as != resume and _exists(store, save_as):
        flag = store_flag(store, store_location)
        raise InputError(f"a saved process named {save_as!r} exists: continue it with "
                         f"--resume {save_as}{flag}, choose another name, or remove it with: "
                         f"llmproc rm {save_as}{flag}")
    program = load_program(program_path) if program_path else None
    if resume is None:
        assert program is not None
        return await program.start()
    assert store is not None
    from llmproc.process import LLMProcess

    return await LLMProcess.restore(store.load(resume), program=program, allow_changed_program=force)


class Saver:
    """Saves the process as `name` after each turn and at exit. A failed save is reported and
    the session goes on: losing a save must not lose the conversation in progress."""

    def __init__(self, store: ProcessStore, name: str, store_location: str | None = None):
        self.store, self.name = store, name
        self.flag = store_flag(store, store_location)

    def __call__(self, process: LLMProcess, *, at_exit: bool = False) -> None:
        from llmproc.errors import LLMProcError

        try:
            self.store.save(self.name, process.snapshot())
        except (LLMProcError, ValueError) as exc:
            error_line(f"could not save {self.name!r}: {exc}")
            return
        if at_exit:
            click.echo(f"[saved as {self.name}; continue with: llmproc-demo --resume {self.name}{self.flag}]",
                       err=True)
