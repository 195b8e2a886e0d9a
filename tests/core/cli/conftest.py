"""What the CLI tests of -m, init and log share: the console scripts, run as a user runs them,
with a store of their own (the run log must never reach the developer's)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ECHO = ROOT / "examples" / "scripted" / "echo.toml"
CALC = ROOT / "examples" / "scripted" / "calculator.toml"

Run = Callable[..., subprocess.CompletedProcess[str]]


def script(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"console script {name} is not installed"
    return found


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment of one test's commands: a default store under tmp_path, logging on."""
    drop = ("LLMPROC_STORE", "LLMPROC_NO_LOG")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "LLMPROC_STATE_DIR": str(tmp_path / "state")}


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Run:
    """cli("llmproc", "-m", ..., stdin=None, cwd=ROOT, env={extra variables})"""

    def run(name: str, *args: str | Path, stdin: str | None = None, cwd: Path = ROOT,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([script(name), *map(str, args)], input=stdin, capture_output=True, text=True,
                              timeout=60, cwd=cwd, env={**cli_env, **(env or {})})

    return run
