"""What a scripted fake model answers: the items of a `FakeLLMServer` script.

They are defined in `llmproc.providers.scripted`, next to the offline provider that also plays
them, because the engine must not import this test kit; this module keeps the public names.
"""

from __future__ import annotations

from llmproc.providers.scripted import HTTPError, Reply, ScriptItem, ToolUse

__all__ = ["HTTPError", "Reply", "ScriptItem", "ToolUse"]
