"""`llmproc-prompt` and `llmproc schema` as a user runs them: real console scripts, real processes."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PRELOAD = ROOT / "examples" / "features" / "preload.toml"


def script(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"console script {name} is not installed (pip install -e .)"
    return found


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, env=env)


def test_prints_enriched_prompt_without_api_key() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    proc = run(script("llmproc-prompt"), str(PRELOAD), env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("You answer questions about the project")
    assert '<file path="preload-data/project-notes.md">' in proc.stdout
    assert "\x1b[" not in proc.stdout  # not a terminal: no colour


def test_output_file_and_no_env(tmp_path: Path) -> None:
    env_example = ROOT / "examples" / "features" / "env-info.toml"
    out = tmp_path / "prompt.txt"
    proc = run(script("llmproc-prompt"), str(env_example), "-o", str(out))
    assert proc.returncode == 0 and proc.stdout == ""
    assert "<env>" in out.read_text()
    proc = run(script("llmproc-prompt"), str(env_example), "--no-env")
    assert proc.returncode == 0 and "<env>" not in proc.stdout


def _run_in_pty(args: list[str]) -> str:
    main, secondary = pty.openpty()
    proc = subprocess.Popen(args, stdout=secondary, stderr=secondary, stdin=subprocess.DEVNULL)
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        if not ready:
            proc.kill()
            raise AssertionError("no output from the command within 30 s")
        try:
            data = os.read(main, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(main)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_and_off_with_C() -> None:
    coloured = _run_in_pty([script("llmproc-prompt"), str(PRELOAD)])
    assert "\x1b[" in coloured and "<preload>" in coloured
    plain = _run_in_pty([script("llmproc-prompt"), str(PRELOAD), "-C"])
    assert "\x1b[" not in plain and "<preload>" in plain


def test_missing_preload_is_a_warning_on_stderr(tmp_path: Path) -> None:
    program = tmp_path / "p.toml"
    program.write_text('[model]\nname = "m"\nprovider = "scripted"\n[preload]\nfiles = ["gone.md"]\n')
    proc = run(script("llmproc-prompt"), str(program))
    assert proc.returncode == 0
    assert "warning: preload file not readable, skipped:" in proc.stderr and "gone.md" in proc.stderr


def test_help_lists_the_seed_options() -> None:
    proc = run(script("llmproc-prompt"), "-h")
    assert proc.returncode == 0
    for option in ["-o, --output", "-E, --no-env", "-C, --no-color"]:
        assert option in proc.stdout


def test_schema_is_json_schema_of_every_section() -> None:
    proc = run(script("llmproc"), "schema")
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["properties"]) == {
        "model", "prompt", "parameters", "preload", "env_info", "tools", "mcp", "linked_programs",
        "file_descriptor", "limits", "demo"}
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["model"]


def test_prompt_does_not_import_provider_sdks() -> None:
    code = ("import sys; from llmproc.cli.prompt import run; rc = run([sys.argv[1], '-C']);"
            "bad = [m for m in ('anthropic', 'openai', 'google.genai', 'mcp') if m in sys.modules];"
            "print('IMPORTED', bad, file=sys.stderr); sys.exit(rc or (3 if bad else 0))")
    proc = run(sys.executable, "-c", code, str(PRELOAD))
    assert proc.returncode == 0, proc.stderr
    assert "IMPORTED []" in proc.stderr


@pytest.mark.parametrize("argv", [["llmproc-prompt"], ["llmproc-prompt", "nope.toml"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    proc = run(script(argv[0]), *argv[1:])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
