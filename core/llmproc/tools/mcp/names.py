"""Names the model sees for MCP tools: `server__tool`, sanitized for every provider.

MCP allows tool names of up to 128 characters with dots and slashes; the providers do not.
The strictest common rule (Anthropic, OpenAI and Gemini together) is: 1-64 characters from
`[A-Za-z0-9_-]`, starting with a letter or an underscore (Gemini). Other characters become `_`;
a name that is still too long, or that two tools would share after sanitizing, gets a short
hash of its original `server/tool` so that it stays unique and stable across restarts.

Mapping back needs no table: each MCP tool object keeps its server and its original name, and
the toolset finds the object by the name the model used.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

MAX_LENGTH = 64
SEPARATOR = "__"
_BAD = re.compile(r"[^A-Za-z0-9_-]")
_HASH_LENGTH = 8


def sanitize(name: str) -> str:
    """Make any string a valid tool name (not necessarily unique: see `assign_names`)."""
    clean = _BAD.sub("_", name) or "_"
    if not (clean[0].isascii() and (clean[0].isalpha() or clean[0] == "_")):
        clean = "_" + clean
    return clean if len(clean) <= MAX_LENGTH else _hashed(clean, name)


def _hashed(clean: str, original: str) -> str:
    digest = hashlib.sha256(original.encode()).hexdigest()[:_HASH_LENGTH]
    return f"{clean[: MAX_LENGTH - _HASH_LENGTH - 1]}_{digest}"


def tool_name(server: str, tool: str) -> str:
    """The name the model sees for `tool` of `server` (before collision handling)."""
    return sanitize(f"{server}{SEPARATOR}{tool}")


def assign_names(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Unique model-facing names for (server, tool) pairs.

    Pairs whose sanitized names clash all get a hash suffix (never just the second one), so a
    name does not depend on the order in which servers answered.
    """
    pairs = list(dict.fromkeys(pairs))
    first = {pair: tool_name(*pair) for pair in pairs}
    counts = Counter(first.values())
    names = {pair: name if counts[name] == 1 else _hashed(name, "/".join(pair))
             for pair, name in first.items()}
    if len(set(names.values())) != len(names):  # a hash collision of 32 bits: never in practice
        raise ValueError(f"cannot give unique names to the MCP tools {sorted(pairs)}")
    return names
