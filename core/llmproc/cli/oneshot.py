"""`llmproc PROGRAM -p TEXT [--json]`: one run for scripts. stdout: the answer or the JSON."""

from __future__ import annotations

import json
import sys

import click

from llmproc.cli.common import EXIT_USAGE, error_line, load_program, version_option
from llmproc.cli.display import EventPrinter
from llmproc.cli.session import Session


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("program_path", type=click.Path())  # a directory is load_program's one-line error
@click.option("-p", "--prompt", help="The prompt (default: read from stdin).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr (retries included).")
@version_option("llmproc")
def oneshot_command(program_path: str, prompt: str | None, as_json: bool, quiet: bool) -> int:
    """Run PROGRAM once on a prompt and print the answer."""
    if prompt is None:
        if sys.stdin.isatty():
            raise click.UsageError("give a prompt with -p TEXT or pipe one into stdin")
        prompt = str(sys.stdin.read()).rstrip("\n")
        if not prompt.strip():
            error_line("stdin was empty; give a prompt with -p TEXT")
            return EXIT_USAGE
    program = load_program(program_path)
    with Session() as session:
        process = session.run(program.start())
        try:
            printer = EventPrinter(text_out=sys.stderr, info=sys.stderr, stream_text=False, color=sys.stderr.isatty())
            if not quiet:
                process.subscribe(printer)
            result = session.run(process.run(prompt))
            if not quiet:
                printer.finish(result)
        finally:
            session.run(process.aclose())
    if as_json:
        payload = {"program": str(program.path), "model": program.model_name, "provider": program.provider,
                   **result.to_dict()}
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(result.answer)
    return 0
