"""CLI tests: the throw-away PostgreSQL server of tests/postgres_server.py, for `--store
postgresql://...` (`postgres_url`: a new, empty database per test; skips without a server)."""

from __future__ import annotations

from tests.postgres_server import postgres_server, postgres_url  # noqa: F401 - fixtures
