"""`FakeLLMServer`: a scripted, offline LLM provider over real HTTP.

    with FakeLLMServer() as fake:
        fake.add(Reply(tool_calls=[ToolUse("get_weather", {"city": "Paris"})]), Reply(text="Sunny."))
        client = anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key="test", max_retries=0)
        ...
        assert fake.requests[1].body["messages"][-1]["content"][0]["type"] == "tool_result"

Each request to a model endpoint takes the next script item (FIFO) and gets it rendered in
the wire format of that endpoint (Anthropic, Vertex, OpenAI Chat / Responses, Gemini), as
JSON or SSE. Token counting endpoints answer without taking an item. A request with no item
left gets a 500 with `x-should-retry: false`, so SDKs fail at once instead of retrying.

A `responder` decides replies from the request itself where a FIFO script cannot (a real MCP
host as the client, whose side requests and order are its own): it gets each model request and
returns the item to answer with, or None to take the next script item.
Handlers run one thread per connection and no lock is held while a reply's delay elapses.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from llmproc.testing import _routes
from llmproc.testing._http import Ending, HTTPServer, Outcome
from llmproc.testing._wire import Context, dumps
from llmproc.testing.ratelimits import RateLimits, Windows
from llmproc.testing.script import HTTPError, Reply, ScriptItem

__all__ = ["FakeLLMServer", "RateLimits", "RecordedRequest", "Responder"]

_DEFAULT_MODEL = "fake-model"
_STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it. `headers` keys are lower-cased; `body` is the
    parsed JSON (the raw text if it is not JSON, None if empty)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw_body: bytes = b""
    endpoint: str | None = None  # "anthropic", "vertex", "openai_chat", "openai_responses", "gemini"
    model: str | None = None  # from the body, or the URL path (Vertex, Gemini)
    stream: bool = False
    item: ScriptItem | None = field(default=None, repr=False)  # the script item it consumed
    # time.monotonic() on arrival: a request that arrives before another's reply (its arrival +
    # its item's delay) proves the two were in flight at once, however loaded the machine
    received_at: float = 0.0


Responder = Callable[[RecordedRequest], ScriptItem | None]


class FakeLLMServer:
    def __init__(self, responder: Responder | None = None, *, rate_limits: RateLimits | None = None) -> None:
        self.responder = responder
        self._limits = Windows(rate_limits) if rate_limits is not None else None  # ratelimits.py
        self._script: deque[ScriptItem] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)  # next() on a C iterator is atomic under the GIL
        self._http: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeLLMServer:
        if self._http is not None:
            return self
        self._http = HTTPServer(self.dispatch)
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"FakeLLMServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        http, thread = self._http, self._thread
        if http is None:
            return
        self._http = self._thread = None
        http.stopping.set()  # wakes handlers sleeping through a reply's delay
        http.shutdown()
        http.close_connections()
        http.server_close()
        if thread is not None:
            thread.join(_STOP_TIMEOUT_S)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._http is None:
            raise RuntimeError(
                "FakeLLMServer is not running: call start() or use `with FakeLLMServer() as fake:`"
            )
        return int(self._http.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def vertex_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def gemini_base_url(self) -> str:
        return self.url

    # -- script and records -----------------------------------------------------------------------
    def add(self, *items: ScriptItem) -> FakeLLMServer:
        for item in items:
            if not isinstance(item, (Reply, HTTPError)):
                raise TypeError(f"script items are Reply or HTTPError, not {type(item).__name__}")
        with self._lock:
            self._script.extend(items)
        return self

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def remaining(self) -> list[ScriptItem]:
        with self._lock:
            return list(self._script)

    def assert_all_consumed(self) -> None:
        left = self.remaining
        if left:
            raise AssertionError(f"{len(left)} scripted item(s) were never requested: {left!r}")

    @property
    def rate_limited(self) -> int:
        """How many 429s the emulated rate limits sent (`rate_limits=`)."""
        return self._limits.rejected if self._limits is not None else 0

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._requests.clear()

    # -- the protocol side ---------------------------------------------------------------------------
    def dispatch(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> Outcome:
        """Record a request and decide the answer (the HTTP layer sleeps and writes it)."""
        body = _parse(raw)
        found = _routes.route(path, body) if method == "POST" else None
        takes_item = found is not None and found.action == "reply"
        request = RecordedRequest(
            method,
            path,
            query,
            headers,
            body,
            raw,
            endpoint=found.endpoint if found else None,
            model=found.model if found else None,
            stream=found.stream if found else False,
            received_at=time.monotonic(),
        )
        limited: dict[str, str] = {}
        wait: float | None = None
        if takes_item and self._limits is not None and found is not None:
            wait, limited = self._limits.admit(len(raw) // 4, found.endpoint)
            takes_item = wait is None
        answer = self.responder(request) if takes_item and self.responder is not None else None
        with self._lock:
            item = answer or (self._script.popleft() if takes_item and self._script else None)
            index = len(self._requests)
            self._requests.append(replace(request, item=item))
        if found is None:
            return _json(
                404,
                {
                    "error": {
                        "message": f"FakeLLMServer: no endpoint for {method} {path} (base URLs: "
                        "fake.anthropic_base_url has no /v1, fake.openai_base_url has /v1)",
                        "type": "not_found_error",
                        "code": 404,
                    }
                },
            )
        ctx = Context(found.model or _DEFAULT_MODEL, body, len(raw), self._new_id, self._new_id("req_"))
        wire = found.wire
        rid = {wire.request_id_header: ctx.request_id} if wire.request_id_header else {}
        rid.update(limited)
        if wait is not None:
            err = HTTPError(429, "FakeLLMServer: rate limit exceeded (emulated: rate_limits=)", retry_after_s=wait)
            return _json(429, wire.error_body(err, ctx), rid)
        if found.action == "count":
            return _json(200, _routes.count_body(found, ctx), rid)
        if item is None:
            message = (
                f"FakeLLMServer: no scripted reply left for request #{index} ({method} {path}); "
                "add one with fake.add(Reply(...))"
            )
            err = HTTPError(500, message)
            return _json(500, wire.error_body(err, ctx), {**rid, "x-should-retry": "false"})
        if isinstance(item, HTTPError):
            headers = {**rid, **item.headers}
            if item.retry_after_s is not None and wire.name != "gemini":  # Gemini: in the body
                headers.setdefault("retry-after", f"{item.retry_after_s:g}")
            return _json(item.status, wire.error_body(item, ctx), headers, item.delay)
        return _reply(item, found, ctx, rid)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):04d}"


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _json(status: int, data: Any, headers: dict[str, str] | None = None, delay: float = 0.0) -> Outcome:
    return Outcome(status, dict(headers or {}), body=dumps(data).encode(), delay=delay)


def _reply(reply: Reply, found: _routes.Route, ctx: Context, headers: dict[str, str]) -> Outcome:
    wire = found.wire
    if not found.stream:
        # Stream faults concern SSE; a JSON request can only be dropped.
        return Outcome(
            200,
            headers,
            body=dumps(wire.reply_json(reply, ctx)).encode(),
            delay=reply.delay,
            drop=reply.stream_cut == "disconnect",
        )
    frames = wire.reply_events(reply, ctx)
    ending: Ending = "complete"
    if reply.stream_error is not None or reply.stream_cut is not None:
        frames = frames[: reply.cut_after]
        if reply.stream_error is not None:
            frames.append(
                wire.stream_error(reply.stream_error, _stream_error_message(reply), ctx, len(frames))
            )
        ending = reply.stream_cut or "truncate"
    return Outcome(200, headers, frames=frames, ending=ending, delay=reply.delay)


def _stream_error_message(reply: Reply) -> str:
    return {"overloaded_error": "Overloaded", "rate_limit_error": "Rate limited"}.get(
        reply.stream_error or "", f"scripted stream error: {reply.stream_error}"
    )
