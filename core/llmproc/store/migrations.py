"""Schema versions of saved process states: moved to `llmproc.process.migrations`, next to the
state format (`llmproc.process.state`); these names stay importable from here. The dict of
steps is the same object, so a step added here is a step added there.
"""

from __future__ import annotations

from llmproc.process.migrations import KIND, MIGRATIONS, OLDEST_VERSION, SCHEMA_VERSION, Migration, migrate

__all__ = ["KIND", "MIGRATIONS", "Migration", "OLDEST_VERSION", "SCHEMA_VERSION", "migrate"]
