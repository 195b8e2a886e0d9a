"""Store tests: a throw-away PostgreSQL server (tests/postgres_server.py) next to SQLite files,
and no store chosen by the environment of whoever runs the tests."""

from __future__ import annotations

import pytest

from tests.postgres_server import postgres_server, postgres_url  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _no_store_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMPROC_STORE", raising=False)  # a developer's shared store must not get test rows
