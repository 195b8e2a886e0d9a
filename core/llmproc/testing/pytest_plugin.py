"""pytest plugin: `fake_llm` fixture and an autouse guard against real provider calls.

Enable it in a conftest.py with `pytest_plugins = ["llmproc.testing.pytest_plugin"]`.
Every test then runs with provider environment variables removed (so no key, base URL or
profile leaks into an SDK client) and with non-loopback network access blocked.
Tests marked `@pytest.mark.live` are left alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from llmproc.testing.network_guard import block_network
from llmproc.testing.server import FakeLLMServer

_PROVIDER_ENV_PREFIXES = ("ANTHROPIC_", "OPENAI_", "GOOGLE_", "GEMINI_", "CLOUD_ML_", "ANTHROPIC_VERTEX_")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "live: calls a real API; the no-network guard is off for it")


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A running FakeLLMServer, stopped after the test."""
    with FakeLLMServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _llmproc_no_network(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    if request.node.get_closest_marker("live") is not None:
        yield
        return
    for key in list(os.environ):
        if key.startswith(_PROVIDER_ENV_PREFIXES):
            monkeypatch.delenv(key)
    # An empty config dir: the anthropic SDK must not pick up the developer's profiles.
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path_factory.mktemp("anthropic-config")))
    with block_network():
        yield
