"""`llmproc init [PATH]`: a starter program that loads, explained line by line, never written
over an existing file without --force."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmproc import LLMProgram
from llmproc.config.schema import PROVIDERS
from tests.core.cli.conftest import Run


def explained(text: str) -> None:
    """Every key set in the file has a comment line right above it."""
    lines = text.splitlines()
    in_string = False
    for i, line in enumerate(lines):
        if line.count('"""') == 1:
            in_string = not in_string
            if not in_string:
                continue
        elif in_string:
            continue
        if "=" in line and not line.lstrip().startswith("#"):
            assert lines[i - 1].startswith("#"), f"line {i + 1} is not explained: {line!r}"


def test_init_writes_a_program_that_loads_and_says_what_next(cli: Run, tmp_path: Path) -> None:
    proc = cli("llmproc", "init", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
    assert proc.stderr.splitlines() == [
        "wrote program.toml: claude-sonnet-5-5 (anthropic), a system prompt, no tools yet",
        "set ANTHROPIC_API_KEY (or put it in a .env file), then run:",
        '  llmproc program.toml -p "Hello"',
        "  llmproc-demo program.toml",
    ]
    written = tmp_path / "program.toml"
    program = LLMProgram.from_toml(written)
    assert (program.model_name, program.provider) == ("claude-sonnet-5-5", "anthropic")
    assert program.system_prompt.strip().startswith("You are a helpful assistant.")
    explained(written.read_text())


def test_init_refuses_to_overwrite_unless_forced(cli: Run, tmp_path: Path) -> None:
    mine = tmp_path / "program.toml"
    mine.write_text("# my own program\n")
    proc = cli("llmproc", "init", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.splitlines() == ["error: program.toml exists; overwrite it with --force, or give another PATH"]
    assert mine.read_text() == "# my own program\n"
    forced = cli("llmproc", "init", "--force", "--model", "gpt-4o-mini", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert LLMProgram.from_toml(mine).provider == "openai"


def test_init_of_an_offline_program_that_then_runs(cli: Run, tmp_path: Path) -> None:
    proc = cli("llmproc", "init", "agents/offline.toml", "--provider", "scripted", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[:2] == ["wrote agents/offline.toml: echo (scripted), a system prompt, no tools yet",
                                            "run:"]
    ran = cli("llmproc", "agents/offline.toml", "-p", "Hello", "-q", cwd=tmp_path)
    assert (ran.returncode, ran.stdout) == (0, "Hello\n"), ran.stderr


def test_init_into_a_directory_writes_program_toml_there(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    proc = cli("llmproc", "init", "here", "-m", "gemini-3-flash", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert LLMProgram.from_toml(tmp_path / "here" / "program.toml").provider == "gemini"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_provider_gets_a_program_that_loads(provider: str, tmp_path: Path) -> None:
    from llmproc.cli.main import run

    path = tmp_path / f"{provider}.toml"
    assert run(["init", str(path), "--provider", provider]) == 0
    program = LLMProgram.from_toml(path)
    assert program.provider == provider
    explained(path.read_text())


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "llama3.2"], "error: cannot tell the provider of model 'llama3.2' from its name: add --provider "
                              f"NAME ({', '.join(PROVIDERS)})"),
    (["--provider", "nope"], f"error: --provider 'nope' is not a provider: use one of {', '.join(PROVIDERS)}"),
])
def test_init_without_a_provider_it_can_use_is_one_error_line(cli: Run, tmp_path: Path, args: list[str],
                                                               message: str) -> None:
    proc = cli("llmproc", "init", *args, cwd=tmp_path)
    assert (proc.returncode, proc.stderr.splitlines()) == (2, [message])
    assert list(tmp_path.iterdir()) == []


def test_a_model_name_with_quotes_is_written_as_a_valid_string(tmp_path: Path) -> None:
    from llmproc.cli.main import run

    path = tmp_path / "odd.toml"
    assert run(["init", str(path), "--model", 'my "odd" \\ model', "--provider", "openai_chat"]) == 0
    assert LLMProgram.from_toml(path).model_name == 'my "odd" \\ model'
