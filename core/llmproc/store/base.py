"""The store interface: saved process states by name, plus small records for front ends.

`SQLiteStore` (sqlite.py) is the default, `PostgresStore` (postgres.py) the shared one; another
backend implements `ProcessStore`, and `open_store` (open.py) picks one from a path or URL. States are
the dicts of `llmproc.store.state.snapshot()`; a store keeps them as given (JSON) and does not
interpret them beyond the summary a listing shows. Records are small JSON dicts under
(kind, key), for what a front end must keep next to the states (the MCP server's process
table: pid -> program, status, parent, answer). Counters hand out ids that stay unique across
every process and machine sharing the store (`allocate`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

import anyio.to_thread

from llmproc.errors import StateError

T = TypeVar("T")

# Names appear in shells and tables: printable, no path separators, bounded.
MAX_NAME_CHARS = 200
MAX_ID = 2**63 - 1  # both backends keep counters in a signed 64-bit integer


@dataclass(frozen=True, slots=True)
class StoredProcess:
    """One saved process as `store.list()` shows it. Times are Unix seconds."""

    name: str
    program: str  # the program file, or the program's name when it was built in code
    model: str
    turns: int  # model calls (assistant messages)
    messages: int
    tokens: int  # input (cached or not) + output
    cost_usd: float | None  # None when a price was unknown
    status: str  # the process state when saved: idle, running, closed
    created_at: float
    updated_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class ProcessStore(Protocol):
    def save(self, name: str, state: dict[str, Any]) -> None:
        """Store `state` under `name` atomically, replacing any earlier one."""
        ...

    def load(self, name: str) -> dict[str, Any]:
        """The state saved under `name`; `NotFoundError` (a KeyError) when there is none."""
        ...

    def list(self) -> list[StoredProcess]:
        """Every saved process, most recently updated first."""
        ...

    def delete(self, name: str) -> None:
        """Remove `name`; `NotFoundError` when there is none."""
        ...

    def put_record(self, kind: str, key: str, value: dict[str, Any]) -> None: ...

    def get_record(self, kind: str, key: str) -> dict[str, Any]: ...

    def list_records(self, kind: str) -> dict[str, dict[str, Any]]: ...

    def delete_record(self, kind: str, key: str) -> bool: ...

    def swap_record(self, kind: str, key: str, expect: dict[str, Any] | None,
                    value: dict[str, Any] | None) -> bool:
        """Compare and set: if the record now equals `expect` (None: there is none), replace it
        with `value` (None: delete it) and return True; else change nothing and return False.
        Atomic across every process and machine sharing the store: of several servers trying to
        take the same record, exactly one succeeds."""
        ...

    def allocate(self, counter: str, count: int = 1, *, at_least: int = 1) -> int:
        """Reserve `count` consecutive new ids of `counter` and return the first.

        Atomic across every thread, process and machine sharing the store: an id is never
        returned twice. The first allocation of a counter returns `at_least`; a later
        `at_least` above the counter's next id moves it forward (pass max(existing id) + 1 when
        adopting rows written before the counter existed). Inside `batch()` the reservation
        commits with the batch: if the batch rolls back, so does the reservation, and its ids
        may be handed out again.
        """
        ...

    def close(self) -> None: ...


class AsyncTwins:
    """The `a*` methods of a store: the same calls in a worker thread, for async code. A worker
    thread is not the thread of an open `batch()`: do not await these inside one."""

    async def _in_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))

    async def asave(self, name: str, state: dict[str, Any]) -> None:
        await self._in_thread(self.save, name, state)  # type: ignore[attr-defined]

    async def aload(self, name: str) -> dict[str, Any]:
        return await self._in_thread(self.load, name)  # type: ignore[attr-defined]

    async def alist(self) -> list[StoredProcess]:
        return await self._in_thread(self.list)  # type: ignore[attr-defined]

    async def adelete(self, name: str) -> None:
        await self._in_thread(self.delete, name)  # type: ignore[attr-defined]

    async def aswap_record(self, kind: str, key: str, expect: dict[str, Any] | None,
                           value: dict[str, Any] | None) -> bool:
        return await self._in_thread(self.swap_record, kind, key, expect, value)  # type: ignore[attr-defined]

    async def aallocate(self, counter: str, count: int = 1, *, at_least: int = 1) -> int:
        return await self._in_thread(self.allocate, counter, count, at_least=at_least)  # type: ignore[attr-defined]


def check_name(name: object, what: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a saved process {what} must be a non-empty string, not {name!r}")
    if len(name) > MAX_NAME_CHARS or not name.isprintable() or "/" in name or "\\" in name:
        raise ValueError(f"invalid {what} {name[:40]!r}: use printable characters without slashes, "
                         f"at most {MAX_NAME_CHARS}")
    return name


def check_record_key(kind: object, key: object) -> None:
    for what, value in (("kind", kind), ("key", key)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"a record {what} must be a non-empty string, not {value!r}")


def check_allocation(counter: object, count: object, at_least: object) -> None:
    check_name(counter, "counter name")
    for what, value, low in (("count", count, 1), ("at_least", at_least, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"allocate: {what} must be an integer >= {low}, not {value!r}")
    if at_least + count > MAX_ID:  # type: ignore[operator]
        raise ValueError(f"allocate: ids past {MAX_ID} do not fit the store")


def dumps_json(value: Any, *, ascii_only: bool = False) -> str:
    text = json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"))
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (e.g. undecodable bytes of a tool's output)
            text = json.dumps(value, separators=(",", ":"))  # \u escapes keep them exactly
    return text


NAMES_LISTED = 10  # saved names a "not found" message offers


def prepare_save(name: str, state: object, *, ascii_only: bool = False) -> tuple[dict[str, Any], str]:
    """The summary columns and the JSON text of a state about to be saved as `name`; the
    one-line errors every backend gives for a bad name or state."""
    from llmproc.store.state import summary

    check_name(name)
    if not isinstance(state, dict):
        raise StateError(f"cannot save {name!r}: a state is a dict (process.snapshot()), not {type(state).__name__}")
    info = summary(cast("dict[str, Any]", state))
    try:
        text = dumps_json(state, ascii_only=ascii_only)
    except (TypeError, ValueError) as exc:
        raise StateError(f"cannot save {name!r}: the state is not JSON-serializable ({exc})") from None
    return info, text


def not_found_message(name: str, recent: list[str], where: str) -> str:
    """`recent`: up to NAMES_LISTED + 1 saved names, most recent first."""
    if not recent:
        return f"no saved process named {name!r}: the store {where} is empty"
    shown = ", ".join(recent[:NAMES_LISTED]) + (", …" if len(recent) > NAMES_LISTED else "")
    return f"no saved process named {name!r} in {where}; saved: {shown} (llmproc ps lists them)"


__all__ = ["MAX_ID", "MAX_NAME_CHARS", "NAMES_LISTED", "AsyncTwins", "ProcessStore", "StoredProcess", "check_allocation",
           "check_name", "check_record_key", "dumps_json",
           "not_found_message", "prepare_save"]
