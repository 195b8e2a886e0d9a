"""`llmproc`: one-shot runs for scripts, plus subcommands.

    llmproc PROGRAM -p TEXT [--json]     run one prompt; stdout carries only the answer (or JSON)
    llmproc -m MODEL [-s SYSTEM] -p TEXT the same without a program file (provider from the name)
    llmproc init [PATH]                  write a starter program, every line explained
    llmproc log [ID]                     the latest runs, or one in full (--no-log on a run: not logged)
    llmproc schema                       print the JSON Schema of program files
    llmproc ps [--json]                  list saved processes (llmproc-demo --save NAME)
    llmproc ps --tree / llmproc top      llmproc-mcp's processes as a tree; top redraws it live
    llmproc rm NAME...                   delete saved processes
    llmproc store check [--move-aside]   check the store; quarantined rows, a damaged file moved aside
    (runs, log, ps, rm and store check take --store PATH_OR_URL: a SQLite path or a PostgreSQL URL;
    default $LLMPROC_STORE)

Not a click group: `llmproc PROGRAM` must work without a subcommand name, so the first word
picks the command, and `llmproc --help` lists the subcommands in its epilog.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import click

from llmproc.cli.common import run_click


@click.command("schema", short_help="Print the JSON Schema of program files.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--indent", default=2, show_default=True, help="JSON indentation.")
def schema_command(indent: int) -> int:
    """Print the JSON Schema of program files (point your editor's TOML validation at it)."""
    from llmproc.config.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=indent))
    return 0


def _subcommands() -> dict[str, click.Command]:
    from llmproc.cli.logview import log_command
    from llmproc.cli.saved import ps_command, rm_command
    from llmproc.cli.starter import init_command
    from llmproc.cli.storecheck import store_group
    from llmproc.cli.top import top_command

    return {"init": init_command, "log": log_command, "schema": schema_command, "ps": ps_command,
            "rm": rm_command, "store": store_group, "top": top_command}


SUBCOMMANDS: dict[str, click.Command] = _subcommands()


def subcommands_help() -> str:
    width = max(map(len, SUBCOMMANDS))
    rows = [f"llmproc {name.ljust(width)}  {command.get_short_help_str(limit=60)}"
            for name, command in SUBCOMMANDS.items()]
    return "Subcommands (each takes -h):\n\n\b\n" + "\n".join(rows)  # \b: click keeps the rows as they are


def run(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        return run_click(SUBCOMMANDS[args[0]], args[1:], f"llmproc {args[0]}")
    from llmproc.cli.oneshot import oneshot_command

    oneshot_command.epilog = subcommands_help()
    return run_click(oneshot_command, args, "llmproc")


def main() -> None:
    sys.exit(run())
