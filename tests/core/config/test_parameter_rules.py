"""Parameter combinations the provider APIs reject fail when the program loads, in one line
naming the key; the nearby combinations the APIs take still load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from llmproc import LLMProgram
from llmproc.config.rules import RULES
from llmproc.errors import ProgramConfigError


def program(provider: str, parameters: str, model: str = "") -> str:
    return f'[model]\nname = "m"\nprovider = "{provider}"\n{model}[parameters]\n{parameters}'


THINK = "thinking_budget = 2048\n"

# (id, program, dotted key named, words of the message)
REJECTED = [
    ("claude-thinking-temperature", program("anthropic", THINK + "temperature = 0.7\n"),
     "parameters.temperature", "takes no temperature but 1, got 0.7"),
    ("vertex-thinking-temperature", program("anthropic_vertex", THINK + "temperature = 0.0\n"),
     "parameters.temperature", "remove temperature or thinking_budget"),
    ("claude-thinking-top-p", program("anthropic", THINK + "top_p = 0.9\n"),
     "parameters.top_p", "takes top_p from 0.95 to 1, got 0.9"),
    ("claude-thinking-top-k", program("anthropic", THINK + "extra = { top_k = 10 }\n"),
     "parameters.extra.top_k", "takes no top_k"),
    ("claude-thinking-forced-tool", program("anthropic", THINK + 'extra = { tool_choice = { type = "any" } }\n'),
     "parameters.extra.tool_choice", "forced tool_choice"),
    ("claude-thinking-named-tool", program("anthropic", THINK + 'extra = { tool_choice = { type = "tool", '
                                                                'name = "calculator" } }\n'),
     "parameters.extra.tool_choice", "use auto or none"),
    ("claude-temperature-above-1", program("anthropic", "temperature = 1.5\n"),
     "parameters.temperature", "from 0 to 1, got 1.5"),
    ("budget-not-below-max", program("anthropic", THINK + "max_tokens = 2048\n"),
     "parameters", "must be below max_tokens"),
    ("openai-effort-temperature", program("openai", 'reasoning_effort = "high"\ntemperature = 0.2\n'),
     "parameters.temperature", "take no temperature with reasoning_effort = 'high'"),
    ("openai-effort-top-p", program("openai", 'reasoning_effort = "low"\ntop_p = 0.5\n'),
     "parameters.top_p", "take no top_p"),
    ("chat-effort-temperature", program("openai_chat", 'reasoning_effort = "medium"\ntemperature = 1.0\n'),
     "parameters.temperature", "remove temperature"),
    ("responses-through-proxy", program("openai", 'reasoning_effort = "high"\ntemperature = 0.2\n',
                                        'base_url = "https://gateway.example/v1"\n'),
     "parameters.temperature", "reasoning models"),
    ("responses-max-tokens-small", program("openai", "max_tokens = 8\n"),
     "parameters.max_tokens", "at least 16 output tokens, got max_tokens = 8"),
]

# Near misses the APIs take: each must load.
ALLOWED = [
    ("claude-thinking-temperature-1", program("anthropic", THINK + "temperature = 1\n")),
    ("claude-thinking-top-p-high", program("anthropic", THINK + "top_p = 0.95\n")),
    ("claude-thinking-auto-tool", program("anthropic", THINK + 'extra = { tool_choice = { type = "auto" } }\n')),
    ("claude-no-thinking-sampling", program("anthropic", "temperature = 0.2\ntop_p = 0.5\nextra = { top_k = 5 }\n")),
    ("claude-temperature-1", program("anthropic", "temperature = 1.0\n")),
    ("openai-temperature-alone", program("openai", "temperature = 1.5\n")),
    ("openai-effort-none-temperature", program("openai", 'reasoning_effort = "none"\ntemperature = 0.3\n')),
    ("chat-local-server", program("openai_chat", 'reasoning_effort = "high"\ntemperature = 0.6\n',
                                  'base_url = "http://localhost:8000/v1"\n')),
    ("gemini-thinking-temperature", program("gemini", THINK + "temperature = 0.4\n")),
    ("responses-max-tokens-16", program("openai", "max_tokens = 16\n")),
    ("chat-max-tokens-small", program("openai_chat", "max_tokens = 8\n")),
    ("scripted-anything", program("scripted", THINK + "temperature = 0.1\n")),
]


@pytest.mark.parametrize(("text", "key", "words"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected_combination_fails_at_load(tmp_path: Path, text: str, key: str, words: str) -> None:
    path = tmp_path / "program.toml"
    path.write_text(text)
    with pytest.raises(ProgramConfigError) as info:
        LLMProgram.from_toml(path)
    assert (info.value.path, info.value.key) == (str(path), key), str(info.value)
    assert words in str(info.value)
    assert str(info.value).startswith(f"{path}: {key}: ") and "\n" not in str(info.value)


@pytest.mark.parametrize("text", [c[1] for c in ALLOWED], ids=[c[0] for c in ALLOWED])
def test_combination_the_api_takes_loads(tmp_path: Path, text: str) -> None:
    path = tmp_path / "program.toml"
    path.write_text(text)
    LLMProgram.from_toml(path)


def test_every_rule_has_a_rejected_case() -> None:
    keys = {c[2] for c in REJECTED}
    assert {rule.key for rule in RULES} <= keys


def test_dict_programs_are_checked_too() -> None:
    with pytest.raises(ProgramConfigError, match=r"^<program>: parameters\.temperature: Claude's extended"):
        LLMProgram.from_dict({"model": {"name": "m", "provider": "anthropic"},
                              "parameters": {"thinking_budget": 2048, "temperature": 0.5}})


def test_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "program.toml"
    path.write_text(REJECTED[0][1])
    proc = subprocess.run([sys.executable, "-m", "llmproc.cli.prompt", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {path}: parameters.temperature: Claude's extended "
                                                "thinking (thinking_budget) takes no temperature but 1, got 0.7: "
                                                "remove temperature or thinking_budget"]
