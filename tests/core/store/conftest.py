"""Store tests: no store chosen by the environment of whoever runs the tests (the throw-away
PostgreSQL server's fixtures come from tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_store_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMPROC_STORE", raising=False)  # a developer's shared store must not get test rows
