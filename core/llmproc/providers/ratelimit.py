"""One rate limiter per provider account, shared by every process of an event loop.

Without it, a 100-way fork against a 50 requests/min account sends 100 requests at once, gets
50 429s, and each process backs off on its own. Providers say in every response how much of
the account's budget is left (ratelimit_headers.py), so the SDK clients are built with an HTTP
client (ratelimit_http.py) whose `send` first waits for the account's `AccountLimiter` and
then feeds it the response's headers. This works for every wire without touching the adapters, and
the wait happens inside the model call: it counts toward `timeout_s`, not toward retries.

The limiter:
- lets ONE request through until a response has told it the limits (else a burst storms);
- holds a request while the remaining requests or tokens, minus what is in flight (responses
  arrive out of order, so in-flight requests count as spent), would not cover it, and wakes it
  at the budget's reset time; waiters go in arrival order;
- on a 429 pauses the whole account until retry-after, so the processes back off as one;
- applies static limits (`[limits] requests_per_minute`, `input_tokens_per_minute`, and a
  ceiling the MCP server sets for its loop) over a sliding minute, for servers that send no
  headers;
- with a `SharedBudget` hook on the loop (`set_shared`; ratelimit_shared.py), takes each request
  from the account's window across every server of a shared store, and publishes its pauses.
An account is the request's origin and a hash of its credentials header: the key itself is
never kept or logged. `LLMPROC_RATE_LIMITER=off` builds plain clients (a debugging aid).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from llmproc.providers import ratelimit_headers, ratelimit_shared
from llmproc.providers.base import ProviderSettings

__all__ = ["AccountLimiter", "RateLimitNotice", "StaticLimits", "limiter_for",
           "current_shared", "reporting_rate_limits", "set_loop_ceiling", "set_shared",
           "static_limits"]

log = logging.getLogger("llmproc.providers.ratelimit")

SWITCH = "LLMPROC_RATE_LIMITER"
STATIC_PERIOD_S = 60.0
# The first request of an account holds the others until its headers arrive, but no longer than
# this: a call that is not streamed gets its headers only with the whole answer.
PROBE_MAX_S = 5.0
_PROBE = "the first response, which tells the limits"
_SAME_WINDOW_S = 0.1  # resets closer than this are the same window (OpenAI's are relative durations)
_SHARED = "the account's budget, spent by other servers"


@dataclass(frozen=True, slots=True)
class StaticLimits:
    requests_per_minute: int | None = None
    input_tokens_per_minute: int | None = None

    def tightest(self, other: StaticLimits | None) -> StaticLimits:
        if other is None:
            return self

        def low(a: int | None, b: int | None) -> int | None:
            return b if a is None else a if b is None else min(a, b)

        return StaticLimits(low(self.requests_per_minute, other.requests_per_minute),
                            low(self.input_tokens_per_minute, other.input_tokens_per_minute))


@dataclass(frozen=True, slots=True)
class RateLimitNotice:
    """A model call waits about `wait_s` for the account's rate limit, because of `reason`."""

    wait_s: float
    reason: str


_listener: ContextVar[Callable[[RateLimitNotice], None] | None] = ContextVar("llmproc_ratelimit_listener",
                                                                             default=None)


@contextmanager
def reporting_rate_limits(listener: Callable[[RateLimitNotice], None]) -> Iterator[None]:
    """Call `listener` when a model call made inside the block waits for the rate limit."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


class _Budget:
    __slots__ = ("after", "limit", "remaining", "reset_at")

    def __init__(self, limit: int | None, remaining: int, reset_at: float | None, after: float | None = None):
        self.limit, self.remaining, self.reset_at = limit, remaining, reset_at
        self.after = after  # when the window began (the previous one's end), if seen: names it across servers


@dataclass(slots=True)
class Ticket:
    tokens: int
    done: bool = False
    logged: tuple[float, int] | None = None  # its entry in the static limits' log


class AccountLimiter:
    def __init__(self, static: StaticLimits | None = None, *, clock: Callable[[], float] = time.time,
                 static_period_s: float = STATIC_PERIOD_S):
        self.static = static or StaticLimits()
        self._clock = clock
        self._period = static_period_s
        self._budgets: dict[str, _Budget] = {}
        self._learned = False  # a response carried rate-limit headers
        self._headerless = False  # a response carried none: only static limits apply
        self._pending = 0
        self._probe_at: float | None = None  # when the probe went, until headers arrive
        self._pending_tokens = 0
        self._paused_until = 0.0
        self._queue: deque[object] = deque()
        self._changed = asyncio.Event()
        self._log: deque[tuple[float, int]] = deque()  # (admitted at, tokens) for static limits
        self.admitted = self.waited = self.rejected = 0  # for benchmarks and tests
        self.shared: ratelimit_shared.SharedBudget | None = None  # set_shared()
        self.account = ""
        self._held_until = 0.0  # the shared window is spent: until its end
        self._unclaimed = 0  # requests that went before any limit was known
        # The take that numbers those (ratelimit_shared.claims) while it is on its way: this
        # server's other takes wait for it, since a probe numbered after them would leave their
        # numbers below the limit although the provider counted the probe first.
        self._probe_claim: asyncio.Event | None = None

    def tighten(self, static: StaticLimits | None) -> None:
        merged = self.static.tightest(static)
        if merged != self.static:
            self.static = merged
            self._signal()

    @property
    def paused_until(self) -> float:
        return self._paused_until

    async def acquire(self, tokens: int) -> Ticket:
        """Wait until a request of about `tokens` input tokens may go; in arrival order. With a
        shared budget, then take it from the account's window across servers (one store round
        trip, concurrent with the other requests'); refused, it waits for the window's end."""
        while True:
            ticket = await self._admit(tokens)
            if self.shared is None:
                return ticket
            probe_claim = None
            try:
                while self._probe_claim is not None:  # the probe is numbered before our others
                    await self._probe_claim.wait()
                now = self._clock()
                wanted = ratelimit_shared.claims(self.account, self._budgets.items(), tokens, now,
                                                 self.static.requests_per_minute,
                                                 self.static.input_tokens_per_minute, self._period, self._unclaimed)
                if not wanted:  # nothing learned yet: the probe
                    self._unclaimed += 1
                    return ticket
                if any(c.budget == "requests" for c in wanted):
                    if self._unclaimed:
                        probe_claim = self._probe_claim = asyncio.Event()
                    self._unclaimed = 0
                verdict = await self.shared.take(self.account, wanted, now)
            except BaseException:  # cancelled: the request does not go
                self.release(ticket)
                raise
            finally:
                if probe_claim is not None:
                    self._probe_claim = None
                    probe_claim.set()
            self._paused_until = max(self._paused_until, verdict.paused_until)
            if verdict.allowed and self._paused_until <= self._clock():
                return ticket
            if not verdict.allowed:
                self._held_until = max(self._held_until, verdict.retry_at)
                budget = self._budgets.get(verdict.budget)
                if verdict.window_end is not None and budget is not None and budget.reset_at is None:
                    budget.reset_at = verdict.window_end  # then its next window is named alike everywhere
            self.admitted -= 1
            if ticket.logged is not None and ticket.logged in self._log:
                self._log.remove(ticket.logged)
            self.release(ticket)

    async def _admit(self, tokens: int) -> Ticket:
        me = object()
        self._queue.append(me)
        waited = told = False
        try:
            while True:
                now = self._clock()
                blocked = self._blocked(tokens, now)
                if blocked is None and self._queue[0] is me:
                    break
                at, reason = blocked if blocked is not None else (math.inf, "")
                if not waited:
                    waited = True
                    self.waited += 1
                if not told and not math.isinf(at) and reason != _PROBE:  # that one is a round trip
                    told = True
                    self._tell(max(0.0, at - now), reason)
                await self._wait(at - now if self._queue[0] is me else math.inf)
        finally:
            self._queue.remove(me)
            self._signal()  # the next in line looks again
        self.admitted += 1
        if self._pending == 0 and not self._learned:  # a probe (again, if the last one failed)
            self._probe_at = self._clock()
        self._pending += 1
        self._pending_tokens += tokens
        ticket = Ticket(tokens)
        if self.static.requests_per_minute or self.static.input_tokens_per_minute:
            ticket.logged = (self._clock(), tokens)
            self._log.append(ticket.logged)
        return ticket

    def observe(self, ticket: Ticket, status: int, headers: Any, *, pause_max_s: float = math.inf) -> None:
        """A response arrived for `ticket`: learn from its headers, then free the ticket. A 429
        pauses the account for its retry-after, unless longer than `pause_max_s` (the retry
        layer's `retry_after_max_s`: such a call fails at once, and so should the others rather
        than hang). Without retry-after the budgets' reset times, when known, hold the others."""
        now = self._clock()
        snapshot = ratelimit_headers.parse(headers, now)
        if snapshot is not None:
            self._learned = True
            for name, budget in snapshot.budgets.items():
                self._merge(name, budget, now)
        elif not self._learned:
            self._headerless = True
        if status == 429:
            self.rejected += 1
            wait = ratelimit_headers.retry_after(headers, now)
            if wait is not None and wait <= pause_max_s:
                self._paused_until = max(self._paused_until, now + wait)
                log.info("rate limited (429): account paused for %.2fs", wait)
                if self.shared is not None:
                    self.shared.publish_pause(self.account, self._paused_until)
        self.release(ticket)

    def release(self, ticket: Ticket) -> None:
        if ticket.done:
            return
        ticket.done = True
        self._pending -= 1
        self._pending_tokens -= ticket.tokens
        self._signal()

    # -- internals -----------------------------------------------------------------------------
    def _merge(self, name: str, new: ratelimit_headers.Budget, now: float) -> None:
        if new.reset_at is not None and new.reset_at <= now:
            return  # a late report of a window that is already over
        old = self._budgets.get(name)
        if (old is None or old.reset_at is None or new.reset_at is None
                or new.reset_at > old.reset_at + _SAME_WINDOW_S):
            after = None if old is None else old.after if old.reset_at is None else old.reset_at
            self._budgets[name] = _Budget(new.limit, new.remaining, new.reset_at, after)
            if self.shared is not None and after is not None and new.reset_at is not None:
                self.shared.publish_window(self.account, name, after, new.reset_at)
        else:  # the same window, possibly reported out of order: the lowest count is the latest
            old.remaining = min(old.remaining, new.remaining)
            old.limit = new.limit if new.limit is not None else old.limit

    def _blocked(self, tokens: int, now: float) -> tuple[float, str] | None:
        """None when a request may go now, else (when to look again, inf: at the next
        response; why)."""
        if now < self._paused_until:
            return self._paused_until, "the provider answered 429"
        if now < self._held_until:
            return self._held_until, _SHARED
        if (not self._learned and not self._headerless and self._pending and self._probe_at is not None
                and now < self._probe_at + PROBE_MAX_S):
            return self._probe_at + PROBE_MAX_S, _PROBE
        worst: tuple[float, str] | None = None
        for name, budget in list(self._budgets.items()):
            if budget.reset_at is not None and now >= budget.reset_at:
                if budget.limit is None:
                    del self._budgets[name]
                    continue
                budget.remaining, budget.reset_at, budget.after = budget.limit, None, budget.reset_at
            if name == "requests":
                need, held = 1, self._pending
            elif name == "output_tokens":
                need, held = 1, 0
            else:
                need, held = tokens, self._pending_tokens
            if budget.remaining - held >= need or (self._pending == 0 and budget.reset_at is None):
                continue  # fits, or nothing in flight will tell more: let the provider decide
            at = budget.reset_at if budget.reset_at is not None else math.inf
            if worst is None or at > worst[0]:
                worst = (at, name.replace("_", " "))
        static = self._static_blocked(tokens, now)
        if static is not None and (worst is None or static[0] > worst[0]):
            worst = static
        return worst

    def _static_blocked(self, tokens: int, now: float) -> tuple[float, str] | None:
        rpm, tpm = self.static.requests_per_minute, self.static.input_tokens_per_minute
        while self._log and self._log[0][0] <= now - self._period:
            self._log.popleft()
        if not self._log:
            return None
        at = -math.inf
        if rpm and len(self._log) >= rpm:
            at = self._log[len(self._log) - rpm][0] + self._period
        if tpm:
            spent = sum(t for _, t in self._log)
            for admitted, used in self._log:
                if spent + tokens <= tpm:
                    break
                spent -= used
                at = max(at, admitted + self._period)
        return None if at == -math.inf else (at, "the static limit per minute")

    async def _wait(self, timeout: float) -> None:
        changed = self._changed
        if timeout <= 0:
            await asyncio.sleep(0)
            return
        try:
            await asyncio.wait_for(changed.wait(), None if math.isinf(timeout) else timeout + 0.005)
        except asyncio.TimeoutError:
            pass

    def _signal(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _tell(self, wait_s: float, reason: str) -> None:
        listener = _listener.get()
        if listener is not None:
            listener(RateLimitNotice(wait_s, reason))


# -- the registry: (event loop, account) -> limiter ---------------------------------------------
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AccountLimiter]] = \
    weakref.WeakKeyDictionary()
_ceilings: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StaticLimits] = weakref.WeakKeyDictionary()
_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ratelimit_shared.SharedBudget] = \
    weakref.WeakKeyDictionary()


def account_key(origin: str, credential: str) -> str:
    digest = hashlib.sha256(credential.encode("utf-8", "replace")).hexdigest()[:16]
    return f"{origin} key#{digest}"


def limiter_for(account: str, static: StaticLimits | None = None) -> AccountLimiter:
    """The running loop's limiter of `account` (an `account_key`), tightened by `static`."""
    loop = asyncio.get_running_loop()
    limiters = _limiters.setdefault(loop, {})
    limiter = limiters.get(account)
    if limiter is None:
        limiter = limiters[account] = AccountLimiter(_ceilings.get(loop))
        limiter.account, limiter.shared = account, _shared.get(loop)
    limiter.tighten(static)
    return limiter


def set_loop_ceiling(limits: StaticLimits) -> None:
    """Static limits for every account used on the running loop (llmproc-mcp's flags)."""
    loop = asyncio.get_running_loop()
    _ceilings[loop] = limits.tightest(_ceilings.get(loop))
    for limiter in _limiters.get(loop, {}).values():
        limiter.tighten(limits)


def set_shared(budget: ratelimit_shared.SharedBudget | None) -> None:
    """Share every account's budget of the running loop through `budget` (None: stop)."""
    loop = asyncio.get_running_loop()
    if budget is None:
        _shared.pop(loop, None)
    else:
        _shared[loop] = budget
    for limiter in _limiters.get(loop, {}).values():
        limiter.shared = budget


def current_shared() -> ratelimit_shared.SharedBudget | None:
    return _shared.get(asyncio.get_running_loop())


def static_limits(settings: ProviderSettings) -> StaticLimits | None:
    found = settings.options.get("rate_limits")
    return StaticLimits(**found) if found else None
