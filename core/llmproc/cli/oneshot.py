"""`llmproc PROGRAM -p TEXT [--json]` and `llmproc -m MODEL [-s SYSTEM] -p TEXT`: one run for
scripts. stdout: the answer or the JSON. Both forms build an `LLMProgram` and go through
`run_once`, so a model named on the command line behaves exactly as a program file would."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from llmproc.cli.common import EXIT_USAGE, InputError, error_line, load_program, version_option
from llmproc.cli.display import EventPrinter
from llmproc.cli.runlog import RunLog, no_log_option
from llmproc.cli.saved import store_option_with
from llmproc.cli.session import Session

if TYPE_CHECKING:
    from llmproc.program import LLMProgram

LOG_STORE_HELP = ("Where the run is logged (llmproc log): a directory or *.db file, sqlite:///PATH, or a "
                  "postgresql:// URL. Default: $LLMPROC_STORE, else $LLMPROC_STATE_DIR/llmproc.db.")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
# Optional so that -m can stand in for it; the metavar keeps the usage line saying so.
@click.argument("program_path", required=False, type=click.Path(), metavar="PROGRAM_PATH | -m MODEL")
@click.option("-p", "--prompt", help="The prompt (default: read from stdin).")
@click.option("-m", "--model", help="Run MODEL without a program file (provider inferred from the name).")
@click.option("-s", "--system", help="With -m: the system prompt.")
@click.option("--provider", metavar="NAME",
              help="With -m: the provider, as in a program file (needed when the model's name does not imply it).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr (retries included).")
@no_log_option
@store_option_with(LOG_STORE_HELP)
@version_option("llmproc")
def oneshot_command(program_path: str | None, prompt: str | None, model: str | None, system: str | None,
                    provider: str | None, as_json: bool, quiet: bool, no_log: bool,
                    store_location: str | None) -> int:
    """Run PROGRAM_PATH (or MODEL, with -m) once on a prompt and print the answer."""
    check_arguments(program_path, model, system, provider)
    if prompt is None:
        if sys.stdin.isatty():
            raise click.UsageError("give a prompt with -p TEXT or pipe one into stdin")
        prompt = str(sys.stdin.read()).rstrip("\n")
        if not prompt.strip():
            error_line("stdin was empty; give a prompt with -p TEXT")
            return EXIT_USAGE
    if model is not None:
        from llmproc.cli.models import program_for_model

        program = program_for_model(model, provider, system)
    else:
        assert program_path is not None
        program = load_program(program_path)
    log = RunLog(store_location, enabled=not no_log, command="llmproc")
    return run_once(program, prompt, as_json=as_json, quiet=quiet, log=log)


def check_arguments(program_path: str | None, model: str | None, system: str | None, provider: str | None) -> None:
    """A program file or -m MODEL, not both: one `error:` line (exit 2) for the mix-ups."""
    if program_path is not None and model is not None:
        raise InputError(f"give PROGRAM_PATH or -m MODEL, not both ({program_path!r} and -m {model})")
    if model is None:
        extra = [flag for flag, value in (("-s/--system", system), ("--provider", provider)) if value is not None]
        if extra:
            raise InputError(f"{' and '.join(extra)} go{'es' if len(extra) == 1 else ''} with -m MODEL; "
                             "a program file sets them itself")
        if program_path is None:
            raise click.UsageError("give PROGRAM_PATH (a program file) or -m MODEL")


def run_once(program: LLMProgram, prompt: str, *, as_json: bool, quiet: bool, log: RunLog) -> int:
    with Session() as session:
        process = session.run(program.start())
        try:
            printer = EventPrinter(text_out=sys.stderr, info=sys.stderr, stream_text=False, color=sys.stderr.isatty())
            if not quiet:
                process.subscribe(printer)
            with log.run(program, prompt) as entry:
                entry.done(session.run(process.run(prompt)))
            result = entry.result
            assert result is not None
            if not quiet:
                printer.finish(result)
        finally:
            session.run(process.aclose())
    if as_json:
        path = program.path
        payload = {"program": str(path) if path else None, "model": program.model_name,
                   "provider": program.provider, **result.to_dict()}
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(result.answer)
    return 0
