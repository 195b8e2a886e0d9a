"""What one file-tool call may cost: linear-time regexes, step and time budgets, and a timeout
after which the worker thread really stops.

Regexes (grep patterns, compiled globs) run on RE2 (the `google-re2` package): its matching time
is linear in the input, so no pattern can backtrack for minutes while holding the GIL. Patterns
that need backtracking (backreferences, lookaround, ...) are refused with one line naming the
feature. Long work runs in a worker thread that checks a `Budget` (entries or lines visited, a
deadline and a stop flag); `run_bounded` sets the flag when the call times out or is cancelled,
so an abandoned thread stops at its next check instead of spinning on.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

import anyio
import anyio.to_thread
import re2  # pyright: ignore[reportMissingTypeStubs]

from llmproc.errors import ToolError

TOOL_SECONDS = 20.0  # a walk or a read stops here and says so
GRACE_SECONDS = 5.0  # then the call gives up waiting for its thread (which stops at its next check)

T = TypeVar("T")


class Matcher(Protocol):
    def search(self, text: bytes | str) -> object | None: ...
    def fullmatch(self, text: bytes | str) -> object | None: ...


@dataclass
class Budget:
    """Checked by a worker inside its loop: `spent()` is true once a limit is reached."""

    seconds: float = TOOL_SECONDS
    deadline: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)
    reason: str | None = None  # "time" or "stopped" once spent

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.seconds

    def spent(self) -> bool:
        if self.reason is not None:
            return True
        if self.stop.is_set():
            self.reason = "stopped"
        elif time.monotonic() > self.deadline:
            self.reason = "time"
        return self.reason is not None


async def run_bounded(name: str, work: Callable[[Budget], T], seconds: float | None = None) -> T:
    """Run `work(budget)` in a worker thread; stop it (via the budget's flag) on timeout or
    cancellation. `work` should stop on its own at the deadline and report partial results."""
    budget = Budget(TOOL_SECONDS if seconds is None else seconds)
    try:
        with anyio.move_on_after(budget.seconds + GRACE_SECONDS):
            return await anyio.to_thread.run_sync(work, budget, abandon_on_cancel=True)
    finally:
        budget.stop.set()  # no-op when the work is done; otherwise the thread stops at its next check
    raise ToolError(f"{name} did not finish within {budget.seconds + GRACE_SECONDS:.0f} s and was stopped")


# Features Python's `re` has and RE2 refuses (they need backtracking), by how they start.
_GROUP_FEATURES = (
    ("(?<=", "lookbehind (?<=...)"), ("(?<!", "negative lookbehind (?<!...)"),
    ("(?=", "lookahead (?=...)"), ("(?!", "negative lookahead (?!...)"),
    ("(?>", "atomic groups (?>...)"), ("(?(", "conditional groups (?(...)...)"),
    ("(?P=", "backreferences (?P=name)"), ("(?#", "comments (?#...)"),
)


def unsupported_feature(pattern: str) -> str | None:
    """Name the first backtracking-only feature in `pattern`, or None."""
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "123456789":
                return f"backreferences (\\{nxt})"
            if nxt == "Z":
                return "\\Z (use $: each line is matched without its line ending)"
            if nxt == "g" and pattern.startswith("<", i + 2):
                return "backreferences (\\g<...>)"
            i += 2
            continue
        if c == "[":  # skip a character class: nothing inside it is special here
            j = i + 1 + (pattern.startswith("^", i + 1))
            j += pattern.startswith("]", j)
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            for start, feature in _GROUP_FEATURES:
                if pattern.startswith(start, i):
                    return feature
        if c in "*+?}" and pattern.startswith("+", i + 1) and i > 0:
            return f"possessive quantifiers ({c}+)"
        i += 1
    return None


def compile_regex(pattern: str, *, ignore_case: bool = False) -> Matcher:
    """Compile a grep pattern for RE2; ToolError (one line) if it is invalid or unsupported.
    Python's parser goes first (compiling is not matching: it cannot backtrack) so that syntax
    errors read as they do in Python."""
    try:
        re.compile(pattern)
    except re.error as err:
        raise ToolError(f"invalid regular expression {pattern!r}: {err}") from None
    feature = unsupported_feature(pattern)
    if feature is not None:
        raise ToolError(f"regular expression {pattern!r} uses {feature}, which grep does not support "
                        "(it matches in linear time, without backtracking); rewrite the pattern without it")
    options: Any = re2.Options()
    options.case_sensitive = not ignore_case
    return _compile(pattern, options, f"invalid regular expression {pattern!r}")


def compile_glob(regex: str) -> Matcher:
    """Compile the regex a glob was translated to."""
    return _compile(regex, None, "invalid glob pattern")


def _compile(pattern: str, options: Any, what: str) -> Matcher:
    options = options or re2.Options()
    options.log_errors = False  # the error goes to the model, not to stderr
    try:
        return cast(Matcher, re2.compile(pattern, options))
    except re2.error as err:
        reason = err.args[0] if err.args else err
        reason = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise ToolError(f"{what}: {reason}") from None
