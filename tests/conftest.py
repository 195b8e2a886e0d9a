"""Shared test setup: the llmproc test kit's fixtures (`fake_llm`) and its no-network guard;
`pytester` for tests of pytest plugins; no developer's shared store (LLMPROC_STORE) is written."""

import pytest

pytest_plugins = ["llmproc.testing.pytest_plugin", "pytester"]


@pytest.fixture(autouse=True)
def _no_shared_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMPROC_STORE", raising=False)
