"""The run log: one small record per run of `llmproc PROGRAM`, `llmproc -m MODEL` and
`llmproc-demo`, kept in the process store (records of kind "log"), read by `llmproc log`.

Records are small on purpose, so a store shared by a team stays small: the prompt is cut to
PROMPT_CHARS and the answer to ANSWER_CHARS (their full lengths are kept), and only the latest
KEEP runs are kept. Ids come from the store's counter, so two machines sharing a store never
write the same id, and deleting id - KEEP on each write bounds the log without listing it.

Logging is a convenience: a store that cannot be opened or written is one warning on stderr
(once per command), never a failed run. `--no-log` or LLMPROC_NO_LOG=1 turns it off.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from llmproc.cli.common import EXIT_INTERRUPTED, EXIT_OK, exit_code_for

if TYPE_CHECKING:
    from llmproc.process.result import RunResult
    from llmproc.program import LLMProgram
    from llmproc.store import ProcessStore

KIND = "log"  # the record kind, and the name of the store counter that numbers runs
PROMPT_CHARS = 200
ANSWER_CHARS = 2000
ERROR_CHARS = 500
KEEP = 1000
NO_LOG_ENV = "LLMPROC_NO_LOG"


def disabled_by_env() -> bool:
    return os.environ.get(NO_LOG_ENV, "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class Entry:
    """One run being timed; `done(result)` when it produced one."""

    program: LLMProgram
    prompt: str
    command: str
    started: float = field(default_factory=time.time)
    clock: float = field(default_factory=time.monotonic)
    result: RunResult | None = None

    def done(self, result: RunResult) -> None:
        self.result = result

    def record(self, error: BaseException | None = None) -> dict[str, Any]:
        result = self.result
        code = EXIT_OK if error is None else exit_code_for(error)
        status = "ok" if code == EXIT_OK else "interrupted" if code == EXIT_INTERRUPTED else "failed"
        answer = result.answer if result else ""
        path = self.program.path
        return {
            "time": round(self.started, 3),
            "command": self.command,
            "program": str(path) if path else None,  # None: `llmproc -m MODEL`
            "model": self.program.model_name,
            "provider": self.program.provider,
            "prompt": self.prompt[:PROMPT_CHARS],
            "prompt_chars": len(self.prompt),
            "answer": answer[:ANSWER_CHARS],
            "answer_chars": len(answer),
            "turns": result.turns if result else None,
            "tokens": result.usage.total_tokens if result else None,
            "cost_usd": result.cost_usd if result else None,
            "duration_s": round(time.monotonic() - self.clock, 3),
            "exit": code,
            "status": status,
            "error": _error_text(error),
        }


def _error_text(error: BaseException | None) -> str | None:
    if error is None:
        return None
    text = str(error) or type(error).__name__  # KeyboardInterrupt has no message
    return text[:ERROR_CHARS]


class RunLog:
    """Where a command logs its runs: the store `location` names (None: the default store),
    or nowhere when `enabled` is False."""

    def __init__(self, location: str | None, *, enabled: bool, command: str):
        self.location = location
        self.enabled = enabled and not disabled_by_env()
        self.command = command
        self.warned = False

    @contextmanager
    def run(self, program: LLMProgram, prompt: str) -> Iterator[Entry]:
        """Times the block and logs it, whether it returns or raises (the exception goes on)."""
        entry = Entry(program, prompt, self.command)
        try:
            yield entry
        except BaseException as exc:
            self.write(entry.record(exc))
            raise
        self.write(entry.record())

    def write(self, record: dict[str, Any]) -> int | None:
        """Store `record` under a new id and return it; None when logging is off or failed."""
        if not self.enabled:
            return None
        try:
            with closing(self._open()) as store:
                run_id = store.allocate(KIND)
                store.put_record(KIND, str(run_id), {"id": run_id, **record})
                if run_id > KEEP:
                    store.delete_record(KIND, str(run_id - KEEP))
                return run_id
        except Exception as exc:  # never fail the run over its log entry
            self._warn(exc)
            return None

    def _open(self) -> ProcessStore:
        from llmproc.cli.saved import open_store

        return open_store(self.location)

    def _warn(self, exc: Exception) -> None:
        if self.warned:
            return
        self.warned = True
        click.echo(f"warning: this run was not logged ({exc}); --no-log or {NO_LOG_ENV}=1 turns the log off",
                   err=True)


def latest(store: ProcessStore, count: int) -> list[dict[str, Any]]:
    """The `count` latest runs, newest first."""
    records = store.list_records(KIND).values()
    return sorted(records, key=lambda r: r.get("id", 0), reverse=True)[:count]


def no_log_option(command: Any) -> Any:
    return click.option("--no-log", is_flag=True,
                        help=f"Don't record this run in the run log (llmproc log); also {NO_LOG_ENV}=1.")(command)


__all__ = ["ANSWER_CHARS", "KEEP", "KIND", "NO_LOG_ENV", "PROMPT_CHARS", "Entry", "RunLog", "latest",
           "no_log_option"]
