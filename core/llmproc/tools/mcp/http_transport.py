"""HTTP transports: streamable HTTP, and the legacy HTTP+SSE of older servers (`type = "sse"`),
each the SDK's client on an httpx2 client that carries our headers.

Headers (a bearer token among them, read from the environment by `config`) go on the httpx2
client, as mcp 2.x wants; they are never logged. Timeouts: HTTP_CONNECT_TIMEOUT_S bounds
connecting and sending, HTTP_READ_TIMEOUT_S the silence on a response stream (a long tool call
keeps its stream open; the call itself is bounded by the connection's call timeout).

Shutdown: leaving the context ends a streamable HTTP session with an HTTP DELETE (bounded by
the connect timeout, so a dead server cannot hold it up; SSE sessions end when their stream is
closed) and closes the httpx2 client and its sockets.
There is no process to stop: the server's life is not ours.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from llmproc.tools.mcp.config import HttpSpec

HTTP_CONNECT_TIMEOUT_S = 10.0
HTTP_READ_TIMEOUT_S = 300.0


class HttpStatus:
    """The last HTTP error status the server answered with: the SDK reports a 401 or a 500 as
    the same JSON-RPC error, and a start error should say which it was."""

    def __init__(self) -> None:
        self.last_error: tuple[int, str] | None = None

    async def record(self, response: httpx2.Response) -> None:
        if response.status_code >= 400:
            self.last_error = (response.status_code, response.reason_phrase)

    def describe(self) -> str:
        if self.last_error is None:
            return ""
        code, reason = self.last_error
        hint = " (check the token or headers)" if code in (401, 403) else ""
        return f"HTTP {code} {reason}{hint}"


@asynccontextmanager
async def http_transport(spec: HttpSpec, status: HttpStatus | None = None) -> AsyncIterator[tuple[Any, Any]]:
    timeout = httpx2.Timeout(HTTP_CONNECT_TIMEOUT_S, read=HTTP_READ_TIMEOUT_S)
    hooks = {"response": [status.record]} if status is not None else {}
    if spec.sse:
        def client(headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None,
                   auth: httpx2.Auth | None = None) -> httpx2.AsyncClient:
            return httpx2.AsyncClient(headers=headers, timeout=timeout, auth=auth, event_hooks=hooks)

        async with sse_client(spec.url, headers=dict(spec.headers), timeout=HTTP_CONNECT_TIMEOUT_S,
                              sse_read_timeout=HTTP_READ_TIMEOUT_S, httpx_client_factory=client) as (read, write):
            yield read, write
        return
    async with httpx2.AsyncClient(headers=dict(spec.headers), timeout=timeout, event_hooks=hooks) as http:
        async with streamable_http_client(spec.url, http_client=http) as streams:
            yield streams
