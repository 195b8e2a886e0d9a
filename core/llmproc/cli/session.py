"""One event loop for a whole CLI session, so provider clients live across turns.

Ctrl-C during a turn cancels that turn only: `asyncio.Runner` cancels the running task and
raises KeyboardInterrupt here, and the process has already repaired its history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


class Session:
    def __init__(self) -> None:
        self._runner = asyncio.Runner(loop_factory=loop_factory())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def close(self) -> None:
        self._runner.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
