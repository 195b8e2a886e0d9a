"""A small tree with links that escape it, shared by the file tool tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmproc.tools import SimpleToolContext, Toolset
from llmproc.tools.builtin import builtin_toolset


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a.txt").write_text("alpha\nbeta\ngamma\n")
    (root / "big.txt").write_text("".join(f"line {i}\n" for i in range(1, 1201)))
    (root / "data.bin").write_bytes(b"\x00\x01password\x02" * 10)
    (root / "src" / "main.py").write_text("def main():\n    return 1\n")
    (root / "src" / "pkg" / "util.py").write_text("def helper(x):\n    # TODO: more\n    return x\n")
    (root / "src" / "notes.md").write_text("Todo list\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("password=hunter2\n")
    (outside / "code.py").write_text("def stolen():\n")
    (root / "link_out").symlink_to(outside, target_is_directory=True)
    (root / "link_secret.txt").symlink_to(outside / "secret.txt")
    (root / "link_in.py").symlink_to(root / "src" / "main.py")
    (root / "link_dir_in").symlink_to(root / "src", target_is_directory=True)
    return root


@pytest.fixture
def ctx(tree: Path) -> SimpleToolContext:
    return SimpleToolContext(allowed_roots=[tree], cwd=tree)


@pytest.fixture
def tools() -> Toolset:
    return builtin_toolset()
