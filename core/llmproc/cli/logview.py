"""`llmproc log [ID]`: the run log (runlog.py) as a table of the latest runs, or one run in full."""

from __future__ import annotations

import datetime
import json
from contextlib import closing
from typing import TYPE_CHECKING, Any

import click

from llmproc.cli.common import InputError
from llmproc.cli.runlog import ANSWER_CHARS, KIND, PROMPT_CHARS, latest
from llmproc.cli.saved import describe, format_table, open_store, shown_path, store_flag, store_option_with

if TYPE_CHECKING:
    from llmproc.store import ProcessStore

LOG_STORE_HELP = ("The store the runs were logged to: a directory or *.db file, sqlite:///PATH, or a "
                  "postgresql:// URL. Default: $LLMPROC_STORE, else $LLMPROC_STATE_DIR/llmproc.db.")
COLUMNS = ("ID", "WHEN", "PROGRAM", "EXIT", "TURNS", "TOKENS", "COST", "TIME", "PROMPT")
PROMPT_PREVIEW = 40


@click.command("log", short_help="List past runs (llmproc PROGRAM -p, llmproc -m), or show one.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run_id", metavar="[ID]", required=False)
@click.option("-n", "count", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many of the latest runs to list.")
@click.option("--json", "as_json", is_flag=True, help="The records as JSON (a list, or one run with ID).")
@store_option_with(LOG_STORE_HELP)
def log_command(run_id: str | None, count: int, as_json: bool, store_location: str | None) -> int:
    """List the latest runs, newest first, or show run ID in full: program or model, prompt,
    answer, turns, tokens, cost, duration and exit status."""
    with closing(open_store(store_location)) as store:
        flag = store_flag(store, store_location)
        if run_id is not None:
            record = _one(store, run_id, flag)
            click.echo(json.dumps(record, ensure_ascii=False) if as_json else format_run(record))
            return 0
        records = latest(store, count)
        where = describe(store)
    if as_json:
        click.echo(json.dumps(records, ensure_ascii=False))
    elif not records:
        click.echo(f"no runs logged in {where} (llmproc PROGRAM -p TEXT and llmproc -m MODEL log each run)",
                   err=True)
    else:
        click.echo(format_table([_row(r) for r in records], COLUMNS))
    return 0


def _one(store: ProcessStore, run_id: str, flag: str) -> dict[str, Any]:
    from llmproc.errors import NotFoundError

    try:
        return store.get_record(KIND, str(int(run_id)))  # "007" is run 7
    except (ValueError, NotFoundError):
        raise InputError(f"no run {run_id!r} in the log; list the runs with: llmproc log{flag}") from None


def source(record: dict[str, Any]) -> str:
    """What ran, as it would be run again: the program file as short as it can be shown, or
    `-m MODEL` (with --provider when the name does not imply it) for a model alone."""
    from llmproc.cli.models import infer_provider

    program = record.get("program")
    if program:
        return shown_path(program)
    model, provider = str(record.get("model", "?")), record.get("provider")
    return f"-m {model}" + (f" --provider {provider}" if provider and infer_provider(model) != provider else "")


def _when(record: dict[str, Any], seconds: bool = False) -> str:
    stamp = datetime.datetime.fromtimestamp(float(record.get("time", 0)))
    return stamp.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _tokens(record: dict[str, Any]) -> str:
    return "-" if record.get("tokens") is None else f"{record['tokens']:,}"


def _cost(record: dict[str, Any]) -> str:
    if record.get("status") != "ok" and record.get("cost_usd") is None:
        return "-"  # a failed run has no result to price
    return "?" if record.get("cost_usd") is None else f"${record['cost_usd']:.4f}"


def _duration(record: dict[str, Any]) -> str:
    return f"{float(record.get('duration_s') or 0):.1f} s"


def _row(record: dict[str, Any]) -> tuple[str, ...]:
    from llmproc.cli.display import preview  # imports the process package: not at start-up

    turns = record.get("turns")
    return (str(record.get("id", "?")), _when(record), source(record), str(record.get("exit", "?")),
            "-" if turns is None else str(turns), _tokens(record), _cost(record), _duration(record),
            preview(str(record.get("prompt", "")), PROMPT_PREVIEW))


def _cut(text: str, kept: int, total: int) -> str:
    if total <= len(text):
        return text
    return f"{text}\n[… {total:,} characters in all; the log keeps the first {kept:,}]"


def format_run(record: dict[str, Any]) -> str:
    turns = record.get("turns")
    usage = " · ".join([
        "- turns" if turns is None else f"{turns} turn{'s' if turns != 1 else ''}",
        f"{_tokens(record)} tokens", _cost(record), _duration(record)])
    lines = [
        f"run {record.get('id')} · {_when(record, seconds=True)} · {record.get('command', 'llmproc')} · "
        f"exit {record.get('exit')} ({record.get('status')})",
        f"program: {source(record)}",
        f"model: {record.get('model')} ({record.get('provider')})",
        f"usage: {usage}",
    ]
    if record.get("error"):
        lines.append(f"failed: {record['error']}")  # not "error:": this command did not fail
    prompt = str(record.get("prompt", ""))
    answer = str(record.get("answer", ""))
    lines += ["", "prompt:", _cut(prompt, PROMPT_CHARS, int(record.get("prompt_chars") or len(prompt)))]
    if record.get("status") == "ok" or answer:
        lines += ["", "answer:", _cut(answer, ANSWER_CHARS, int(record.get("answer_chars") or len(answer)))]
    return "\n".join(lines)
