"""Make real network access impossible: only loopback and Unix sockets may connect.

Patching `socket.socket` methods covers every Python client (httpx2/httpcore, asyncio, requests,
urllib). Host names other than localhost are refused before resolution, so not even a DNS query
leaves the machine; IP literals are refused before `connect`, so no packet is sent.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["NetworkBlockedError", "block_network", "is_local_host"]

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkBlockedError(OSError):
    """Raised for a connection to a non-loopback address while the guard is active.

    An OSError, so clients treat it like an unreachable network (an SDK reports a connection
    error) rather than crash in unexpected places.
    """


def is_local_host(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.split("%", 1)[0].strip("[]").lower()
    if name in ("", *_LOCAL_NAMES) or name.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def _blocked(what: str, target: Any) -> NetworkBlockedError:
    return NetworkBlockedError(
        f"llmproc.testing blocked a network {what} to {target!r}: tests may only reach loopback "
        "(127.0.0.0/8, ::1). Point the client at a FakeLLMServer (fake_llm fixture), or mark a test "
        "that must use the real API with @pytest.mark.live."
    )


def _check(sock: socket.socket, address: Any, what: str) -> None:
    inet = sock.family in (socket.AF_INET, socket.AF_INET6)
    if inet and isinstance(address, tuple) and not is_local_host(address[0]):
        raise _blocked(what, address)


@contextmanager
def block_network() -> Iterator[None]:
    """Within the block, connections (and UDP sends) to non-loopback addresses raise
    `NetworkBlockedError`, and so does resolving a non-local host name."""
    cls = socket.socket
    originals = {name: getattr(cls, name) for name in ("connect", "connect_ex", "sendto")}
    original_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        _check(self, address, "connection")
        originals["connect"](self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(self, address, "connection")
        code: int = originals["connect_ex"](self, address)
        return code

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        _check(self, args[-1], "datagram")
        sent: int = originals["sendto"](self, data, *args)
        return sent

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local_host(host) and not _is_ip(host):
            raise _blocked("name resolution", host)
        return original_getaddrinfo(host, *args, **kwargs)

    for name, fn in {"connect": connect, "connect_ex": connect_ex, "sendto": sendto}.items():
        setattr(cls, name, fn)
    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(cls, name, fn)
        socket.getaddrinfo = original_getaddrinfo


def _is_ip(host: Any) -> bool:
    # IP literals need no DNS; whether they may be reached is decided at connect().
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host)
        return True
    except ValueError:
        return False
