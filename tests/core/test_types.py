"""pyright on the packages: no type errors, in basic mode everywhere and in strict mode on the
modules listed under "strict" in pyrightconfig.json (docs/architecture.md says why the others
are not). pyright is installed with the other Node test tools by tests/mcp_servers/install.sh;
CI always has it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYRIGHT = ROOT / "tests" / "mcp_servers" / "node_modules" / ".bin" / "pyright"


@pytest.mark.skipif(not PYRIGHT.is_file() and not os.environ.get("CI"),
                    reason="pyright is not installed: run tests/mcp_servers/install.sh")
def test_the_packages_type_check() -> None:
    proc = subprocess.run([str(PYRIGHT), "--pythonpath", sys.executable], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "0 errors" in proc.stdout


def test_the_strict_modules_exist() -> None:
    """A strict path that moved would silently leave strict mode: pyright ignores missing ones."""
    strict = json.loads((ROOT / "pyrightconfig.json").read_text())["strict"]
    assert strict and all((ROOT / path).exists() for path in strict), strict
