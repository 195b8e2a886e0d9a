"""Noticing that a server's side of a transport ended, between calls.

The SDK session learns that a connection closed only when it reads from it; a call in flight
then fails with CONNECTION_CLOSED. A server that dies while idle would make the next call fail
too. Wrapping the transport's read stream lets the connection see the end of the stream as it
happens, so it restarts the server before the next call instead of failing it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio


@asynccontextmanager
async def watch_end(transport: AbstractAsyncContextManager[Any],
                     on_end: Callable[[], None]) -> AsyncIterator[tuple[Any, Any]]:
    """The transport, with a read stream that calls `on_end` when the server's side closes."""
    async with transport as (read, write):
        yield _EndSignal(read, on_end), write


class _EndSignal:
    """A read stream that reports its end (EOF or closed), so a dead server is noticed between
    calls and restarted before the next one rather than failing it."""

    def __init__(self, inner: Any, on_end: Callable[[], None]):
        self._inner = inner
        self._on_end = on_end

    @property
    def last_context(self) -> Any:  # the SDK reads the sender's context from here when present
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._on_end()
            raise

    def __aiter__(self) -> _EndSignal:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _EndSignal:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
