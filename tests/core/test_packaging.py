"""One distribution, `llmproc`, whose wheel holds both packages and the console scripts."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_both_packages_and_scripts(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("llmproc-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "llmproc/__init__.py" in names and "llmproc/program.py" in names
    assert "llmproc_mcp/__init__.py" in names
    assert not any(n.startswith(("tests/", "core/", "examples/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    for script in ("llmproc =", "llmproc-demo =", "llmproc-prompt ="):
        assert script in scripts
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    for requirement in ("anthropic<3,>=2", "openai<4,>=3", "mcp<3,>=2", "pydantic<3,>=2", "anyio<5,>=4"):
        assert f"Requires-Dist: {requirement}" in metadata
    assert 'extra == "gemini"' in metadata and 'extra == "test"' in metadata
