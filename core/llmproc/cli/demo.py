"""`llmproc-demo PROGRAM`: talk to a program.

    llmproc-demo PROGRAM            interactive: streamed answers, tool calls, tokens and cost per turn
    llmproc-demo PROGRAM -p TEXT    one prompt
    llmproc-demo PROGRAM -n         the prompt is read from stdin
    llmproc-demo PROGRAM --save NAME    save the process after each turn and at exit
    llmproc-demo --resume NAME      continue a saved process (and keep saving it)
    ... --store PATH_OR_URL         with --save/--resume: the store (default $LLMPROC_STORE)
    ... --no-log                    don't record the turns in the run log (llmproc log)

In the non-interactive modes stdout carries only the final answer; progress, tool calls and
usage go to stderr. Interactive: `exit` or `quit` ends the session, Ctrl-C cancels the turn.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence

import click

from llmproc.cli.common import EXIT_INTERRUPTED, EXIT_USAGE, error_line, run_click, version_option
from llmproc.cli.display import EventPrinter
from llmproc.cli.runlog import RunLog, no_log_option
from llmproc.cli.saved import Saver, open_store, start_or_restore, store_option
from llmproc.cli.session import Session
from llmproc.errors import BudgetExceeded, ProviderError


def _read_line(prompt: str) -> str | None:
    try:
        return input(prompt)
    except EOFError:
        return None


def interactive(session: Session, process, color: bool, log: RunLog, after_turn: Saver | None = None) -> int:
    program = process.program
    printer = EventPrinter(text_out=sys.stdout, info=sys.stderr, stream_text=True, color=color)
    process.subscribe(printer)
    click.echo(f"{program.display_name} — type 'exit' or 'quit' to leave, Ctrl-C to cancel a turn.", err=True)
    queued = list(program.config.demo.prompts)
    while True:
        if queued:
            line = queued.pop(0)
            click.echo(f"> {line}", err=True)
            if program.config.demo.pause_between_prompts and sys.stdin.isatty():
                _read_line("(Enter to send) ")
        else:
            line = _read_line("> ")
            if line is None or line.strip() in ("exit", "quit"):
                return 0
            if not line.strip():
                continue
        try:
            with log.run(program, line) as entry:  # each turn is one run in the log
                entry.done(session.run(process.run(line, stream=True)))
            assert entry.result is not None
            printer.finish(entry.result)
        except KeyboardInterrupt:
            click.echo("\n[turn cancelled; the conversation continues]", err=True)
        except (ProviderError, BudgetExceeded) as exc:
            error_line(str(exc))
        if after_turn:
            after_turn(process)


def single(session: Session, process, prompt: str, color: bool, log: RunLog) -> int:
    printer = EventPrinter(text_out=sys.stderr, info=sys.stderr, stream_text=False, color=color)
    process.subscribe(printer)
    with log.run(process.program, prompt) as entry:
        entry.done(session.run(process.run(prompt, stream=True)))
    assert entry.result is not None
    printer.finish(entry.result)
    click.echo(entry.result.answer)
    return 0


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("program_path", required=False, type=click.Path())  # a directory: load_program's error
@click.option("-p", "--prompt", help="Run with a single prompt (non-interactive mode).")
@click.option("-n", "--non-interactive", "from_stdin", is_flag=True, help="Read the prompt from stdin (pipe mode).")
@click.option("--save", "save_as", metavar="NAME", help="Save the process as NAME after each turn and at exit.")
@click.option("--resume", metavar="NAME",
              help="Continue the saved process NAME and keep saving it; PROGRAM may then be omitted.")
@click.option("--force", is_flag=True, help="With --resume: restore even if the program changed since the save.")
@store_option
@no_log_option
@version_option("llmproc-demo")
def demo_command(program_path: str | None, prompt: str | None, from_stdin: bool, save_as: str | None,
                 resume: str | None, force: bool, store_location: str | None, no_log: bool) -> int:
    """Talk to PROGRAM: an interactive session, or one prompt with -p TEXT or -n (stdin)."""
    if prompt is not None and from_stdin:
        raise click.UsageError("give -p TEXT or -n (stdin), not both")
    if program_path is None and resume is None:
        raise click.UsageError("give PROGRAM, or --resume NAME to continue a saved process")
    if store_location is not None and save_as is None and resume is None:
        raise click.UsageError("--store goes with --save NAME or --resume NAME")
    if from_stdin:
        prompt = str(sys.stdin.read()).rstrip("\n")
        if not prompt.strip():
            error_line("-n: stdin was empty; pipe a prompt in, e.g. echo 'Hi' | llmproc-demo PROGRAM -n")
            return EXIT_USAGE
    color = sys.stderr.isatty()
    save_as = save_as or resume
    store = open_store(store_location) if save_as else None
    with Session() as session, contextlib.closing(store) if store else contextlib.nullcontext():
        process = session.run(start_or_restore(store, program_path, resume, save_as, force, store_location))
        save = Saver(store, save_as, store_location) if store and save_as else None
        log = RunLog(store_location, enabled=not no_log, command="llmproc-demo")  # --store: the save's store
        try:
            if prompt is None:
                return interactive(session, process, color, log, after_turn=save)
            return single(session, process, prompt, color, log)
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
        finally:
            if save:
                save(process, at_exit=True)
            session.run(process.aclose())


def run(argv: Sequence[str] | None = None) -> int:
    return run_click(demo_command, argv, "llmproc-demo")


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
