"""Processes: a running program, its turn loop, events and results; and the saved-state format
(`state.py`, `migrations.py`).

Names are imported on use, so that a module of this package that needs no running process (the
state schema versions, which the stores read) does not load the engine with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmproc.process.process import LLMProcess, ProcessState
    from llmproc.process.result import RunResult, ToolCallRecord

_EXPORTS = {
    "LLMProcess": "llmproc.process.process",
    "ProcessState": "llmproc.process.process",
    "RunResult": "llmproc.process.result",
    "ToolCallRecord": "llmproc.process.result",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llmproc.process' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["LLMProcess", "ProcessState", "RunResult", "ToolCallRecord"]
