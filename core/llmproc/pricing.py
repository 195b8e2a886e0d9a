"""Model prices -> cost in USD. An unknown model's cost is None (with one warning), never $0.

Prices are USD per million tokens, list prices of the first-party APIs as published in
November 2026 (Anthropic: platform.claude.com pricing and model pages; OpenAI: the API pricing
page; Google: ai.google.dev Gemini API pricing). A model whose price could not be confirmed is
left out on purpose: its cost shows as unknown rather than as a guess. Add or override prices
with `register_price()`.

What a request costs, from `Usage` (see llmproc.messages for the token convention):
- `input_tokens` at `input`; `cache_write_tokens` at `cache_write` (Anthropic: 1.25x input for
  the 5-minute cache we use; OpenAI and Gemini charge no write surcharge, so it equals input);
  `cache_read_tokens` at `cache_read`;
- `output_tokens` at `output`; the reasoning share at `reasoning` when a model prices it apart
  (none of the listed models does: thinking is billed as output);
- `long`: some models bill a whole request at higher rates when its prompt (input + cache
  reads + cache writes) exceeds a threshold: Gemini Pro above 200k, Claude Sonnet 4/4.5 above
  200k, Claude Haiku 5.5 above 100k.
Not modelled: batch discounts, priority tiers, regional endpoint surcharges (Vertex regional,
`inference_geo`), 1-hour cache writes, Gemini explicit-cache storage.

Names match exactly or with a date or `-latest` suffix ("claude-3-5-haiku-20241022",
"gpt-4o-2024-08-06", "claude-sonnet-4-5@20250929" on Vertex), never by a looser prefix: a newer
model with a similar name ("gpt-5.2" vs "gpt-5") must not silently get an older model's price.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from llmproc.messages import Usage

__all__ = ["Price", "PRICES", "cost_usd", "price_for", "register_price"]

log = logging.getLogger("llmproc.pricing")


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float
    cache_read: float
    reasoning: float | None = None  # None: reasoning tokens cost the output price
    long: tuple[int, Price] | None = None  # (prompt tokens above which, the price of the request)

    def cost(self, usage: Usage) -> float:
        price = self
        if self.long is not None and usage.total_input_tokens > self.long[0]:
            price = self.long[1]
        reasoning = min(usage.reasoning_tokens, usage.output_tokens)
        reasoning_rate = price.output if price.reasoning is None else price.reasoning
        return (usage.input_tokens * price.input + usage.cache_write_tokens * price.cache_write
                + usage.cache_read_tokens * price.cache_read
                + (usage.output_tokens - reasoning) * price.output + reasoning * reasoning_rate) / 1e6


def _claude(inp: float, out: float, read: float | None = None,
            long: tuple[int, Price] | None = None) -> Price:
    # 5-minute cache writes cost 1.25x input; reads are 0.1x input unless the page says otherwise.
    return Price(inp, out, inp * 1.25, inp * 0.1 if read is None else read, long=long)


def _flat(inp: float, out: float, cached: float, long: tuple[int, Price] | None = None) -> Price:
    # OpenAI and Gemini: no surcharge for writing the (automatic) cache.
    return Price(inp, out, inp, cached, long=long)


_OPUS_45 = _claude(5.0, 25.0)
_OPUS_4 = _claude(15.0, 75.0)
_SONNET_4 = _claude(3.0, 15.0, long=(200_000, _claude(6.0, 22.5)))
_SONNET = _claude(3.0, 15.0)

PRICES: dict[str, Price] = {
    # Anthropic (the same list prices on Vertex AI's global endpoint)
    "claude-opus-5-5": _claude(4.0, 20.0, read=0.20),
    "claude-opus-5": _claude(5.0, 25.0),
    "claude-opus-4-8": _OPUS_45, "claude-opus-4-7": _OPUS_45, "claude-opus-4-6": _OPUS_45,
    "claude-opus-4-5": _OPUS_45,
    "claude-opus-4-1": _OPUS_4, "claude-opus-4-0": _OPUS_4, "claude-opus-4": _OPUS_4,
    "claude-3-opus": _OPUS_4,
    "claude-sonnet-5-5": _claude(2.0, 10.0, read=0.10),  # cache reads cut to 0.05x on 2026-10-07
    "claude-sonnet-5": _claude(2.0, 10.0),
    "claude-sonnet-4-6": _SONNET,
    "claude-sonnet-4-5": _SONNET_4, "claude-sonnet-4-0": _SONNET_4, "claude-sonnet-4": _SONNET_4,
    "claude-3-7-sonnet": _SONNET, "claude-3-5-sonnet": _SONNET,
    "claude-haiku-5-5": _claude(0.10, 0.50, long=(100_000, _claude(0.50, 2.50))),
    "claude-haiku-4-5": _claude(1.0, 5.0),
    "claude-3-5-haiku": _claude(0.80, 4.0),
    "claude-3-haiku": Price(0.25, 1.25, 0.30, 0.03),
    # OpenAI
    "gpt-5.5": _flat(5.0, 30.0, 0.50),
    "gpt-5.4": _flat(2.50, 15.0, 0.25),
    "gpt-5.4-mini": _flat(0.75, 4.50, 0.075),
    "gpt-5.1": _flat(1.25, 10.0, 0.125),
    "gpt-5": _flat(1.25, 10.0, 0.125),
    "gpt-5-mini": _flat(0.25, 2.0, 0.025),
    "gpt-5-nano": _flat(0.05, 0.40, 0.005),
    "gpt-4.1": _flat(2.0, 8.0, 0.50),
    "gpt-4.1-mini": _flat(0.40, 1.60, 0.10),
    "gpt-4.1-nano": _flat(0.10, 0.40, 0.025),
    "gpt-4o": _flat(2.50, 10.0, 1.25),
    "gpt-4o-2024-05-13": _flat(5.0, 15.0, 5.0),  # the first snapshot kept its launch price
    "gpt-4o-mini": _flat(0.15, 0.60, 0.075),
    "o1": _flat(15.0, 60.0, 7.50),
    "o1-mini": _flat(1.10, 4.40, 0.55),
    "o3-pro": _flat(20.0, 80.0, 20.0),
    "o3": _flat(2.0, 8.0, 0.50),
    "o3-mini": _flat(1.10, 4.40, 0.55),
    "o4-mini": _flat(1.10, 4.40, 0.275),
    # Google Gemini (Developer API, paid tier; text input)
    "gemini-3-pro-preview": _flat(2.0, 12.0, 0.20, long=(200_000, _flat(4.0, 18.0, 0.40))),
    "gemini-3-flash-preview": _flat(0.50, 3.0, 0.05),
    "gemini-2.5-pro": _flat(1.25, 10.0, 0.125, long=(200_000, _flat(2.50, 15.0, 0.25))),
    "gemini-2.5-flash": _flat(0.30, 2.50, 0.03),
    "gemini-2.5-flash-lite": _flat(0.10, 0.40, 0.01),
    "gemini-2.0-flash": _flat(0.10, 0.40, 0.025),
    "gemini-2.0-flash-lite": _flat(0.075, 0.30, 0.075),
    # Offline providers cost nothing, and saying so is accurate, not a guess.
    "scripted": Price(0.0, 0.0, 0.0, 0.0),
}

# A dated snapshot or alias of a listed model: -20241022, -2024-08-06, @20250929 (Vertex), -latest.
_SUFFIX = re.compile(r"(?:[-@](?:\d{8}|\d{4}-\d{2}-\d{2})|-latest)$")

_warned: set[str] = set()


def register_price(model: str, price: Price) -> None:
    """Add or override a model's price (exact name; dated snapshots of it match too)."""
    PRICES[model] = price


def price_for(model: str, provider: str | None = None) -> Price | None:
    if provider == "scripted":
        return PRICES["scripted"]
    name = model.strip().lower().split("/")[-1]  # "models/gemini-..." and "openai/gpt-..." forms
    if name in PRICES:
        return PRICES[name]
    base = _SUFFIX.sub("", name)
    return PRICES.get(base) if base != name else None


def cost_usd(model: str, usage: Usage, provider: str | None = None) -> float | None:
    price = price_for(model, provider)
    if price is None:
        if model not in _warned:
            _warned.add(model)
            log.warning("no price known for model %r: its cost is reported as unknown "
                        "(add one with llmproc.pricing.register_price)", model)
        return None
    return price.cost(usage)
