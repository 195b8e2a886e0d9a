"""Codex CLI (`@openai/codex` from npm) as the host: `codex exec` with llmproc-mcp registered in
`$CODEX_HOME/config.toml` (stdio command or streamable HTTP `url`), its model a custom
`model_provider` whose `base_url` is the fake server's OpenAI Responses endpoint.

What it takes to run offline and deterministically:
- a fresh `CODEX_HOME` holding the whole configuration (no user config, auth or history is read);
- `[model_providers.fake]` with `wire_api = "responses"` (it refuses "chat") and `env_key` naming
  an environment variable that holds a key; a custom provider has `supports_websockets = false`,
  so every turn is one `POST /v1/responses` streamed as SSE, and nothing else is requested from
  it (no /models: an unknown model gets fallback metadata, with a warning);
- `[mcp_servers.llmproc]` with `required = true`: `codex exec` then waits for the server before
  the first model request (an optional server gets only `mcp_optional_startup_grace_ms`, 1 s);
  `default_tools_approval_mode = "approve"`, since with `approval_policy = "never"` alone it
  refuses the calls of tools not marked read-only ("MCP tool call requires approval, but approval
  policy is never"); `tool_timeout_sec` raised from its 60 s default to the run's timeout;
- `[features] plugins = false`, `[analytics] enabled = false`, `check_for_update_on_startup =
  false` (the OpenTelemetry exporter is off by default): no plugin sync, analytics or update
  check; `mcp_oauth_credentials_store` / `cli_auth_credentials_store = "file"`: no keyring (D-Bus);
- `--skip-git-repo-check` (the work directory is no git repository), `--ephemeral` (no session
  files), `--json` (the tool calls and results in the output).
It offers each MCP server's tools as one Responses `namespace` tool (`mcp__<server>`, holding the
plain tool names) and accepts a call only as a `function_call` carrying that `namespace`. A result
reaches the model after two lines of its own ("Wall time: ... seconds", "Output:"): the
structuredContent as JSON when the result has one (its content blocks are then dropped),
otherwise the content blocks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmproc.testing import FakeLLMServer, ToolUse

from .base import SERVER_NAME, HostRun, McpServer, missing_binary, offline_env, run_cli, which

NAMESPACE = f"mcp__{SERVER_NAME}"
KEY_VAR = "FAKE_OPENAI_API_KEY"


def _toml(value: Any) -> str:
    """A TOML value: strings, lists and tables of strings (JSON strings are valid TOML strings)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))


class Codex:
    name = "codex"
    transports = ("stdio", "http")
    endpoint = "openai_responses"

    def missing(self) -> str | None:
        return missing_binary("codex", "@openai/codex")

    def offers_llmproc(self, body: Any) -> bool:
        tools = body.get("tools") if isinstance(body, dict) else None
        return any(isinstance(t, dict) and t.get("type") == "namespace" and t.get("name") == NAMESPACE
                   for t in tools or [])

    def tool_use(self, tool: str, arguments: dict[str, Any]) -> ToolUse:
        return ToolUse(tool, arguments, namespace=NAMESPACE)

    def config(self, server: McpServer, fake: FakeLLMServer, timeout_s: float) -> str:
        mcp: dict[str, Any] = {"url": server.url} if server.url else {
            "command": server.command[0], "args": list(server.command[1:]), "env": server.env}
        mcp.update(required=True, startup_timeout_sec=30, tool_timeout_sec=int(timeout_s),
                   default_tools_approval_mode="approve")
        provider = {"name": "fake", "base_url": fake.openai_base_url, "env_key": KEY_VAR,
                    "wire_api": "responses", "request_max_retries": 0, "stream_max_retries": 0}
        sections: dict[str, dict[str, Any]] = {
            "": {"model": "fake-model", "model_provider": "fake", "approval_policy": "never",
                 "check_for_update_on_startup": False, "mcp_oauth_credentials_store": "file",
                 "cli_auth_credentials_store": "file"},
            "model_providers.fake": provider,
            f"mcp_servers.{SERVER_NAME}": mcp,
            "features": {"plugins": False},
            "analytics": {"enabled": False},
        }
        lines = []
        for section, values in sections.items():
            if section:
                lines.append(f"\n[{section}]")
            lines.extend(f"{key} = {_toml(value)}" for key, value in values.items())
        return "\n".join(lines) + "\n"

    def run(self, server: McpServer, fake: FakeLLMServer, workdir: Path, prompt: str,
            timeout_s: float) -> HostRun:
        codex_home = workdir / "codex-home"
        codex_home.mkdir(exist_ok=True)
        (codex_home / "config.toml").write_text(self.config(server, fake, timeout_s))
        env = offline_env(workdir / "home", CODEX_HOME=str(codex_home), **{KEY_VAR: "test-key"})
        codex = which("codex")
        assert codex is not None
        args = [str(codex), "exec", "--skip-git-repo-check", "--ephemeral", "--json", prompt]
        return run_cli(args, env, workdir, timeout_s)


__all__ = ["Codex"]
