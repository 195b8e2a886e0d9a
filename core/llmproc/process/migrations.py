"""Schema versions of saved process states, and the steps that upgrade older ones.

A state carries `kind` ("llmproc.process") and `version`. `migrate()` brings a state of an
older version up to `SCHEMA_VERSION` one step at a time (`MIGRATIONS[n]` turns version n into
n + 1), or fails with a message naming both versions. When the state format changes: bump
`SCHEMA_VERSION`, add the step from the previous version, and add a saved state of the old
version to the tests.

Version history:
    1  first format (llmproc 0.1)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from llmproc.errors import StateError

KIND = "llmproc.process"
SCHEMA_VERSION = 1
OLDEST_VERSION = 1  # states older than this cannot be read at all

Migration = Callable[[dict[str, Any]], dict[str, Any]]
MIGRATIONS: dict[int, Migration] = {}


def migrate(state: Any) -> dict[str, Any]:
    """`state` at the current schema version (a new dict when a step ran; the input is not changed)."""
    if not isinstance(state, dict):
        raise StateError(_not_a_state(type(state).__name__))
    state = cast("dict[str, Any]", state)  # a JSON object: its keys are strings
    if state.get("kind") != KIND:
        raise StateError(_not_a_state(f"kind={state.get('kind')!r}"))
    version = state.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise StateError(f"process state has no valid schema version (version={version!r})")
    if version > SCHEMA_VERSION:
        writer = state.get("llmproc_version", "a newer llmproc")
        raise StateError(f"this process state has schema version {version} (written by llmproc {writer}); "
                         f"this llmproc reads versions {OLDEST_VERSION} to {SCHEMA_VERSION}: upgrade llmproc")
    if version < OLDEST_VERSION:
        raise StateError(f"this process state has schema version {version}, older than any this llmproc "
                         f"reads ({OLDEST_VERSION} to {SCHEMA_VERSION}); it cannot be restored")
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise StateError(f"no migration from process state schema version {version} to {version + 1} "
                             f"(this llmproc writes version {SCHEMA_VERSION})")
        state = step(dict(state))
        version += 1
        state["version"] = version
    return state



def _not_a_state(found: str) -> str:
    return f"not an llmproc process state ({found}); states come from process.snapshot() or store.load(name)"


__all__ = ["KIND", "MIGRATIONS", "OLDEST_VERSION", "SCHEMA_VERSION", "migrate"]
