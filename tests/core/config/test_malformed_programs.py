"""Every malformed program gives one ProgramConfigError naming the file, the key and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from llmproc import LLMProgram
from llmproc.errors import ProgramConfigError

MODEL = '[model]\nname = "m"\nprovider = "openai"\n'

# (id, program text, dotted key named in the error, words the message must contain)
CASES = [
    ("no-model", '[prompt]\nsystem_prompt = "x"\n', "model", "required"),
    ("no-name", '[model]\nprovider = "openai"\n', "model.name", "required"),
    ("empty-name", '[model]\nname = ""\nprovider = "openai"\n', "model.name", "empty"),
    ("bad-provider", '[model]\nname = "m"\nprovider = "opneai"\n', "model.provider", "'openai'"),
    ("provider-type", '[model]\nname = "m"\nprovider = 3\n', "model.provider", "must be one of"),
    ("model-typo", '[model]\nnmae = "m"\nname = "m"\nprovider = "openai"\n', "model.nmae", "did you mean 'name'"),
    ("section-typo", MODEL + "[tool]\nenabled = []\n", "tool", "did you mean 'tools'"),
    ("section-typo-2", MODEL + "[limit]\nmax_turns = 3\n", "limit", "did you mean 'limits'"),
    ("unknown-section", MODEL + "[zzz]\na = 1\n", "zzz", "valid keys"),
    ("tools-typo", MODEL + '[tools]\nenabeld = ["calculator"]\n', "tools.enabeld", "did you mean 'enabled'"),
    ("unknown-tool", MODEL + '[tools]\nenabled = ["spwan"]\n', "tools.enabled[0]", "did you mean 'spawn'"),
    ("tool-entry-typo", MODEL + '[tools]\nenabled = [{ name = "read_file", alis = "r" }]\n',
     "tools.enabled[0].alis", "did you mean 'alias'"),
    ("enabled-not-list", MODEL + '[tools]\nenabled = "calculator"\n', "tools.enabled", "expected a list"),
    ("root-missing", MODEL + '[tools]\nallowed_roots = ["no/such/dir"]\n', "tools.allowed_roots[0]", "not a directory"),
    ("page-negative", MODEL + "[file_descriptor]\ndefault_page_size = -5\n",
     "file_descriptor.default_page_size", "must be > 0"),
    ("page-zero", MODEL + "[file_descriptor]\nmax_direct_output_chars = 0\n",
     "file_descriptor.max_direct_output_chars", "must be > 0"),
    ("fd-typo", MODEL + "[file_descriptor]\nenable = true\n", "file_descriptor.enable", "did you mean 'enabled'"),
    ("fd-bool", MODEL + '[file_descriptor]\nenabled = "yes"\n', "file_descriptor.enabled", "true or false"),
    ("max-tokens-str", MODEL + '[parameters]\nmax_tokens = "many"\n', "parameters.max_tokens", "integer"),
    ("max-tokens-neg", MODEL + "[parameters]\nmax_tokens = -1\n", "parameters.max_tokens", "must be > 0"),
    ("temperature-high", MODEL + "[parameters]\ntemperature = 3.5\n", "parameters.temperature", "<= 2"),
    ("effort-bad", MODEL + '[parameters]\nreasoning_effort = "extreme"\n', "parameters.reasoning_effort", "'high'"),
    ("thinking-small", MODEL + "[parameters]\nthinking_budget = 10\n", "parameters.thinking_budget", ">= 1024"),
    ("thinking-over-max", MODEL + "[parameters]\nmax_tokens = 2000\nthinking_budget = 4000\n",
     "parameters", "below max_tokens"),
    ("param-typo", MODEL + "[parameters]\nmax_token = 5\n", "parameters.max_token", "did you mean 'max_tokens'"),
    ("prompt-both", MODEL + '[prompt]\nsystem_prompt = "a"\nsystem_prompt_file = "b.md"\n', "prompt", "not both"),
    ("prompt-file-missing", MODEL + '[prompt]\nsystem_prompt_file = "missing.md"\n',
     "prompt.system_prompt_file", "not found"),
    ("prompt-typo", MODEL + '[prompt]\nsystem = "a"\n', "prompt.system", "did you mean"),
    ("linked-missing", MODEL + '[linked_programs]\nexpert = "nope.toml"\n', "linked_programs.expert", "not found"),
    ("linked-int", MODEL + "[linked_programs]\nexpert = 5\n", "linked_programs.expert", "expected a string or a table"),
    ("linked-typo", MODEL + '[linked_programs]\nexpert = { path = "x.toml", descripton = "d" }\n',
     "linked_programs.expert.descripton", "did you mean 'description'"),
    ("linked-no-path", MODEL + '[linked_programs]\nexpert = { description = "d" }\n',
     "linked_programs.expert.path", "required"),
    ("env-var-bad", MODEL + '[env_info]\nvariables = ["cwd"]\n', "env_info.variables[0]", "'working_directory'"),
    ("env-all-typo", MODEL + '[env_info]\nvariables = "al"\n', "env_info.variables", "'all'"),
    ("limits-zero-turns", MODEL + "[limits]\nmax_turns = 0\n", "limits.max_turns", "must be > 0"),
    ("limits-neg-cost", MODEL + "[limits]\nmax_cost_usd = -1.0\n", "limits.max_cost_usd", "must be > 0"),
    ("limits-depth-neg", MODEL + "[limits]\nmax_depth = -1\n", "limits.max_depth", ">= 0"),
    ("mcp-config-missing", MODEL + '[mcp]\nconfig_path = "none.json"\n', "mcp.config_path", "not found"),
    ("mcp-server-typo", MODEL + '[mcp.servers.a]\ncomand = "x"\n', "mcp.servers.a.comand", "did you mean 'command'"),
    ("mcp-undeclared", MODEL + '[tools.mcp]\ntime = "all"\n', "tools.mcp.time", "not declared"),
    ("mcp-tools-bad", MODEL + '[mcp.servers.time]\ncommand = "x"\n[tools.mcp]\ntime = "some"\n',
     "tools.mcp.time", "'all'"),
    ("demo-typo", MODEL + '[demo]\nprompt = ["a"]\n', "demo.prompt", "did you mean 'prompts'"),
    ("preload-not-list", MODEL + '[preload]\nfiles = "a.md"\n', "preload.files", "expected a list"),
]


@pytest.mark.parametrize(("text", "key", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_program_names_file_key_and_fix(tmp_path: Path, text: str, key: str, words: str) -> None:
    program = tmp_path / "program.toml"
    program.write_text(text)
    with pytest.raises(ProgramConfigError) as info:
        LLMProgram.from_toml(program)
    err = info.value
    assert err.path == str(program)
    assert err.key == key, str(err)
    assert words in str(err), str(err)
    assert str(err).startswith(f"{program}: {key}: ")
    assert "\n" not in str(err)


def test_there_are_at_least_30_cases() -> None:
    assert len(CASES) >= 30


def test_invalid_toml_syntax_names_line(tmp_path: Path) -> None:
    program = tmp_path / "broken.toml"
    program.write_text('[model]\nname = "m\nprovider = "openai"\n')
    with pytest.raises(ProgramConfigError, match=r"broken\.toml: invalid TOML: .*line 2"):
        LLMProgram.from_toml(program)


def test_missing_program_file(tmp_path: Path) -> None:
    with pytest.raises(ProgramConfigError, match="program file not found"):
        LLMProgram.from_toml(tmp_path / "absent.toml")


def test_error_in_linked_program_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "child.toml").write_text(MODEL + "[limits]\nmax_turns = -3\n")
    (tmp_path / "main.toml").write_text(MODEL + '[linked_programs]\nchild = "child.toml"\n')
    with pytest.raises(ProgramConfigError) as info:
        LLMProgram.from_toml(tmp_path / "main.toml")
    assert info.value.path == str(tmp_path / "child.toml")
    assert info.value.key == "limits.max_turns"


def test_dict_program_errors_say_program(tmp_path: Path) -> None:
    with pytest.raises(ProgramConfigError, match=r"^<program>: model.provider: "):
        LLMProgram.from_dict({"model": {"name": "m", "provider": "nope"}})


@pytest.mark.parametrize("case", ["bad-provider", "tools-typo", "linked-missing"])
def test_cli_prints_one_line_and_exits_2(tmp_path: Path, case: str) -> None:
    text, key, _ = next(c[1:] for c in CASES if c[0] == case)
    program = tmp_path / "program.toml"
    program.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "llmproc.cli.prompt", str(program)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith(f"error: {program}: {key}: ")
    assert "Traceback" not in proc.stderr
