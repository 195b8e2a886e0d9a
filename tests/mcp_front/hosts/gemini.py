"""Gemini CLI (`@google/gemini-cli` from npm) as the host: `gemini -p` with llmproc-mcp registered
in `$HOME/.gemini/settings.json` (stdio `command`, or streamable HTTP `httpUrl`), its model at
`GOOGLE_GEMINI_BASE_URL`.

What it takes to run offline and deterministically:
- `GOOGLE_GEMINI_BASE_URL` + `GEMINI_API_KEY`, and the setting `security.auth.selectedType =
  "gemini-api-key"`: without it `-p` exits 41 ("Invalid auth method selected");
- `--skip-trust`: otherwise `-p` exits 55 in an untrusted folder;
- `"trust": true` on the server entry: without it `-p` silently drops every MCP tool (no
  confirmation prompt is possible in `-p` mode);
- `--model`: a pinned model skips the "auto" router, whose classifier asks a flash-lite model for
  JSON first and, given text, retries five times with backoff (about 95 s) before going on;
- `privacy.usageStatisticsEnabled = false`: otherwise it sends usage statistics out (through the
  proxy); `telemetry.enabled` and the auto update are off by settings too.
It names MCP tools `mcp_<server>_<tool>`, and forwards a result's text blocks joined by newlines,
wrapped in `<untrusted_context>`, as `functionResponse.response.output` (structuredContent is
dropped). Its MCP tool timeout is the server entry's `timeout`, 600 s by default, not reset by
progress notifications.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmproc.testing import FakeLLMServer, ToolUse

from .base import SERVER_NAME, HostRun, McpServer, missing_binary, offline_env, run_cli, which
from .scenario import offered_tools

PREFIX = f"mcp_{SERVER_NAME}_"
MODEL = "gemini-2.5-flash"


class Gemini:
    name = "gemini"
    transports = ("stdio", "http")
    endpoint = "gemini"

    def missing(self) -> str | None:
        return missing_binary("gemini", "@google/gemini-cli")

    def offers_llmproc(self, body: Any) -> bool:
        return any(name.startswith(PREFIX) for name in offered_tools(self.endpoint, body))

    def tool_use(self, tool: str, arguments: dict[str, Any]) -> ToolUse:
        return ToolUse(PREFIX + tool, arguments)

    def settings(self, server: McpServer) -> dict[str, Any]:
        if server.url:
            entry: dict[str, Any] = {"httpUrl": server.url}
        else:
            entry = {"command": server.command[0], "args": list(server.command[1:]), "env": server.env}
        entry["trust"] = True
        return {
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
            "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
            "mcpServers": {SERVER_NAME: entry},
        }

    def run(self, server: McpServer, fake: FakeLLMServer, workdir: Path, prompt: str,
            timeout_s: float) -> HostRun:
        home = workdir / "home"
        (home / ".gemini").mkdir(parents=True, exist_ok=True)
        (home / ".gemini" / "settings.json").write_text(json.dumps(self.settings(server), indent=2))
        env = offline_env(home, GOOGLE_GEMINI_BASE_URL=fake.gemini_base_url, GEMINI_API_KEY="test-key")
        gemini = which("gemini")
        assert gemini is not None
        args = [str(gemini), "-p", prompt, "--skip-trust", "--model", MODEL, "--output-format", "text"]
        return run_cli(args, env, workdir, timeout_s)


__all__ = ["Gemini"]
