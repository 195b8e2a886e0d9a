"""One blocking call for scripts that do not want asyncio.

    from llmproc import LLMProgram, run_sync
    result = run_sync(LLMProgram.from_toml("examples/scripted/echo.toml"), "Hello!")

Each call starts a process, runs the prompt and closes it, all in its own event loop. For a
conversation of several turns, use the async API (`await program.start()`, `await process.run()`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from llmproc.process.result import RunResult
from llmproc.program import LLMProgram


def run_sync(program: LLMProgram | str | Path, prompt: str, **start_options: Any) -> RunResult:
    if not isinstance(program, LLMProgram):
        program = LLMProgram.from_toml(program)

    async def _run() -> RunResult:
        process = await program.start(**start_options)
        try:
            return await process.run(prompt)
        finally:
            await process.aclose()

    return asyncio.run(_run())
