"""Shared test setup: the llmproc test kit's fixtures (`fake_llm`) and its no-network guard;
`pytester` for tests of pytest plugins; one throw-away PostgreSQL server for the whole run
(`postgres_url`: a new, empty database per test; tests/postgres_server.py); no developer's
shared store (LLMPROC_STORE) is written, and no run is logged to the developer's store
(LLMPROC_NO_LOG; the run-log tests give their commands a store of their own)."""

import pytest

from tests.postgres_server import postgres_server, postgres_url  # noqa: F401 - fixtures

pytest_plugins = ["llmproc.testing.pytest_plugin", "pytester"]


@pytest.fixture(autouse=True)
def _no_shared_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMPROC_STORE", raising=False)
    monkeypatch.setenv("LLMPROC_NO_LOG", "1")
