"""Real MCP hosts (Claude Code, Codex CLI, Gemini CLI) driving llmproc-mcp, offline: each host's
model is `llmproc.testing`'s fake provider server, played by `scenario.Scenario`."""
