"""LLMProc: an LLM as a process.

    program = LLMProgram.from_toml("examples/anthropic/claude.toml")
    process = await program.start()
    result = await process.run("Hello!")

Names are imported lazily so that `llmproc-prompt` starts without loading provider SDKs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports on use
    from llmproc.errors import BudgetExceeded, LLMProcError, ProgramConfigError, ProviderError
    from llmproc.process import LLMProcess, RunResult
    from llmproc.program import LLMProgram
    from llmproc.sync import run_sync

__version__ = "0.1.0"

_EXPORTS = {
    "LLMProgram": "llmproc.program",
    "LLMProcess": "llmproc.process",
    "RunResult": "llmproc.process",
    "run_sync": "llmproc.sync",
    "LLMProcError": "llmproc.errors",
    "ProgramConfigError": "llmproc.errors",
    "ProviderError": "llmproc.errors",
    "BudgetExceeded": "llmproc.errors",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llmproc' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


# No ProcessCancelled: a cancelled run raises the event loop's cancellation (see llmproc.errors).
__all__ = ["BudgetExceeded", "LLMProcError", "LLMProcess", "LLMProgram", "ProgramConfigError", "ProviderError",
           "RunResult", "run_sync"]
