"""The store interface: saved process states by name, plus small records for front ends.

`SQLiteStore` (sqlite.py) is the default; another backend implements `ProcessStore`. States are
the dicts of `llmproc.store.state.snapshot()`; a store keeps them as given (JSON) and does not
interpret them beyond the summary a listing shows. Records are small JSON dicts under
(kind, key), for what a front end must keep next to the states (the MCP server's process
table: pid -> program, status, parent, answer).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

# Names appear in shells and tables: printable, no path separators, bounded.
MAX_NAME_CHARS = 200


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

    def close(self) -> None: ...


def check_name(name: object, what: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a saved process {what} must be a non-empty string, not {name!r}")
    if len(name) > MAX_NAME_CHARS or not name.isprintable() or "/" in name or "\\" in name:
        raise ValueError(f"invalid {what} {name[:40]!r}: use printable characters without slashes, "
                         f"at most {MAX_NAME_CHARS}")
    return name


__all__ = ["MAX_NAME_CHARS", "ProcessStore", "StoredProcess", "check_name"]
