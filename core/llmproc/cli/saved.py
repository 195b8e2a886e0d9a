"""Saved processes on the command line: `llmproc ps`, `llmproc rm`, and what
`llmproc-demo --save/--resume` needs (start or restore a process, save it after each turn).

The store is `llmproc.store.open_store()`: $LLMPROC_STATE_DIR, else the XDG state directory.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from llmproc.cli.common import error_line, load_program

if TYPE_CHECKING:
    from llmproc.process import LLMProcess
    from llmproc.store import SQLiteStore, StoredProcess

_COLUMNS = ("NAME", "PROGRAM", "TURNS", "TOKENS", "COST", "UPDATED")


def _shown_path(path: str) -> str:
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
    return (saved.name, _shown_path(saved.program), str(saved.turns), f"{saved.tokens:,}", cost, updated)


def format_table(rows: list[tuple[str, ...]]) -> str:
    table = [_COLUMNS, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(_COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table)


@click.command("ps")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per saved process.")
def ps_command(as_json: bool) -> int:
    """List saved processes: name, program, turns, tokens, cost, last update."""
    with open_store() as store:
        saved = store.list()
        where = store.path
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in saved]))
    elif not saved:
        click.echo(f"no saved processes in {where} (save one with llmproc-demo PROGRAM --save NAME)", err=True)
    else:
        click.echo(format_table([_row(s) for s in saved]))
    return 0


@click.command("rm")
@click.argument("names", nargs=-1, required=True)
def rm_command(names: tuple[str, ...]) -> int:
    """Delete saved processes."""
    with open_store() as store:
        for name in names:
            store.delete(name)
            click.echo(f"removed {name}", err=True)
    return 0


def open_store() -> SQLiteStore:
    from llmproc.store import open_store as open_default

    return open_default()


async def start_or_restore(store: SQLiteStore | None, program_path: str | None, resume: str | None,
                           save_as: str | None, force: bool) -> LLMProcess:
    """A new process of PROGRAM, or the saved process `resume` (PROGRAM, when given, must hash
    the same as the saved one unless `force`). Saving never overwrites another saved process."""
    if store is not None and save_as is not None and save_as != resume and store.exists(save_as):
        raise click.UsageError(f"a saved process named {save_as!r} exists: continue it with --resume {save_as}, "
                               f"choose another name, or remove it with: llmproc rm {save_as}")
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

    def __init__(self, store: SQLiteStore, name: str):
        self.store, self.name = store, name

    def __call__(self, process: LLMProcess, *, at_exit: bool = False) -> None:
        from llmproc.errors import LLMProcError

        try:
            self.store.save(self.name, process.snapshot())
        except (LLMProcError, ValueError) as exc:
            error_line(f"could not save {self.name!r}: {exc}")
            return
        if at_exit:
            click.echo(f"[saved as {self.name}; continue with: llmproc-demo --resume {self.name}]", err=True)
