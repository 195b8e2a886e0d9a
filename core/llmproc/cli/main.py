"""`llmproc`: one-shot runs for scripts, plus subcommands.

    llmproc PROGRAM -p TEXT [--json]     run one prompt; stdout carries only the answer (or JSON)
    llmproc schema                       print the JSON Schema of program files
    llmproc ps [--json]                  list saved processes (llmproc-demo --save NAME)
    llmproc rm NAME...                   delete saved processes
    (ps and rm take --store PATH_OR_URL: a SQLite path or a PostgreSQL URL; default $LLMPROC_STORE)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import click

from llmproc.cli.common import run_click


@click.command("schema")
@click.option("--indent", default=2, show_default=True, help="JSON indentation.")
def schema_command(indent: int) -> int:
    """Print the JSON Schema of program files (point your editor's TOML validation at it)."""
    from llmproc.config.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=indent))
    return 0


def _saved_commands() -> dict[str, click.Command]:
    from llmproc.cli.saved import ps_command, rm_command

    return {"ps": ps_command, "rm": rm_command}


SUBCOMMANDS: dict[str, click.Command] = {"schema": schema_command, **_saved_commands()}


def run(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        return run_click(SUBCOMMANDS[args[0]], args[1:])
    from llmproc.cli.oneshot import oneshot_command

    return run_click(oneshot_command, args)


def main() -> None:
    sys.exit(run())
