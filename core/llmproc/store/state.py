"""Saved states as the stores see them: `summary(state)` for listings, and the snapshot/restore
of `llmproc.process.state` under their older names.

The state format and its two directions live next to the process (`llmproc.process.state`),
so that the process never imports the store; the store imports the process, one way, and on
use: opening a store or listing it does not load the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from llmproc.process.process import LLMProcess
    from llmproc.process.state import INTERRUPTED_RESULT, program_ref
    from llmproc.program import LLMProgram
    from llmproc.providers.base import Provider
    from llmproc.tools.base import Tool


def snapshot(process: LLMProcess) -> dict[str, Any]:
    """`process.snapshot()`: its state as a dict of JSON types."""
    return process.snapshot()


async def restore(state: dict[str, Any], *, program: LLMProgram | None = None,
                  allow_changed_program: bool = False, provider: Provider | None = None,
                  tools: Sequence[Tool] = (), cwd: str | Path | None = None,
                  rerun_read_only: bool = False) -> LLMProcess:
    """`LLMProcess.restore(state, ...)`: a new idle process that continues `state`."""
    from llmproc.process.process import LLMProcess

    return await LLMProcess.restore(state, program=program, allow_changed_program=allow_changed_program,
                                    provider=provider, tools=tools, cwd=cwd, rerun_read_only=rerun_read_only)


def summary(state: dict[str, Any]) -> dict[str, Any]:
    """What a listing shows, computed from a state without building anything."""
    ref: dict[str, Any] = state.get("program") or {}
    history: list[dict[str, Any]] = state.get("history") or []
    usage: dict[str, Any] = state.get("usage") or {}
    tokens = sum(int(usage.get(k, 0)) for k in ("input_tokens", "cache_write_tokens", "cache_read_tokens",
                                               "output_tokens"))
    return {
        "program": ref.get("path") or ref.get("name") or "",
        "model": ref.get("model") or "",
        "turns": sum(1 for m in history if m.get("role") == "assistant"),
        "messages": len(history),
        "tokens": tokens,
        "cost_usd": state.get("cost_usd"),
        "status": state.get("status") or "",
    }


def __getattr__(name: str) -> Any:
    if name in ("INTERRUPTED_RESULT", "program_ref"):  # loaded on use, as above
        from llmproc.process import state

        return getattr(state, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["INTERRUPTED_RESULT", "program_ref", "restore", "snapshot", "summary"]
