"""Processes with the same provider settings share one client, per event loop.

Building an SDK client costs about 20 ms of CPU (its TLS context) and each holds its own
connection pool; a program that spawns many children, or a server running many processes,
would pay that for every process. So `acquire()` hands out leases on one provider per
(settings, provider environment variables, event loop); the client closes when the last lease
does. The loop is part of the key because an HTTP client belongs to the loop it first ran on;
entries live in a WeakKeyDictionary so a discarded loop takes its entries with it.

This is the one pool of SDK clients. A caller running many processes at once (the MCP server)
spreads them over several `slot`s of the same settings, since one client's connection pool
becomes the bottleneck of a burst; it builds a slot's client off the event loop and holds a
lease on it until it stops, handing its processes `borrowed()` handles, which close nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import weakref
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from llmproc.providers.base import ModelRequest, ModelResponse, OnEvent, Provider, ProviderSettings

# Every SDK reads its own variables at construction: a change must give a new client.
_ENV_PREFIXES = ("ANTHROPIC_", "OPENAI_", "GEMINI_", "GOOGLE_", "CLOUD_ML_")


class _Entry:
    def __init__(self, provider: Provider):
        self.provider = provider
        self.leases = 0


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Entry]] = weakref.WeakKeyDictionary()


def _key(settings: ProviderSettings, slot: int) -> str:
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES))
    return json.dumps([asdict(settings), env, slot], sort_keys=True, default=repr)


class Lease:
    """A process's handle on a shared provider: `aclose()` gives the lease back."""

    def __init__(self, entries: dict[str, _Entry], key: str, entry: _Entry):
        self._entries, self._key, self._entry = entries, key, entry
        self.name = entry.provider.name
        self._closed = False
        entry.leases += 1

    @property
    def inner(self) -> Provider:
        return self._entry.provider

    async def complete(self, request: ModelRequest, on_event: OnEvent | None = None) -> ModelResponse:
        return await self._entry.provider.complete(request, on_event)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._entry.leases -= 1
        if self._entry.leases == 0:
            if self._entries.get(self._key) is self._entry:
                del self._entries[self._key]
            await self._entry.provider.aclose()

    def borrowed(self) -> Provider:
        """A handle on the same client whose `aclose` does nothing: for the processes of a
        holder that keeps this lease open and closes it itself."""
        return Borrowed(self._entry.provider)


class Borrowed:
    """A provider handle whose `aclose` does nothing: the lease holder closes the client."""

    def __init__(self, inner: Provider):
        self.inner = inner
        self.name = inner.name

    async def complete(self, request: ModelRequest, on_event: OnEvent | None = None) -> ModelResponse:
        return await self.inner.complete(request, on_event)

    async def aclose(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def acquire(settings: ProviderSettings, build: Callable[[], Provider], *, slot: int = 0) -> Provider:
    """A lease on the provider for `settings` (and `slot`: several clients of one settings),
    built by `build()` when none is open. With no running loop there is nothing to share with:
    the provider itself."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return build()
    entries = _by_loop.setdefault(loop, {})
    key = _key(settings, slot)
    entry = entries.get(key)
    if entry is None:
        entry = entries[key] = _Entry(build())
    return Lease(entries, key, entry)


__all__ = ["Borrowed", "Lease", "acquire"]
