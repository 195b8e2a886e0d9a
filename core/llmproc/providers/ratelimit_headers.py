"""What a response's headers say about the account's rate limits, per provider.

Anthropic: `anthropic-ratelimit-{requests,input-tokens,output-tokens,tokens}-{limit,remaining,reset}`
with reset an RFC 3339 time. OpenAI: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` with
reset a duration ("1s", "6m0s", "20ms"). Both send `retry-after` (seconds, or an HTTP date) on a
429; OpenAI also `retry-after-ms`. Gemini sends no limits, and on a 429 says how long to wait in
its body: a `google.rpc.RetryInfo` detail, `"retryDelay": "13s"` (`retry_info_delay`).
Everything is turned into absolute wall-clock times so that responses read at different moments
compare.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = ["Budget", "Snapshot", "parse", "parse_duration", "retry_after", "retry_info_delay"]

# budget name -> (limit, remaining, reset) header names
_ANTHROPIC = {name: tuple(f"anthropic-ratelimit-{part}-{what}" for what in ("limit", "remaining", "reset"))
              for name, part in (("requests", "requests"), ("input_tokens", "input-tokens"),
                                 ("output_tokens", "output-tokens"), ("tokens", "tokens"))}
_OPENAI = {name: tuple(f"x-ratelimit-{what}-{name}" for what in ("limit", "remaining", "reset"))
           for name in ("requests", "tokens")}

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


@dataclass(frozen=True, slots=True)
class Budget:
    limit: int | None
    remaining: int
    reset_at: float | None  # wall-clock seconds (time.time()) when the budget is full again


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The budgets one response reported: "requests", "input_tokens", "output_tokens", "tokens"."""

    budgets: Mapping[str, Budget]


def parse_duration(text: str) -> float | None:
    """OpenAI's reset durations: "20ms", "1s", "6m0s", "1h2m3.5s"."""
    text = text.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        try:
            return float(text)
        except ValueError:
            return None
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def _reset_time(value: str | None, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if "T" in value or value.count("-") >= 2:  # RFC 3339
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    seconds = parse_duration(value)
    return None if seconds is None else now + seconds


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def parse(headers: Mapping[str, str], now: float) -> Snapshot | None:
    """The budgets in `headers` (lower-case names, or a case-insensitive mapping), None when the
    response carries no rate-limit headers at all (local servers)."""
    budgets: dict[str, Budget] = {}
    for table in (_ANTHROPIC, _OPENAI):
        for name, (limit_h, remaining_h, reset_h) in table.items():
            remaining = _int(headers.get(remaining_h))
            if remaining is None:
                continue
            budgets[name] = Budget(_int(headers.get(limit_h)), max(0, remaining),
                                   _reset_time(headers.get(reset_h), now))
    return Snapshot(budgets) if budgets else None


def retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date); None
    when absent or unreadable."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - (time.time() if now is None else now))
    except (TypeError, ValueError, IndexError):
        return None


_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_PROTO_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


def retry_info_delay(body: Any) -> float | None:
    """Seconds to wait from a Google error body's RetryInfo detail (`{"error": {"details":
    [{"@type": ".../google.rpc.RetryInfo", "retryDelay": "13s"}]}}`; a list of such bodies too,
    as a stream sends them); None when it has none."""
    if isinstance(body, list):
        body = body[0] if body else None
    error = body.get("error") if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, Mapping) and detail.get("@type") == _RETRY_INFO:
            found = _PROTO_DURATION.match(str(detail.get("retryDelay", "")).strip())
            if found:
                return float(found.group(1))
    return None
