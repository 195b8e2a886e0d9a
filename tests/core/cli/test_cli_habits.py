"""What a user tries in the first minutes: --version, --help of every command and subcommand,
a directory or a taken --save name as one `error:` line, and retries printed once (none with -q)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmproc.cli import demo, main, prompt
from llmproc.testing import FakeLLMServer, HTTPError, Reply

ROOT = Path(__file__).resolve().parents[3]
SCRIPTED = ROOT / "examples" / "scripted"
ECHO = SCRIPTED / "echo.toml"
VERSION = importlib.metadata.version("llmproc")


def script(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"console script {name} is not installed"
    return found


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script(str(args[0])), *map(str, args[1:])], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT)


@pytest.mark.parametrize("command", ["llmproc", "llmproc-demo", "llmproc-prompt", "llmproc-mcp"])
def test_every_command_prints_its_version(command: str) -> None:
    proc = run(command, "--version")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{command} {VERSION}\n", "")


def test_llmproc_help_lists_every_subcommand_and_each_has_its_own_usage(capsys: pytest.CaptureFixture[str]) -> None:
    top = run("llmproc", "--help")
    assert top.returncode == 0 and top.stdout.startswith("Usage: llmproc [OPTIONS] PROGRAM_PATH")
    for name in main.SUBCOMMANDS:
        assert f"llmproc {name} " in top.stdout
        assert not top.stdout.split(f"llmproc {name} ", 1)[1].split("\n")[0].endswith("...")  # not cut short
        for flag in ("--help", "-h"):
            assert main.run([name, flag]) == 0
            assert capsys.readouterr().out.startswith(f"Usage: llmproc {name} [OPTIONS]")
    ps = run("llmproc", "ps", "--help")  # the console script, as the issue reported it
    assert ps.returncode == 0 and ps.stdout.startswith("Usage: llmproc ps [OPTIONS]\n")


@pytest.mark.parametrize("command", ["llmproc", "llmproc-demo", "llmproc-prompt"])
def test_a_directory_as_the_program_is_one_error_line(command: str) -> None:
    proc = run(command, "examples/scripted", *(["-p", "hi"] if command != "llmproc-prompt" else []))
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: examples/scripted: a directory, not a program file (it holds ")
    assert "echo.toml" in line


def test_a_directory_without_programs_is_one_error_line_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert prompt.run([str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path}: a directory, not a program file\n"


def test_a_taken_save_name_is_one_error_line(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if k != "LLMPROC_STORE"}, "LLMPROC_STATE_DIR": str(tmp_path)}
    first = run("llmproc-demo", ECHO, "-p", "hi", "--save", "notes", env=env)
    assert first.returncode == 0, first.stderr
    again = run("llmproc-demo", ECHO, "-p", "hi", "--save", "notes", env=env)
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.splitlines() == [
        "error: a saved process named 'notes' exists: continue it with --resume notes, choose another name, "
        "or remove it with: llmproc rm notes"]


def test_a_mistyped_option_still_shows_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.run([str(ECHO), "-p", "hi", "--nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: llmproc-demo [OPTIONS] [PROGRAM_PATH]") and "No such option '--nope'" in err


def test_each_retry_is_printed_once_and_quiet_prints_none(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(f'[model]\nname = "claude-haiku-4-5"\nprovider = "anthropic"\n'
                    f'base_url = "{fake_llm.anthropic_base_url}"\n'
                    "[parameters]\nmax_retries = 1\nretry_initial_delay_s = 0.001\n")
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-ant-test"}
    for args, retry_lines in ((("llmproc",), 1), (("llmproc", "-q"), 0), (("llmproc-demo",), 1)):
        fake_llm.add(HTTPError(529, "Overloaded"), Reply(text="after a retry"))
        proc = run(args[0], path, "-p", "hi", *args[1:], env=env)
        assert (proc.returncode, proc.stdout) == (0, "after a retry\n"), proc.stderr
        assert proc.stderr.count("retry") == retry_lines, proc.stderr
        assert ("model call failed (529); retry 1/1 in " in proc.stderr) == bool(retry_lines)
