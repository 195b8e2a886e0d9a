"""The `shell-session` blocks of docs/cli.md and the README: sessions whose commands write files
(`llmproc init`) or read what earlier commands logged (`llmproc log`), so unlike the `console`
blocks (tests/core/test_docs.py, run one by one in the checkout) each block runs in order, in a
fresh folder holding a copy of examples/scripted, with a store of its own. Every output line
must match what the page shows, times and durations aside. Also: the program shown as what
`llmproc init` writes is what it writes, and the README's lines about -m, init and log name
commands this suite runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.cli.conftest import ROOT

PAGES = [ROOT / "docs" / "cli.md", ROOT / "README.md"]
BIN = str(Path(sys.executable).parent)
# What changes from one run to the next: the clock.
_STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?")
_DURATION = re.compile(r"\b\d+\.\d s\b")


def blocks(page: Path, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", page.read_text(), flags=re.DOTALL | re.MULTILINE)


def steps(block: str) -> list[tuple[str, list[str]]]:
    """(command, the non-blank lines shown after it) for each `$ ` line of a session."""
    found: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif line.strip():
            found[-1][1].append(line)
    return found


def normal(line: str) -> str:
    return " ".join(_DURATION.sub("<duration>", _STAMP.sub("<time>", line)).split())


SESSIONS = [(page, block) for page in PAGES for block in blocks(page, "shell-session")]


def test_the_cli_page_has_sessions_for_init_and_log() -> None:
    commands = [command for _, block in SESSIONS for command, _ in steps(block)]
    assert any(c.startswith("llmproc init") for c in commands)
    assert any(c.startswith("llmproc log") for c in commands) and any("--no-log" in c for c in commands)


@pytest.mark.parametrize(("page", "block"), SESSIONS,
                         ids=[f"{p.name}: {steps(b)[0][0][:40]}" for p, b in SESSIONS])
def test_a_session_prints_what_the_page_shows(page: Path, block: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(ROOT / "examples" / "scripted", work / "examples" / "scripted")
    drop = ("LLMPROC_STORE", "LLMPROC_NO_LOG")
    env = {**{k: v for k, v in os.environ.items() if k not in drop},
           "PATH": BIN + os.pathsep + os.environ.get("PATH", ""), "LLMPROC_STATE_DIR": str(tmp_path / "state")}
    for command, shown in steps(block):
        proc = subprocess.run(command, shell=True, cwd=work, env=env, capture_output=True, text=True, timeout=60)
        printed = [normal(line) for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
        expected = [normal(line) for line in shown]
        assert printed == expected, f"{page.name}: {command!r} printed:\n{proc.stdout}{proc.stderr}"
        wants_error = any(line.startswith("error:") for line in shown)
        assert proc.returncode == (2 if wants_error else 0), (command, proc.stderr)


def test_the_program_shown_is_what_init_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmproc.cli.main import run

    shown = next(b for b in blocks(ROOT / "docs" / "cli.md", "toml") if "written by `llmproc init`" in b)
    monkeypatch.chdir(tmp_path)
    assert run(["init"]) == 0
    written = (tmp_path / "program.toml").read_text()
    assert written == shown
    # Uncommenting the tools lines, as the comments invite, still loads.
    from llmproc import LLMProgram

    (tmp_path / "program.toml").write_text(written.replace("# enabled = ", "enabled = ")
                                           .replace("# allowed_roots = ", "allowed_roots = ")
                                           .replace("# temperature = ", "temperature = "))
    program = LLMProgram.from_toml(tmp_path / "program.toml")
    assert program.config.parameters.temperature == 0.7 and program.config.tools.enabled


def test_readme_mentions_of_m_init_and_log_are_commands_the_suite_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    for command in ("llmproc -m ", "llmproc init", "llmproc log", "--no-log", "LLMPROC_NO_LOG=1"):
        assert command in readme, command
    # The -m line is in the block of commands that need a key (test_docs runs each, expecting
    # the missing key named); init and log run in the sessions above and in test_init/test_run_log.
    key_block = blocks(ROOT / "README.md", "bash")[1]
    assert any(line.startswith("llmproc -m ") for line in key_block.splitlines())
