"""What every CLI shares: exit codes, one-line errors, program loading.

Exit codes (documented in docs/cli.md):
    0  success
    1  the run failed (provider error after retries, budget exceeded, tool infrastructure), or
       the process store cannot be reached (PostgreSQL down or refusing the connection)
    2  usage or configuration error (bad program file, bad option, missing API key, no such saved
       process, a saved state that cannot be restored, a bad --store / $LLMPROC_STORE location:
       an unknown scheme, a malformed URL, psycopg not installed; a program file and -m together,
       a model whose provider cannot be inferred, `llmproc init` over a file, an unknown log ID,
       a damaged store file: `llmproc store check --move-aside` starts a new one)
    130 interrupted (Ctrl-C)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from llmproc.errors import (
    DamagedStoreError, LLMProcError, MissingCredentialsError, NotFoundError, ProgramConfigError, ProviderNotInstalled,
    StateError,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class StoreConfigError(Exception):
    """The process store's location is wrong (--store or $LLMPROC_STORE): exit 2, not 1."""


class InputError(Exception):
    """A well-formed command whose value or state the user must change (a --save name in use):
    one `error:` line, exit 2. Click's usage block is kept for mistyped options and arguments."""


# What the user must change (exit 2); any other LLMProcError failed the run (exit 1).
USAGE_ERRORS: tuple[type[Exception], ...] = (
    ProgramConfigError, MissingCredentialsError, ProviderNotInstalled, StateError, NotFoundError,
    StoreConfigError, InputError, DamagedStoreError)


def exit_code_for(exc: BaseException) -> int:
    """The exit code `run_click` gives `exc`; the run log records it for runs that raised."""
    if isinstance(exc, (KeyboardInterrupt, click.exceptions.Abort)):
        return EXIT_INTERRUPTED
    if isinstance(exc, click.ClickException):
        return exc.exit_code
    return EXIT_USAGE if isinstance(exc, USAGE_ERRORS) else EXIT_FAILED


def error_line(message: str) -> None:
    click.echo(f"error: {message}", err=True)


def version_option(prog_name: str) -> Callable[[Any], Any]:
    """`--version`: prints `<command> <version>`, the installed llmproc's (importlib.metadata)."""
    return click.version_option(package_name="llmproc", prog_name=prog_name, message="%(prog)s %(version)s",
                                help="Show the version and exit.")


def load_program(path: str | Path):  # -> LLMProgram; imported lazily for a fast start
    from llmproc.program import LLMProgram

    if Path(path).is_dir():
        programs = sorted(p.name for p in Path(path).glob("*.toml"))
        held = f" (it holds {', '.join(programs[:4])}{', ...' if len(programs) > 4 else ''})" if programs else ""
        raise ProgramConfigError(f"a directory, not a program file{held}", path=path)
    return LLMProgram.from_toml(path)


def run_click(command: click.Command, argv: Sequence[str] | None, prog_name: str) -> int:
    """Run a click command and map every outcome to an exit code, never a traceback."""
    # The CLIs print each retry from its ModelRetry event (none with -q); the retry logger's
    # warning would reach stderr a second time through logging's last-resort handler.
    # The same for a quarantined row: the command's own error or warning line says it (damage.py).
    for name in ("llmproc.providers.retry", "llmproc.store"):
        quiet = logging.getLogger(name)
        if not quiet.handlers:
            quiet.addHandler(logging.NullHandler())
    try:
        result = command.main(args=list(argv) if argv is not None else None, prog_name=prog_name,
                              standalone_mode=False)
        return result if isinstance(result, int) else EXIT_OK
    except click.exceptions.Abort:
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except USAGE_ERRORS as exc:
        error_line(str(exc))
        return EXIT_USAGE
    except LLMProcError as exc:
        error_line(str(exc))
        return EXIT_FAILED
    except BrokenPipeError:
        return EXIT_OK

