"""The README and docs are exercised: every command shown runs and prints what the page says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BIN = str(Path(sys.executable).parent)
# Commands that save processes write to a store of their own, never the user's.
ENV = {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", ""),
       "LLMPROC_STATE_DIR": tempfile.mkdtemp(prefix="llmproc-docs-state-")}


def blocks(page: Path, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", page.read_text(), flags=re.DOTALL | re.MULTILINE)


def shell(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=120, env=ENV)


def console_cases() -> list[tuple[str, str, list[str]]]:
    cases = []
    for page in PAGES:
        for block in blocks(page, "console"):
            command, expected = None, []
            for line in block.splitlines() + ["$ "]:
                if line.startswith("$ "):
                    if command:
                        cases.append((page.relative_to(ROOT).as_posix(), command, expected))
                    command, expected = line[2:].split("  #")[0].strip(), []
                elif line.strip():
                    expected.append(line)
    return cases


def test_readme_has_exactly_two_setup_commands_and_ci_runs_them() -> None:
    first = blocks(ROOT / "README.md", "bash")[0]
    commands = [line for line in first.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].startswith("pip install") and "pytest" in commands[1]
    # A fresh machine gets the versions the suite was run with, not whatever PyPI has today.
    assert "-c constraints.txt" in commands[0]
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    assert {"anthropic", "openai", "mcp", "google-genai", "pytest"} <= set(pins)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "README.md" in ci and 'eval "$cmd"' in ci


@pytest.mark.parametrize(("page", "command", "expected"), [
    # a benchmark shown on a page runs with the slow tests
    pytest.param(*case, marks=[pytest.mark.slow] if case[1].startswith("python tests/bench/") else [])
    for case in console_cases()], ids=[f"{p}: {c[:50]}" for p, c, _ in console_cases()])
def test_console_command_prints_what_the_page_shows(page: str, command: str, expected: list[str]) -> None:
    proc = shell(command)
    output = proc.stdout + proc.stderr
    wants_error = any(line.startswith("error:") for line in expected)
    assert proc.returncode == (2 if wants_error else 0), output
    for line in expected:
        pattern = ".*".join(re.escape(part) for part in line.split("…"))
        assert re.search(pattern, output), f"{page}: {command!r} did not print {line!r}:\n{output}"


def test_readme_commands_that_need_a_key_name_the_variable() -> None:
    lines = [line.split("  #")[0].strip() for line in blocks(ROOT / "README.md", "bash")[1].splitlines()]
    assert lines
    for command in filter(None, lines):
        proc = shell(command)
        assert proc.returncode == 2, (command, proc.stderr)
        assert re.search(r"set the environment variable (ANTHROPIC|OPENAI)_API_KEY", proc.stderr), proc.stderr


@pytest.mark.parametrize("page", [p for p in PAGES if any("asyncio.run(" in b for b in blocks(p, "python"))],
                         ids=lambda p: p.name)
def test_python_scripts_in_docs_run(page: Path) -> None:
    for block in blocks(page, "python"):
        if "asyncio.run(" in block:
            proc = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True,
                                  timeout=120, env=ENV)
            assert proc.returncode == 0, proc.stderr
            assert "42" in proc.stdout


def test_testing_guide_example_is_the_file_and_passes() -> None:
    example = ROOT / "examples" / "testing" / "test_my_program.py"
    shown = next(b for b in blocks(ROOT / "docs" / "testing.md", "python") if "test_calculator_round_trip" in b)
    assert shown == example.read_text()
    proc = subprocess.run([sys.executable, "-m", "pytest", str(example), "-q", "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_readme_claude_mcp_add_runs_a_real_server_command() -> None:
    import shlex

    from llmproc_mcp.settings import parse_args

    (line,) = [l for b in blocks(ROOT / "README.md", "sh") for l in b.splitlines() if l.startswith("claude mcp add")]
    words = shlex.split(line)
    # Run in the checkout: "$PWD/claude-code" registers an absolute path, valid from every project.
    command = [w.replace("$PWD", str(ROOT)) for w in words[words.index("--") + 1:]]
    assert command[0] == "llmproc-mcp"
    settings = parse_args(command[1:])
    assert settings.transport == "stdio"
    assert settings.program_dirs and all(d.is_absolute() and d.is_dir() for d in settings.program_dirs)
