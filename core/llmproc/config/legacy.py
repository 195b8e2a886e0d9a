"""Program files written for the original LLMProc: its spellings upgraded, or refused in one line.

The original project (github.com/cccntu/llmproc) spelled some keys differently. A key that means
the same thing here is rewritten to our spelling before validation, and logged once, as a
warning on the `llmproc.config` logger that names the key to write instead (logged once the
program loaded: a program that fails anyway prints its one error line alone): the file loads.
A key whose meaning changed, or that could land in two places, fails with one
`ProgramConfigError` saying where it moved. docs/migrating.md has the table, and
tests/core/config/test_legacy_spellings.py checks every row of it.

Only keys our schema does not have are touched, so a program written for this project never
changes meaning here. `upgrade` also says where each rewritten key came from (new dotted key
-> old one), so an error found later in a rewritten value names the key as the file has it.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmproc.errors import ProgramConfigError

log = logging.getLogger("llmproc.config")

CLAUDE = frozenset({"anthropic", "anthropic_vertex"})
GEMINI = frozenset({"gemini", "gemini_vertex"})
APIS = CLAUDE | GEMINI | {"openai", "openai_chat"}  # scripted (offline) and unknown names: the schema's to judge
# Sampling keys the original passed straight to the API. Here they belong in [parameters.extra],
# which is passed to the SDK call as is; each maps to the providers whose API takes it. The
# Responses API (provider "openai") takes none of them, so there they cannot keep their meaning.
PASSTHROUGH: dict[str, frozenset[str]] = {
    "top_k": CLAUDE | GEMINI,
    "stop_sequences": CLAUDE | GEMINI,
    "frequency_penalty": frozenset({"openai_chat"}) | GEMINI,
    "presence_penalty": frozenset({"openai_chat"}) | GEMINI,
    "stop": frozenset({"openai_chat"}),
}
ENV_INFO_KEYS = ("variables", "env_vars")


@dataclass(frozen=True)
class Upgraded:
    data: dict[str, Any]  # the program with our spellings (a copy where changed)
    written_as: dict[str, str]  # new dotted key -> the old one the file has
    warnings: tuple[str, ...]  # one per old key; logged by `log_warnings` once the program loaded

    def log_warnings(self) -> None:
        # Logged only when the program loads: a program that fails prints its one error line alone.
        for warning in self.warnings:
            log.warning("%s", warning)


def upgrade(data: dict[str, Any], path: str | Path | None) -> Upgraded:
    if not isinstance(data, dict):
        return Upgraded(data, {}, ())
    up = _Upgrade(data, path)
    for step in (up.plugins, up.model, up.parameters, up.mcp_tools, up.tools, up.env_info):
        step()
    return Upgraded(up.data, up.written_as, tuple(up.warnings))


class _Upgrade:
    def __init__(self, data: dict[str, Any], path: str | Path | None):
        self.data = dict(data)  # tables are copied as they are changed: the caller's dict stays as is
        self.path = path
        self.written_as: dict[str, str] = {}
        self.warnings: list[str] = []

    # -- helpers ---------------------------------------------------------------------------------
    def get(self, *keys: str) -> Any:
        value: Any = self.data
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def table(self, *keys: str) -> dict[str, Any]:
        """The table at `keys`, copied (created if absent) so it can be changed."""
        parent = self.data
        for key in keys:
            child = parent.get(key)
            parent[key] = dict(child) if isinstance(child, dict) else {}
            parent = parent[key]
        return parent

    def warn(self, old: str, new: str) -> None:
        where = self.path or "<program>"
        self.warnings.append(f"{where}: {old}: the original LLMProc's spelling, still read: write {new} instead")

    def fail(self, key: str, message: str) -> None:
        raise ProgramConfigError(message, path=self.path, key=key)

    def move(self, old: tuple[str, ...], new: tuple[str, ...], spelled: str) -> None:
        """Move the value at `old` to `new`; an equal value already there is fine, another is not."""
        value = self.table(*old[:-1]).pop(old[-1])
        target = self.table(*new[:-1])
        if new[-1] in target and target[new[-1]] != value:
            self.fail(".".join(old), f"moved to {spelled}, which this program also sets: keep that one")
        target[new[-1]] = value
        self.written_as[".".join(new)] = ".".join(old)
        self.warn(".".join(old), spelled)

    def provider(self) -> str | None:
        provider = self.get("model", "provider")
        return provider if isinstance(provider, str) else None

    # -- sections --------------------------------------------------------------------------------
    def plugins(self) -> None:
        if "plugins" in self.data:
            self.fail("plugins", "the original's [plugins] tables are sections here: env_info -> [env_info], "
                                 "preload_files -> [preload], spawn -> [linked_programs] (docs/migrating.md)")

    def model(self) -> None:
        model = self.get("model")
        if not isinstance(model, dict):
            return
        if model.get("provider") == "vertex":  # the original's first name for Claude on Vertex
            self.table("model")["provider"] = "anthropic_vertex"
            self.warn("model.provider", 'provider = "anthropic_vertex"')
        if "disable_automatic_caching" in model:
            self.move(("model", "disable_automatic_caching"), ("parameters", "disable_automatic_caching"),
                      "[parameters] disable_automatic_caching")
        if "max_iterations" in model:  # model calls per run, as our max_turns
            self.move(("model", "max_iterations"), ("limits", "max_turns"), "[limits] max_turns")

    def parameters(self) -> None:
        if not isinstance(self.get("parameters"), dict):
            return
        if "thinking" in self.get("parameters"):
            self.thinking()
        budget = self.get("parameters", "thinking_budget")
        if type(budget) is int and budget == 0:  # the original's "off" (not `false`, which is the schema's to refuse)
            del self.table("parameters")["thinking_budget"]
            self.warn("parameters.thinking_budget", "no thinking_budget (0 meant off; leave the key out)")
        if "max_completion_tokens" in self.get("parameters"):
            self.max_completion_tokens()
        if "max_tokens_to_sample" in self.get("parameters"):
            self.fail("parameters.max_tokens_to_sample", "the old Text Completions name: write max_tokens")
        provider = self.provider()
        for key, takers in PASSTHROUGH.items():
            if key not in self.get("parameters") or provider is None:
                continue
            if provider in takers:
                self.move(("parameters", key), ("parameters", "extra", key), f"[parameters.extra] {key}")
            elif provider in APIS:
                hint = f'remove it, or use provider = "openai_chat" and [parameters.extra] {key}' \
                    if provider == "openai" and "openai_chat" in takers else "remove it"
                self.fail(f"parameters.{key}", f"the {provider} API does not take {key}: {hint}")

    def thinking(self) -> None:
        params = self.get("parameters")
        value = params["thinking"]
        kind = value.get("type") if isinstance(value, dict) else None
        rest = set(value) - {"type", "budget_tokens"} if isinstance(value, dict) else set()
        if kind == "enabled" and "budget_tokens" in value and not rest:
            if "thinking_budget" in params:
                self.fail("parameters.thinking", "this program also has thinking_budget, the key thinking "
                                                 "moved to: keep thinking_budget only")
            budget = value["budget_tokens"]
            own = self.table("parameters")
            del own["thinking"]
            own["thinking_budget"] = budget
            self.written_as["parameters.thinking_budget"] = "parameters.thinking.budget_tokens"
            self.warn("parameters.thinking", f"thinking_budget = {budget!r}")
        elif kind == "disabled" and set(value) == {"type"}:
            if "thinking_budget" in params:
                self.fail("parameters.thinking", "thinking is disabled but thinking_budget is set: keep one")
            del self.table("parameters")["thinking"]
            self.warn("parameters.thinking", "no thinking_budget (thinking is off without one)")
        elif kind == "enabled" and "budget_tokens" not in value:
            self.fail("parameters.thinking", "thinking needs a budget: write thinking_budget = N (>= 1024)")
        else:
            self.fail("parameters.thinking", 'only { type = "enabled", budget_tokens = N } (now thinking_budget = N) '
                                             'and { type = "disabled" } have a key here; pass other thinking '
                                             "settings to the API as is with [parameters.extra] thinking")

    def max_completion_tokens(self) -> None:
        params, provider = self.get("parameters"), self.provider()
        old = ("parameters", "max_completion_tokens")
        if "max_tokens" in params:
            self.fail("parameters.max_completion_tokens",
                      "this program also has max_tokens, the key it moved to: keep max_tokens only")
        if provider == "openai" or (provider == "openai_chat" and params.get("reasoning_effort")):
            self.move(old, ("parameters", "max_tokens"), "max_tokens")
        elif provider == "openai_chat":
            # Chat Completions gets our max_tokens as max_completion_tokens only with reasoning_effort;
            # without it, passing the key as is keeps what the file said.
            self.move(old, ("parameters", "extra", "max_completion_tokens"),
                      "[parameters.extra] max_completion_tokens (or max_tokens with reasoning_effort)")
        elif provider is not None:
            self.fail("parameters.max_completion_tokens", "OpenAI's name for it: write max_tokens")

    def mcp_tools(self) -> None:
        if not isinstance(self.get("mcp"), dict) or "tools" not in self.get("mcp"):
            return
        if isinstance(self.get("tools"), dict) and "mcp" in self.get("tools"):
            self.fail("mcp.tools", "moved to [tools.mcp], which this program also has: merge the two there")
        self.move(("mcp", "tools"), ("tools", "mcp"), "[tools.mcp]")
        if not self.data["mcp"]:  # [mcp] held only the tool selection
            del self.data["mcp"]

    def tools(self) -> None:
        tools = self.get("tools")
        if not isinstance(tools, dict):
            return
        if "builtin" in tools:
            if "enabled" in tools:
                self.fail("tools.builtin", "this program also has [tools] enabled, the key builtin moved "
                                           "to: merge the two there")
            self.move(("tools", "builtin"), ("tools", "enabled"), "[tools] enabled")
        if "aliases" in tools:
            self.aliases()
        # Not upgraded: the original turned file descriptors on when read_fd was listed; here
        # [file_descriptor] enabled = true is required, and starting without it is an error saying so.

    def aliases(self) -> None:
        tools = self.table("tools")
        aliases = tools.pop("aliases")
        if not isinstance(aliases, dict):
            self.fail("tools.aliases", 'expected a table of alias = "tool name"')
        enabled = list(tools.get("enabled") or [])
        mcp = dict(tools.get("mcp") or {})
        for alias, target in aliases.items():
            key = f"tools.aliases.{alias}"
            if not isinstance(target, str):
                self.fail(key, "expected the name of an enabled tool")
            if target in enabled:
                enabled[enabled.index(target)] = {"name": target, "alias": alias}
                continue
            server, sep, tool = target.partition("__")
            listed = mcp.get(server) if sep else None
            if isinstance(listed, list) and tool in listed:
                listed = list(listed)
                listed[listed.index(tool)] = {"name": tool, "alias": alias}
                mcp[server] = listed
            elif listed == "all":
                self.fail(key, f'an alias is set where its tool is listed: [tools.mcp] {server} = '
                               f'[{{ name = "{tool}", alias = "{alias}" }}, ...] instead of "all"')
            else:
                self.fail(key, f"{target!r} is not enabled: an alias is set where its tool is enabled, "
                               f'as {{ name = "{target}", alias = "{alias}" }} in [tools] enabled')
        tools["enabled"] = enabled
        if mcp:
            tools["mcp"] = mcp
        self.warn("tools.aliases", "{ name, alias } entries in [tools] enabled (and [tools.mcp])")

    def env_info(self) -> None:
        env = self.get("env_info")
        if not isinstance(env, dict):
            return
        for key in env:
            if key in ENV_INFO_KEYS or difflib.get_close_matches(key, ENV_INFO_KEYS, n=1, cutoff=0.6):
                continue  # ours, or a typo of ours: the schema says "did you mean"
            self.fail(f"env_info.{key}", "custom [env_info] values are not read any more: name an environment "
                                         f'variable in [env_info] env_vars ({key} = "VAR_NAME"), or put the '
                                         "text in the system prompt")
