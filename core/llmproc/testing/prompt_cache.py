"""Anthropic's prompt-cache rules, applied offline to recorded request bodies.

    cache = PromptCacheModel()
    for request in fake.requests:
        usage = cache.feed(request.body)   # what the API would bill: fresh, written, read tokens

The fake server does not cache; this model says what the real API would do with the same
requests, so tests and benchmarks can check a caching strategy without a network:

- the prompt is a list of blocks in the order tools, system, messages;
- a block carrying `cache_control` is a breakpoint; more than 4 in a request is an API error;
- a request reads the longest prefix written by an earlier request that ends at one of its
  breakpoints, found by looking back from each breakpoint over at most `lookback` (20) blocks;
- each breakpoint then writes its prefix, if it reaches the minimum cacheable length;
- caches are per model; tokens are estimated from characters (4 a token); entries never expire
  (a replay is far shorter than the 5-minute lifetime).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CacheUsage", "PromptCacheModel", "MAX_BREAKPOINTS"]

MAX_BREAKPOINTS = 4


@dataclass(frozen=True, slots=True)
class CacheUsage:
    input_tokens: int  # billed at the normal rate
    cache_write_tokens: int
    cache_read_tokens: int
    breakpoints: int

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens


@dataclass
class PromptCacheModel:
    lookback: int = 20
    min_tokens: int = 1024  # Sonnet/Opus minimum; shorter prefixes are not cached
    chars_per_token: int = 4
    written: set[str] = field(default_factory=set)

    def feed(self, body: dict[str, Any]) -> CacheUsage:
        """Account one request body (as sent on the wire) and remember what it wrote."""
        blocks = prompt_blocks(body)
        marks = [i for i, (_, marked) in enumerate(blocks) if marked]
        if len(marks) > MAX_BREAKPOINTS:
            raise ValueError(f"{len(marks)} cache breakpoints: the API accepts at most {MAX_BREAKPOINTS}")
        keys, ends = self._prefixes(str(body.get("model")), [text for text, _ in blocks])
        read_end = -1
        for mark in marks:
            window = range(mark, max(mark - self.lookback, 0) - 1, -1)  # the mark, then 20 back
            hit = next((j for j in window if keys[j] in self.written), -1)
            read_end = max(read_end, hit)
        read = ends[read_end] if read_end >= 0 else 0
        last = marks[-1] if marks else -1
        write = ends[last] - read if last > read_end and ends[last] >= self.min_tokens else 0
        self.written.update(keys[m] for m in marks if ends[m] >= self.min_tokens)
        total = ends[-1] if ends else 0
        return CacheUsage(total - read - write, write, read, len(marks))

    def _prefixes(self, model: str, texts: list[str]) -> tuple[list[str], list[int]]:
        """A key naming each prefix (model + every block up to it) and its size in tokens."""
        digest = hashlib.sha256(model.encode())
        keys: list[str] = []
        ends: list[int] = []
        size = 0
        for text in texts:
            digest.update(text.encode())
            keys.append(digest.copy().hexdigest())
            size += max(1, len(text) // self.chars_per_token)
            ends.append(size)
        return keys, ends


def prompt_blocks(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """(canonical text, has a breakpoint) for every block of a Messages request, in cache order.
    The text keeps the block's place (section, role, start of a message) but not its marker."""
    out: list[tuple[str, bool]] = []

    def add(where: str, block: Any) -> None:
        plain = {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block
        out.append((where + json.dumps(plain, sort_keys=True, ensure_ascii=False),
                    isinstance(block, dict) and "cache_control" in block))

    for tool in body.get("tools") or []:
        add("tool:", tool)
    system = body.get("system") or []
    for block in [{"type": "text", "text": system}] if isinstance(system, str) else system:
        add("system:", block)
    for message in body.get("messages") or []:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for j, block in enumerate(blocks):
            add(f"{message['role']}{'>' if j == 0 else '+'}:", block)
    return out
