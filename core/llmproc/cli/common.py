"""What every CLI shares: exit codes, one-line errors, program loading.

Exit codes (documented in docs/cli.md):
    0  success
    1  the run failed (provider error after retries, budget exceeded, tool infrastructure), or
       the process store cannot be reached (PostgreSQL down or refusing the connection)
    2  usage or configuration error (bad program file, bad option, missing API key, no such saved
       process, a saved state that cannot be restored, a bad --store / $LLMPROC_STORE location:
       an unknown scheme, a malformed URL, psycopg not installed)
    130 interrupted (Ctrl-C)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from llmproc.errors import (
    LLMProcError, MissingCredentialsError, NotFoundError, ProgramConfigError, ProviderNotInstalled, StateError,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class StoreConfigError(Exception):
    """The process store's location is wrong (--store or $LLMPROC_STORE): exit 2, not 1."""


def error_line(message: str) -> None:
    click.echo(f"error: {message}", err=True)


def load_program(path: str | Path):  # -> LLMProgram; imported lazily for a fast start
    from llmproc.program import LLMProgram

    return LLMProgram.from_toml(path)


def run_click(command: click.Command, argv: Sequence[str] | None) -> int:
    """Run a click command and map every outcome to an exit code, never a traceback."""
    try:
        result = command.main(args=list(argv) if argv is not None else None, standalone_mode=False)
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
    except (ProgramConfigError, MissingCredentialsError, ProviderNotInstalled, StateError, NotFoundError,
            StoreConfigError) as exc:
        error_line(str(exc))
        return EXIT_USAGE
    except LLMProcError as exc:
        error_line(str(exc))
        return EXIT_FAILED
    except BrokenPipeError:
        return EXIT_OK

