"""Parameter combinations a provider's API rejects, refused when the program loads.

Without these checks such a program loads, starts, builds its prompt and fails at its first
model call with an HTTP 400, after the user has typed a question. Each rule is one row: the
providers it applies to, the key the error names, when a program breaks it, and what to do.
Only combinations the providers document as errors are here, not advice: a setting that is
merely ignored (reasoning_effort on Claude) is left alone. The list is in docs/providers.md
("Parameters refused at load").

thinking_budget >= max_tokens is checked by the schema itself (it holds for every provider).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llmproc.config.schema import ParametersSection, ProgramConfig
from llmproc.errors import ProgramConfigError

CLAUDE = frozenset({"anthropic", "anthropic_vertex"})
OPENAI = frozenset({"openai", "openai_chat"})
# Claude's extended thinking takes top_p only in this range (and temperature only at 1).
THINKING_TOP_P = 0.95
RESPONSES_MIN_OUTPUT_TOKENS = 16


@dataclass(frozen=True)
class Rule:
    providers: frozenset[str]
    key: str
    broken: Callable[[ProgramConfig], bool]
    message: str  # formatted with p = the [parameters] section


def _thinking(c: ProgramConfig) -> bool:
    return c.parameters.thinking_budget is not None


def _reasoning(c: ProgramConfig) -> bool:
    # "none" turns reasoning off on the models that have it, and they then take sampling settings.
    # openai_chat with a base_url is a compatible server (vLLM, Ollama): its own rules apply.
    on = c.parameters.reasoning_effort not in (None, "none")
    return on and (c.model.provider == "openai" or c.model.base_url is None)


def _tool_choice(p: ParametersSection) -> object:
    choice = p.extra.get("tool_choice")
    return choice.get("type") if isinstance(choice, dict) else choice


RULES: tuple[Rule, ...] = (
    Rule(CLAUDE, "parameters.temperature",
         lambda c: _thinking(c) and c.parameters.temperature not in (None, 1),
         "Claude's extended thinking (thinking_budget) takes no temperature but 1, got {p.temperature}: "
         "remove temperature or thinking_budget"),
    Rule(CLAUDE, "parameters.top_p",
         lambda c: _thinking(c) and c.parameters.top_p is not None and c.parameters.top_p < THINKING_TOP_P,
         f"Claude's extended thinking (thinking_budget) takes top_p from {THINKING_TOP_P} to 1, got {{p.top_p}}: "
         "raise or remove top_p, or remove thinking_budget"),
    Rule(CLAUDE, "parameters.extra.top_k",
         lambda c: _thinking(c) and "top_k" in c.parameters.extra,
         "Claude's extended thinking (thinking_budget) takes no top_k: remove top_k or thinking_budget"),
    Rule(CLAUDE, "parameters.extra.tool_choice",
         lambda c: _thinking(c) and _tool_choice(c.parameters) in ("any", "tool"),
         "Claude's extended thinking (thinking_budget) cannot be combined with a forced tool_choice "
         "(any, tool): use auto or none, or remove thinking_budget"),
    Rule(CLAUDE, "parameters.temperature",
         lambda c: (c.parameters.temperature or 0) > 1,
         "Claude takes a temperature from 0 to 1, got {p.temperature}"),
    Rule(OPENAI, "parameters.temperature",
         lambda c: _reasoning(c) and c.parameters.temperature is not None,
         "OpenAI reasoning models take no temperature with reasoning_effort = {p.reasoning_effort!r}: remove "
         "temperature (models that support reasoning_effort = \"none\" take it then)"),
    Rule(OPENAI, "parameters.top_p",
         lambda c: _reasoning(c) and c.parameters.top_p is not None,
         "OpenAI reasoning models take no top_p with reasoning_effort = {p.reasoning_effort!r}: remove "
         "top_p (models that support reasoning_effort = \"none\" take it then)"),
    Rule(frozenset({"openai"}), "parameters.max_tokens",
         lambda c: (c.parameters.max_tokens or RESPONSES_MIN_OUTPUT_TOKENS) < RESPONSES_MIN_OUTPUT_TOKENS,
         f"the Responses API (provider openai) takes at least {RESPONSES_MIN_OUTPUT_TOKENS} output tokens, "
         "got max_tokens = {p.max_tokens}"),
)


def check(config: ProgramConfig, path: str | Path | None) -> None:
    """Raise ProgramConfigError for the first rule `config` breaks."""
    for rule in RULES:
        if config.model.provider in rule.providers and rule.broken(config):
            raise ProgramConfigError(rule.message.format(p=config.parameters), path=path, key=rule.key)
