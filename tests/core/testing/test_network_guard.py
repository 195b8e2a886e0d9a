"""The no-network guard of the pytest plugin, and the environment isolation."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import anthropic
import pytest
from llmproc.testing import FakeLLMServer
from llmproc.testing.network_guard import NetworkBlockedError, block_network, is_local_host


@pytest.mark.parametrize(
    ("family", "address"),
    [
        (socket.AF_INET, ("10.255.255.1", 443)),
        (socket.AF_INET, ("1.1.1.1", 80)),
        (socket.AF_INET6, ("2001:db8::1", 443, 0, 0)),
    ],
)
def test_non_loopback_connect_is_refused_before_any_packet(
    monkeypatch: pytest.MonkeyPatch, family: int, address: tuple[Any, ...]
) -> None:
    sent: list[Any] = []
    # A spy in place of the real connect: the guard must refuse without ever calling it.
    monkeypatch.setattr(socket.socket, "connect", lambda self, addr: sent.append(addr))
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, addr: sent.append(addr) or 0)
    with block_network(), socket.socket(family, socket.SOCK_STREAM) as sock:
        start = time.perf_counter()
        with pytest.raises(NetworkBlockedError, match="only reach loopback"):
            sock.connect(address)
        with pytest.raises(NetworkBlockedError):
            sock.connect_ex(address)
        assert time.perf_counter() - start < 0.5
    assert sent == []


def test_guard_is_active_in_every_test() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(NetworkBlockedError):
        sock.sendto(b"x", ("192.0.2.1", 53))
    with pytest.raises(NetworkBlockedError, match="name resolution"):
        socket.getaddrinfo("api.anthropic.com", 443)


def test_sdk_default_endpoint_is_blocked() -> None:
    client = anthropic.Anthropic(api_key="sk-ant-real-looking", max_retries=0, timeout=5)
    start = time.perf_counter()
    with pytest.raises(anthropic.APIConnectionError) as info:
        client.messages.create(
            model="claude-sonnet-5-5", max_tokens=9, messages=[{"role": "user", "content": "x"}]
        )
    assert time.perf_counter() - start < 2.0
    cause: BaseException | None = info.value
    while cause is not None and not isinstance(cause, NetworkBlockedError):
        cause = cause.__cause__ or cause.__context__
    assert isinstance(cause, NetworkBlockedError)


def test_loopback_and_unix_sockets_are_allowed(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    for host in ("127.0.0.1", "localhost"):
        with socket.create_connection((host, fake_llm.port), timeout=5) as sock:
            assert sock.getpeername()[1] == fake_llm.port
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(path)
        server.listen()
        client.connect(path)
        assert client.getpeername() == path


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("0.0.0.0", True),
        ("10.0.0.1", False),
        ("8.8.8.8", False),
        ("example.com", False),
        ("fe80::1%eth0", False),
    ],
)
def test_is_local_host(host: str, local: bool) -> None:
    assert is_local_host(host) is local


def test_plugin_isolates_provider_env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_KEY", "CLOUD_ML_REGION"):
        monkeypatch.setenv(key, "from-the-developer-shell")
    pytester.makeconftest('pytest_plugins = ["llmproc.testing.pytest_plugin"]')
    pytester.makepyfile("""
        import os, pathlib, socket
        import pytest

        def test_isolated(fake_llm):
            leaked = [k for k in os.environ
                      if k.startswith(("ANTHROPIC_", "OPENAI_", "GOOGLE_", "GEMINI_", "CLOUD_ML_"))
                      and k != "ANTHROPIC_CONFIG_DIR"]
            assert leaked == []
            assert list(pathlib.Path(os.environ["ANTHROPIC_CONFIG_DIR"]).iterdir()) == []
            assert fake_llm.url.startswith("http://127.0.0.1:")

        @pytest.mark.live
        def test_live_is_left_alone():
            assert os.environ["ANTHROPIC_API_KEY"] == "from-the-developer-shell"
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:asyncio", "-q")
    result.assert_outcomes(passed=2)
