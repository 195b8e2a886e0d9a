"""docs/security.md names a test for each case of the outside review: every one exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_the_security_page_names_exists() -> None:
    page = (ROOT / "docs" / "security.md").read_text()
    cases = page.split("## The review's cases", 1)[1]
    named = set(re.findall(r"`(test_\w+)`", cases))
    assert len(named) >= 15
    defined = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        if "node_modules" not in path.parts and ".venv-pypi" not in path.parts:
            defined |= set(re.findall(r"^(?:async )?def (test_\w+)\(", path.read_text(), flags=re.MULTILINE))
    assert named <= defined, sorted(named - defined)
