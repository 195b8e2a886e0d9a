"""MCP server front end: exposes LLMProc processes as tools to MCP hosts (issue: llmproc-mcp)."""
