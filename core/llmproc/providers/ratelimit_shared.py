"""An account's budget shared with other event loops, processes or machines (a hook).

`AccountLimiter` (ratelimit.py) counts only the requests of its own event loop, so two servers on
one account each spend the whole budget. A front end that has a store several servers share
installs a `SharedBudget` on its loop (`ratelimit.set_shared`); the engine knows only this
Protocol, not the store. Once the limiter has let a request go locally, it asks the hook to take
the request (and its estimated tokens) from the account's current window across every server:

- a window is named by its start, the end of the window before it, as the provider's headers
  gave it (the same on every server, since they read the same account); the first window a
  limiter sees, by its end. Static limits use fixed minutes of the clock;
- the hook numbers the window's requests (or tokens) across servers; a number above the limit
  means the window is spent on some server: the request waits for the window's end. A counter
  starts at the count the headers reported used, so requests of other clients of the account
  still count; but the first window a server sees, where the headers count every server's
  probe, each server counts its own probe instead;
- a 429's retry-after is published, and every take returns the pause another server published;
  so is each window's end, for a server whose requests the window refused and that has none in
  flight to learn it from.
Without a hook (the CLI, library use) the limiter is the loop's own, as before.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Claim", "SharedBudget", "Verdict", "account_id", "claims"]

AFTER_POLL_S = 0.25  # a spent window whose end nobody knows yet: look again this soon


@dataclass(frozen=True, slots=True)
class Claim:
    """Take `need` units of `counter` (a name the store accepts), allowed while the last unit
    taken is <= `limit`; the counter starts at `at_least`; refused: wait until `retry_at`."""

    counter: str
    need: int
    limit: int
    at_least: int
    retry_at: float
    budget: str = ""  # the header budget ("requests", "input_tokens", ...); "" for static limits
    start: float | None = None  # the window's start, when its end is not known here (retry_at polls)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_at: float = 0.0  # when refused: when to try again
    paused_until: float = 0.0  # the account's pause another server published (a 429)
    budget: str = ""  # refused: the claim's budget, and its window's end if another server knows it
    window_end: float | None = None


class SharedBudget(Protocol):
    async def take(self, account: str, claims: Sequence[Claim], now: float) -> Verdict:
        """Take every claim (one store round trip); never raises: a store away lets requests go."""
        ...

    def publish_pause(self, account: str, until: float) -> None:
        """A 429 paused `account` until `until` (wall clock): tell the others (in the background)."""
        ...

    def publish_window(self, account: str, budget: str, start: float, end: float) -> None:
        """The window of `budget` that began at `start` ends at `end` (from headers): a server
        whose requests that window refused, with none in flight, learns its end only so."""
        ...


def account_id(account: str) -> str:
    """A short name for counters: the account key has slashes (its origin) that names refuse."""
    return hashlib.sha256(account.encode()).hexdigest()[:16]


class BudgetView(Protocol):  # what claims() reads of ratelimit._Budget
    limit: int | None
    remaining: int
    reset_at: float | None
    after: float | None


def claims(account: str, budgets: Iterable[tuple[str, BudgetView]], tokens: int, now: float,
           rpm: int | None, tpm: int | None, period_s: float, unclaimed: int = 0) -> list[Claim]:
    """What one request of about `tokens` input tokens takes from the shared windows; plus
    `unclaimed` requests that went before the limits were known (the probe: else each server's
    probe is one request too many in the first window)."""
    acct = account_id(account)
    found: list[Claim] = []
    for name, budget in budgets:
        if budget.limit is None or name == "output_tokens":  # output is known only afterwards
            continue
        need = 1 if name == "requests" else tokens
        if need <= 0:
            continue
        if budget.after is not None:  # named by its start: the same whichever way a server learned it
            window = f"a{round(budget.after * 10)}"
        elif budget.reset_at is not None:
            window = f"e{round(budget.reset_at * 10)}"
        else:
            continue
        at_least = budget.limit - budget.remaining + 1
        if name == "requests" and unclaimed and budget.after is None:  # the probe's window: each
            need, at_least = need + unclaimed, 1  # server counts its own (the headers have all)
        retry_at = budget.reset_at if budget.reset_at is not None else now + AFTER_POLL_S
        found.append(Claim(f"rl:{acct}:{name}:{window}", need, budget.limit, max(1, at_least), retry_at, name,
                           budget.after if budget.reset_at is None else None))
    minute = math.floor(now / period_s)
    for name, limit, need in (("rpm", rpm, 1), ("tpm", tpm, tokens)):
        if limit and need > 0:
            found.append(Claim(f"rl:{acct}:{name}:s{minute}", need, limit, 1, (minute + 1) * period_s))
    return found
