"""`llmproc-prompt PROGRAM`: print the enriched system prompt. No API call, no API key, no SDK import."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

import click

from llmproc.cli.common import load_program, run_click, version_option

_TAG = re.compile(r"^(</?[a-z_]+(?: [^>]*)?>)$", re.MULTILINE)


def colorize(text: str) -> str:
    return _TAG.sub(lambda m: click.style(m.group(1), fg="cyan", bold=True), text)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("program_path", type=click.Path())  # a directory is load_program's one-line error
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE instead of stdout.")
@click.option("-E", "--no-env", is_flag=True, help="Don't include environment information.")
@click.option("-C", "--no-color", is_flag=True, help="Don't colorize the output.")
@version_option("llmproc-prompt")
def prompt_command(program_path: str, output: str | None, no_env: bool, no_color: bool) -> int:
    """Print the enriched system prompt for a program."""
    program = load_program(program_path)
    enriched = program.enriched_system_prompt(include_env=not no_env)
    for warning in enriched.warnings:
        click.echo(f"warning: {warning}", err=True)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(enriched.text + "\n")
        click.echo(f"wrote {output}", err=True)
        return 0
    # Colour only for a person at a terminal; pipes and files get plain text.
    text = enriched.text if no_color or not sys.stdout.isatty() else colorize(enriched.text)
    click.echo(text)
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    return run_click(prompt_command, argv, "llmproc-prompt")


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
