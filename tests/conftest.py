"""Shared test setup: the llmproc test kit's fixtures (`fake_llm`) and its no-network guard;
`pytester` for tests of pytest plugins; one throw-away PostgreSQL server for the whole run
(`postgres_url`: a new, empty database per test; tests/postgres_server.py); no developer's
shared store (LLMPROC_STORE) is written, and no run is logged to the developer's store
(LLMPROC_NO_LOG; the run-log tests give their commands a store of their own)."""

from pathlib import Path

import pytest

from tests.postgres_server import postgres_server, postgres_url  # noqa: F401 - fixtures

pytest_plugins = ["llmproc.testing.pytest_plugin", "pytester"]


@pytest.fixture(autouse=True)
def _no_shared_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMPROC_STORE", raising=False)
    monkeypatch.setenv("LLMPROC_NO_LOG", "1")


# The slow part: files whose tests start several servers, a real MCP host CLI, a type checker or a
# wheel build. `python -m pytest` leaves them out (a few minutes on two workers); the README's
# command and CI's runs it, then these alone and serially (`-m "slow and not bench"`).
SLOW_FILES = {
    "core/test_types.py",  # pyright over the packages
    "core/test_packaging.py",  # builds a wheel
    "core/test_host_docs.py",  # Claude Code, Codex and Gemini CLI register and connect
    "core/store/test_crash.py",  # SIGKILLs writers
    "mcp_front/test_hosts.py",  # the real host CLIs
    "mcp_front/test_claude_code.py",
    "mcp_front/test_inspector.py",  # the MCP Inspector from npm
    "mcp_front/test_shared_store.py",  # two to four servers on one store, SIGKILLed
    "mcp_front/test_durable.py",
    "mcp_front/test_workers.py",
    "mcp_front/test_deploy.py",  # two servers behind Caddy
    "mcp_front/test_lifecycle.py",  # signals and shutdowns of real servers
    "mcp_front/test_http.py",  # llmproc-mcp subprocesses over HTTP and stdio
    "mcp_front/test_stdio.py",
    "mcp_front/test_clients.py",
    "mcp_front/test_loop_stalls.py",
    "mcp_front/test_damaged_store.py",
    "mcp_front/test_rate_limit_sharing.py",  # limiters of two servers racing through one store
}
TESTS = Path(__file__).parent


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (in addopts): the fast part on up to two workers, the slow part (or the whole
    suite) on none. The slow tests start several servers each and measure their progress; two
    at once on two cores make them wait for the CPU, not for what they test."""
    import os

    if "not slow" not in (config.getoption("markexpr") or ""):
        return 0
    return min(2, os.cpu_count() or 1)


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        where = item.path.relative_to(TESTS).as_posix() if item.path.is_relative_to(TESTS) else ""
        if where in SLOW_FILES or item.get_closest_marker("host"):
            item.add_marker(pytest.mark.slow)
