"""Public offline test kit for llmproc and programs built on it.

- `FakeLLMServer`: a local HTTP server speaking the real provider wire formats (Anthropic,
  Vertex, OpenAI Chat Completions and Responses, Gemini), scripted with `Reply`/`HTTPError`;
  `RateLimits` makes it emulate an account's rate limits with the providers' headers and 429s.
- `ScriptedProvider`: an offline provider (no HTTP) for fast tests: `program.start(provider=...)`.
- `llmproc.testing.pytest_plugin`: the `fake_llm` fixture and a no-network guard.

Importing this package imports no provider SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmproc.testing.ratelimits import RateLimits
from llmproc.testing.script import HTTPError, Reply, ScriptItem, ToolUse

if TYPE_CHECKING:
    from llmproc.providers.scripted import ScriptedProvider
    from llmproc.testing.server import FakeLLMServer, RecordedRequest

__all__ = ["FakeLLMServer", "HTTPError", "RateLimits", "RecordedRequest", "Reply", "ScriptItem", "ScriptedProvider", "ToolUse"]


def __getattr__(name: str) -> Any:
    # The server pulls in http.server/socketserver; load it only when asked for.
    if name in ("FakeLLMServer", "RecordedRequest"):
        from llmproc.testing import server

        return getattr(server, name)
    if name == "ScriptedProvider":
        from llmproc.providers.scripted import ScriptedProvider

        return ScriptedProvider
    raise AttributeError(f"module 'llmproc.testing' has no attribute {name!r}")
