"""The socket side of the fake server: a threaded HTTP/1.1 server that writes `Outcome`s.

SSE bodies use chunked encoding so that stream faults are real: "truncate" ends the body
cleanly (terminating chunk) before the provider's final event; "disconnect" shuts the socket
down mid-body, without the terminating chunk, as a dropped connection looks to a client.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

Ending = Literal["complete", "truncate", "disconnect"]


@dataclass(slots=True)
class Outcome:
    """What to send back for one request."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # a JSON body, or None for SSE
    frames: list[bytes] | None = None  # SSE frames, one per event
    ending: Ending = "complete"
    delay: float = 0.0
    drop: bool = False  # close the connection without any response


# (method, path, query, headers, raw body) -> Outcome
Dispatch = Callable[[str, str, dict[str, str], dict[str, str], bytes], Outcome]


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default of 5 drops SYNs under 20+ concurrent connects
    allow_reuse_address = True

    def __init__(self, dispatch: Dispatch) -> None:
        self.dispatch = dispatch
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); skip it: we are on loopback.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def close_connections(self) -> None:
        """Unblock handler threads idling on keep-alive connections."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hanging up (cancelled streams, closed pools) are normal here, not worth a traceback.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small writes must not wait for delayed ACKs
    server: HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_POST

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        try:
            raw = self._read_body()
            split = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            query = dict(parse_qsl(split.query, keep_blank_values=True))
            outcome = self.server.dispatch(self.command, split.path, query, headers, raw)
            if outcome.delay > 0 and self.server.stopping.wait(outcome.delay):
                self._abort()
                return
            self._write(outcome)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _head(self, outcome: Outcome, extra: dict[str, str]) -> bytes:
        try:
            reason = HTTPStatus(outcome.status).phrase
        except ValueError:
            reason = "Status"  # e.g. 529, which http.HTTPStatus does not know
        lines = [f"HTTP/1.1 {outcome.status} {reason}"]
        lines += [f"{k}: {v}" for k, v in {**outcome.headers, **extra}.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _write(self, outcome: Outcome) -> None:
        if outcome.drop:
            self._abort()
            return
        if outcome.frames is None:
            body = outcome.body or b""
            head = self._head(outcome, {"content-type": "application/json", "content-length": str(len(body))})
            self.wfile.write(head + body)
            return
        head = self._head(
            outcome,
            {
                "content-type": "text/event-stream",
                "cache-control": "no-cache",
                "transfer-encoding": "chunked",
            },
        )
        # One write for the whole stream: the client still parses it event by event, and a
        # benchmark against the fake should measure the client, not our syscalls.
        chunked = b"".join(b"%x\r\n%b\r\n" % (len(f), f) for f in outcome.frames if f)
        if outcome.ending == "disconnect":
            self.wfile.write(head + chunked)
            self._abort()
            return
        self.wfile.write(head + chunked + b"0\r\n\r\n")

    def _abort(self) -> None:
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
