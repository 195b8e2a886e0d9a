"""Claude Code (`@anthropic-ai/claude-code` from npm) as the host: `claude -p` with llmproc-mcp
registered by `--mcp-config`, its model at `ANTHROPIC_BASE_URL`.

What it takes to run offline and deterministically:
- `MCP_CONNECTION_NONBLOCKING=0`: without it the first model request can leave before the MCP
  servers are connected (they connect in the background) and carry no llmproc tools;
- `ENABLE_TOOL_SEARCH=false`: otherwise MCP tools are deferred behind its ToolSearch tool and the
  model must search before it may call them;
- `--allowedTools mcp__llmproc`: no permission prompt in `-p` mode;
- `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC`, `DISABLE_TELEMETRY`, `DISABLE_AUTOUPDATER`,
  `DISABLE_ERROR_REPORTING`: no update checks, no telemetry.
It names MCP tools `mcp__<server>__<tool>`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmproc.testing import FakeLLMServer, ToolUse

from .base import SERVER_NAME, HostRun, McpServer, missing_binary, offline_env, run_cli, which

PREFIX = f"mcp__{SERVER_NAME}__"


class ClaudeCode:
    name = "claude-code"
    transports = ("stdio", "http")
    endpoint = "anthropic"

    def missing(self) -> str | None:
        return missing_binary("claude", "@anthropic-ai/claude-code")

    def offers_llmproc(self, body: Any) -> bool:
        tools = body.get("tools") if isinstance(body, dict) else None
        return any(isinstance(t, dict) and str(t.get("name", "")).startswith(PREFIX) for t in tools or [])

    def tool_use(self, tool: str, arguments: dict[str, Any]) -> ToolUse:
        return ToolUse(PREFIX + tool, arguments)

    def config(self, server: McpServer) -> dict[str, Any]:
        if server.url:
            entry: dict[str, Any] = {"type": "http", "url": server.url}
        else:
            entry = {"type": "stdio", "command": server.command[0], "args": list(server.command[1:]),
                     "env": server.env}
        return {"mcpServers": {SERVER_NAME: entry}}

    def run(self, server: McpServer, fake: FakeLLMServer, workdir: Path, prompt: str,
            timeout_s: float) -> HostRun:
        config = workdir / "claude-mcp.json"
        config.write_text(json.dumps(self.config(server)))
        env = offline_env(workdir / "home", ANTHROPIC_BASE_URL=fake.anthropic_base_url,
                          ANTHROPIC_API_KEY="test-key", MCP_CONNECTION_NONBLOCKING="0",
                          ENABLE_TOOL_SEARCH="false", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
                          DISABLE_TELEMETRY="1", DISABLE_AUTOUPDATER="1", DISABLE_ERROR_REPORTING="1")
        claude = which("claude")
        assert claude is not None
        args = [str(claude), "-p", prompt, "--mcp-config", str(config), "--strict-mcp-config",
                "--output-format", "stream-json", "--verbose", "--allowedTools", f"mcp__{SERVER_NAME}"]
        return run_cli(args, env, workdir, timeout_s)


__all__ = ["ClaudeCode"]
