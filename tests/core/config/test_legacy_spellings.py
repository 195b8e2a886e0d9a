"""Program files written for the original LLMProc: each old spelling loads with the same meaning
as ours (the validated configs are equal) and logs one warning naming the new key; each key that
moved where its meaning would change fails with one line saying where it went."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from llmproc import LLMProgram
from llmproc.config.schema import ToolEntry
from llmproc.errors import ProgramConfigError

LEGACY = Path(__file__).resolve().parent / "legacy"
CLAUDE = '[model]\nname = "claude-test"\nprovider = "anthropic"\n'
MCP = '[mcp]\nconfig_path = "mcp_servers.json"\n'


def model(provider: str, extra: str = "") -> str:
    return f'[model]\nname = "m"\nprovider = "{provider}"\n{extra}'


# (id, the original's spelling, ours, [(old key warned about, words naming the new key)])
UPGRADES = [
    ("thinking-table", CLAUDE + '[parameters]\nmax_tokens = 32000\n[parameters.thinking]\ntype = "enabled"\n'
     "budget_tokens = 16000\n", CLAUDE + "[parameters]\nmax_tokens = 32000\nthinking_budget = 16000\n",
     [("parameters.thinking", "write thinking_budget = 16000 instead")]),
    ("thinking-inline", CLAUDE + '[parameters]\nthinking = { type = "enabled", budget_tokens = 2048 }\n',
     CLAUDE + "[parameters]\nthinking_budget = 2048\n", [("parameters.thinking", "thinking_budget = 2048")]),
    ("thinking-disabled", CLAUDE + '[parameters]\nmax_tokens = 500\nthinking = { type = "disabled" }\n',
     CLAUDE + "[parameters]\nmax_tokens = 500\n", [("parameters.thinking", "no thinking_budget")]),
    ("thinking-budget-zero", CLAUDE + "[parameters]\nthinking_budget = 0\n", CLAUDE,
     [("parameters.thinking_budget", "leave the key out")]),
    ("max-completion-openai", model("openai") + '[parameters]\nmax_completion_tokens = 8000\nreasoning_effort = "high"\n',
     model("openai") + '[parameters]\nmax_tokens = 8000\nreasoning_effort = "high"\n',
     [("parameters.max_completion_tokens", "write max_tokens instead")]),
    ("max-completion-chat-effort", model("openai_chat") + '[parameters]\nmax_completion_tokens = 900\n'
     'reasoning_effort = "low"\n', model("openai_chat") + '[parameters]\nmax_tokens = 900\nreasoning_effort = "low"\n',
     [("parameters.max_completion_tokens", "write max_tokens instead")]),
    ("max-completion-chat", model("openai_chat") + "[parameters]\nmax_completion_tokens = 900\n",
     model("openai_chat") + "[parameters.extra]\nmax_completion_tokens = 900\n",
     [("parameters.max_completion_tokens", "[parameters.extra] max_completion_tokens")]),
    ("top-k-claude", CLAUDE + "[parameters]\ntop_k = 40\n", CLAUDE + "[parameters.extra]\ntop_k = 40\n",
     [("parameters.top_k", "[parameters.extra] top_k")]),
    ("penalties-chat", model("openai_chat") + '[parameters]\nfrequency_penalty = 0.5\npresence_penalty = 0.1\n'
     'stop = ["END"]\n', model("openai_chat") + '[parameters.extra]\nfrequency_penalty = 0.5\npresence_penalty = 0.1\n'
     'stop = ["END"]\n', [("parameters.frequency_penalty", "[parameters.extra] frequency_penalty"),
                          ("parameters.presence_penalty", "[parameters.extra] presence_penalty"),
                          ("parameters.stop", "[parameters.extra] stop")]),
    ("stop-sequences-gemini", model("gemini") + '[parameters]\nstop_sequences = ["END"]\n',
     model("gemini") + '[parameters.extra]\nstop_sequences = ["END"]\n',
     [("parameters.stop_sequences", "[parameters.extra] stop_sequences")]),
    ("caching-in-model", CLAUDE + "disable_automatic_caching = true\n",
     CLAUDE + "[parameters]\ndisable_automatic_caching = true\n",
     [("model.disable_automatic_caching", "[parameters] disable_automatic_caching")]),
    ("max-iterations", CLAUDE + "max_iterations = 12\n", CLAUDE + "[limits]\nmax_turns = 12\n",
     [("model.max_iterations", "[limits] max_turns")]),
    ("provider-vertex", '[model]\nname = "claude@1"\nprovider = "vertex"\nregion = "us-east5"\n',
     '[model]\nname = "claude@1"\nprovider = "anthropic_vertex"\nregion = "us-east5"\n',
     [("model.provider", 'provider = "anthropic_vertex"')]),
    ("mcp-tools", CLAUDE + MCP + '[mcp.tools]\neverything = ["add"]\n',
     CLAUDE + MCP + '[tools.mcp]\neverything = ["add"]\n', [("mcp.tools", "[tools.mcp]")]),
    ("mcp-tools-inline", CLAUDE + '[mcp]\ntools = { time = "all" }\n[mcp.servers.time]\ncommand = "t"\n',
     CLAUDE + '[mcp.servers.time]\ncommand = "t"\n[tools.mcp]\ntime = "all"\n', [("mcp.tools", "[tools.mcp]")]),
    ("tools-builtin", CLAUDE + '[tools]\nbuiltin = ["calculator"]\n', CLAUDE + '[tools]\nenabled = ["calculator"]\n',
     [("tools.builtin", "[tools] enabled")]),
    ("aliases", CLAUDE + MCP + '[tools]\nenabled = ["read_file", "calculator"]\n[tools.aliases]\nread = "read_file"\n'
     'add = "everything__add"\n[mcp.tools]\neverything = ["add", "echo"]\n',
     CLAUDE + MCP + '[tools]\nenabled = [{ name = "read_file", alias = "read" }, "calculator"]\n'
     '[tools.mcp]\neverything = [{ name = "add", alias = "add" }, "echo"]\n',
     [("mcp.tools", "[tools.mcp]"), ("tools.aliases", "{ name, alias } entries in [tools] enabled")]),
]

# (id, program text, the dotted key named, words of the message)
MOVED = [
    ("thinking-and-budget", CLAUDE + '[parameters]\nthinking_budget = 2048\nthinking = { type = "enabled", '
     "budget_tokens = 2048 }\n", "parameters.thinking", "keep thinking_budget only"),
    ("thinking-adaptive", CLAUDE + '[parameters]\nthinking = { type = "adaptive" }\n', "parameters.thinking",
     "[parameters.extra] thinking"),
    ("thinking-display", CLAUDE + '[parameters]\nthinking = { type = "enabled", budget_tokens = 2048, '
     'display = "omitted" }\n', "parameters.thinking", "[parameters.extra] thinking"),
    ("thinking-not-table", CLAUDE + "[parameters]\nthinking = true\n", "parameters.thinking", "thinking_budget = N"),
    ("thinking-no-budget", CLAUDE + '[parameters]\nthinking = { type = "enabled" }\n', "parameters.thinking",
     "write thinking_budget = N"),
    ("thinking-disabled-and-budget", CLAUDE + '[parameters]\nthinking_budget = 2048\n'
     'thinking = { type = "disabled" }\n', "parameters.thinking", "keep one"),
    ("thinking-budget-small", CLAUDE + '[parameters]\nthinking = { type = "enabled", budget_tokens = 500 }\n',
     "parameters.thinking.budget_tokens", "must be >= 1024"),
    ("max-completion-and-max", model("openai") + "[parameters]\nmax_tokens = 10\nmax_completion_tokens = 20\n",
     "parameters.max_completion_tokens", "keep max_tokens only"),
    ("max-completion-claude", CLAUDE + "[parameters]\nmax_completion_tokens = 20\n",
     "parameters.max_completion_tokens", "write max_tokens"),
    ("max-tokens-to-sample", CLAUDE + "[parameters]\nmax_tokens_to_sample = 20\n",
     "parameters.max_tokens_to_sample", "write max_tokens"),
    ("penalty-responses", model("openai") + "[parameters]\nfrequency_penalty = 0.0\n",
     "parameters.frequency_penalty", 'use provider = "openai_chat" and [parameters.extra] frequency_penalty'),
    ("top-k-chat", model("openai_chat") + "[parameters]\ntop_k = 5\n", "parameters.top_k",
     "the openai_chat API does not take top_k"),
    ("mcp-tools-twice", CLAUDE + MCP + '[mcp.tools]\neverything = ["add"]\n[tools.mcp]\neverything = ["echo"]\n',
     "mcp.tools", "moved to [tools.mcp], which this program also has"),
    ("caching-twice", CLAUDE + "disable_automatic_caching = true\n[parameters]\ndisable_automatic_caching = false\n",
     "model.disable_automatic_caching", "moved to [parameters] disable_automatic_caching, which this program"),
    ("builtin-and-enabled", CLAUDE + '[tools]\nbuiltin = ["calculator"]\nenabled = ["read_file"]\n',
     "tools.builtin", "merge the two"),
    ("alias-not-enabled", CLAUDE + '[tools.aliases]\ncalc = "calculator"\n', "tools.aliases.calc",
     "'calculator' is not enabled"),
    ("alias-of-all", CLAUDE + MCP + '[tools.aliases]\nadd = "everything__add"\n[mcp.tools]\neverything = "all"\n',
     "tools.aliases.add", 'instead of "all"'),
    ("env-info-custom", CLAUDE + '[env_info]\nvariables = ["date"]\ngit_branch = "main"\n', "env_info.git_branch",
     "[env_info] env_vars"),
    ("plugins", CLAUDE + '[plugins.env_info]\nvariables = ["date"]\n', "plugins", "env_info -> [env_info]"),
    # An old spelling whose value the API rejects: the key is named as the file has it.
    ("old-top-k-with-thinking", CLAUDE + '[parameters]\ntop_k = 5\nthinking = { type = "enabled", '
     "budget_tokens = 2048 }\n", "parameters.top_k", "takes no top_k"),
]


def load(folder: Path, text: str, name: str = "program.toml") -> LLMProgram:
    (folder / "mcp_servers.json").write_text('{"mcpServers": {"everything": {"command": "x"}}}')
    path = folder / name
    path.write_text(text)
    return LLMProgram.from_toml(path)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "llmproc.config"]


@pytest.mark.parametrize(("old", "new", "warned"), [c[1:] for c in UPGRADES], ids=[c[0] for c in UPGRADES])
def test_old_spelling_loads_with_the_same_meaning(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                  old: str, new: str, warned: list[tuple[str, str]]) -> None:
    caplog.set_level(logging.WARNING, logger="llmproc.config")
    ours = load(tmp_path, new, "new.toml")
    assert warnings_of(caplog) == []  # our spelling is never warned about
    theirs = load(tmp_path, old, "old.toml")
    assert theirs.config == ours.config
    messages = warnings_of(caplog)
    assert len(messages) == len(warned), messages  # one warning per old key
    for message, (key, words) in zip(messages, warned, strict=True):
        assert message.startswith(f"{tmp_path / 'old.toml'}: {key}: the original LLMProc's spelling"), message
        assert words in message, message


@pytest.mark.parametrize(("text", "key", "words"), [c[1:] for c in MOVED], ids=[c[0] for c in MOVED])
def test_moved_key_fails_with_one_line_naming_where_it_went(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                            text: str, key: str, words: str) -> None:
    caplog.set_level(logging.WARNING, logger="llmproc.config")
    with pytest.raises(ProgramConfigError) as info:
        load(tmp_path, text)
    err = info.value
    assert (err.path, err.key) == (str(tmp_path / "program.toml"), key), str(err)
    assert str(err).startswith(f"{tmp_path / 'program.toml'}: {key}: ")
    assert words in str(err), str(err)
    assert "\n" not in str(err)
    assert warnings_of(caplog) == []  # a program that fails prints its one error line alone


def test_from_dict_reads_old_spellings_without_changing_the_callers_dict() -> None:
    data = {"model": {"name": "m", "provider": "anthropic", "disable_automatic_caching": True},
            "parameters": {"thinking": {"type": "enabled", "budget_tokens": 2048}}}
    program = LLMProgram.from_dict(data)
    assert program.config.parameters.thinking_budget == 2048
    assert program.config.parameters.disable_automatic_caching is True
    assert data == {"model": {"name": "m", "provider": "anthropic", "disable_automatic_caching": True},
                    "parameters": {"thinking": {"type": "enabled", "budget_tokens": 2048}}}


def test_old_programs_in_the_legacy_folder(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="llmproc.config")
    program = LLMProgram.from_toml(LEGACY / "claude-thinking-tools.toml")
    params = program.config.parameters
    assert (params.thinking_budget, params.max_tokens, params.disable_automatic_caching) == (16000, 32000, True)
    assert params.extra_headers == {"anthropic-beta": "token-efficient-tools-2025-02-19"}
    assert program.display_name == "Claude 3.7 (thinking, token-efficient tools)"

    program = LLMProgram.from_toml(LEGACY / "mcp-aliases.toml")
    assert program.config.tools.enabled == [ToolEntry(name="read_file", alias="read"),
                                            ToolEntry(name="calculator", alias="calc")]
    assert program.config.tools.mcp["everything"][1] == "echo"
    assert program.mcp_config_path == LEGACY / "mcp_servers.json"

    program = LLMProgram.from_toml(LEGACY / "o3-mini.toml")
    assert (program.config.parameters.max_tokens, program.config.parameters.reasoning_effort) == (8000, "high")
    assert len(warnings_of(caplog)) == 2 + 2 + 1


@pytest.mark.parametrize(("name", "returncode", "first"), [
    ("claude-thinking-tools.toml", 0, "claude-thinking-tools.toml: model.disable_automatic_caching: "),
    ("thinking-with-temperature.toml", 2, "error: "),
    ("mcp-tools-twice.toml", 2, "error: "),
])
def test_cli_prints_warnings_or_one_error_line(name: str, returncode: int, first: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "llmproc.cli.prompt", str(LEGACY / name)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == returncode, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert first in lines[0]
    if returncode:
        assert len(lines) == 1 and "Traceback" not in proc.stderr
    else:
        assert all("the original LLMProc's spelling, still read: write" in line for line in lines)


# -- docs/migrating.md ---------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[3]
MIGRATING = ROOT / "docs" / "migrating.md"


def test_migrating_page_before_and_after_mean_the_same(tmp_path: Path) -> None:
    import re

    before, after = re.findall(r"^```toml\n(.*?)^```", MIGRATING.read_text(), flags=re.DOTALL | re.MULTILINE)
    assert load(tmp_path, CLAUDE + before, "before.toml").config == load(tmp_path, CLAUDE + after, "after.toml").config


def test_migrating_page_commands_are_all_run_and_it_is_linked() -> None:
    text = MIGRATING.read_text()
    # tests/core/test_docs.py runs every `console` block; a bash block would go unchecked.
    assert "```console" in text and "```bash" not in text and "```sh" not in text
    assert "(docs/migrating.md)" in (ROOT / "README.md").read_text()
    assert "(migrating.md)" in (ROOT / "docs" / "program-files.md").read_text()
    for row in UPGRADES:  # every old key the tests upgrade is in the page's table
        for key, _ in row[3]:
            assert key.rsplit(".", 1)[-1] in text, key
