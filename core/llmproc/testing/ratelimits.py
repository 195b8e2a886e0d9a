"""Rate limits for the fake server, announced in each provider's real headers.

    FakeLLMServer(rate_limits=RateLimits(requests_per_minute=50, input_tokens_per_minute=40_000,
                                         window_s=2.0))

The account's budget is counted in fixed windows of `window_s` seconds, the first one opened by
the first model request: tests compress a real minute to a few seconds. The header values still state per-minute limits (as the provider
would), while reset times are real times (the end of the current window). A model request
past a limit gets a 429 in the provider's error format with `retry-after` (fractional seconds
when windows are compressed) and, for OpenAI, `retry-after-ms`; Gemini announces no limits and
says the wait in the body only (a `google.rpc.RetryInfo` detail). It consumes no script item.
Input tokens are billed as the request body's bytes // 4, the usage the fake reports.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

__all__ = ["RateLimits"]


@dataclass(frozen=True, slots=True)
class RateLimits:
    requests_per_minute: int | None = None
    input_tokens_per_minute: int | None = None
    window_s: float = 60.0  # length of one budget window; smaller compresses time for tests


class Windows:
    """The running count of one fake account (thread-safe: handlers run one thread each)."""

    def __init__(self, limits: RateLimits, clock: object = time.time):
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._start: float | None = None  # the first request opens the first window
        self._index = -1
        self._requests = self._tokens = 0
        self.rejected = 0  # 429s sent

    def admit(self, tokens: int, endpoint: str) -> tuple[float | None, dict[str, str]]:
        """(None when allowed, else the seconds to wait; the headers to send) for a model request
        of `tokens` input tokens."""
        lim = self.limits
        with self._lock:
            now = self._clock()  # type: ignore[operator]
            if self._start is None:
                self._start = now
            index = math.floor((now - self._start) / lim.window_s)
            if index != self._index:
                self._index, self._requests, self._tokens = index, 0, 0
            reset_at = self._start + (index + 1) * lim.window_s
            over = ((lim.requests_per_minute is not None and self._requests + 1 > lim.requests_per_minute)
                    or (lim.input_tokens_per_minute is not None
                        and self._tokens + tokens > lim.input_tokens_per_minute))
            if over:
                self.rejected += 1
            else:
                self._requests += 1
                self._tokens += tokens
            requests, used = self._requests, self._tokens
        headers = _headers(endpoint, lim, requests, used, reset_at, now)
        if not over:
            return None, headers
        wait = max(0.001, reset_at - now)
        if endpoint != "gemini":  # Gemini: in the body (FakeLLMServer.dispatch)
            headers["retry-after"] = f"{wait:.3f}".rstrip("0").rstrip(".")
        if endpoint.startswith("openai"):
            headers["retry-after-ms"] = str(math.ceil(wait * 1000))
        return wait, headers


def _headers(endpoint: str, lim: RateLimits, requests: int, tokens: int, reset_at: float,
             now: float) -> dict[str, str]:
    budgets = []
    if lim.requests_per_minute is not None:
        budgets.append(("requests", lim.requests_per_minute, lim.requests_per_minute - requests))
    if lim.input_tokens_per_minute is not None:
        budgets.append(("tokens", lim.input_tokens_per_minute, lim.input_tokens_per_minute - tokens))
    out: dict[str, str] = {}
    if endpoint == "gemini":  # Gemini announces no limits: only its 429s are emulated
        return out
    if endpoint.startswith("openai"):
        reset = _duration(max(0.0, reset_at - now))
        for name, limit, left in budgets:
            out[f"x-ratelimit-limit-{name}"] = str(limit)
            out[f"x-ratelimit-remaining-{name}"] = str(max(0, left))
            out[f"x-ratelimit-reset-{name}"] = reset
        return out
    stamp = datetime.fromtimestamp(reset_at, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for name, limit, left in budgets:
        part = "input-tokens" if name == "tokens" else name
        out[f"anthropic-ratelimit-{part}-limit"] = str(limit)
        out[f"anthropic-ratelimit-{part}-remaining"] = str(max(0, left))
        out[f"anthropic-ratelimit-{part}-reset"] = stamp
    return out


def _duration(seconds: float) -> str:
    """OpenAI's style: "20ms", "1.5s", "6m0s"."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    rest_text = f"{rest:.3f}".rstrip("0").rstrip(".")
    return f"{int(minutes)}m{rest_text}s" if minutes else f"{rest_text}s"
