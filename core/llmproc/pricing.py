"""Model prices -> cost in USD. An unknown model's cost is None (with one warning), never $0.

Prices are USD per million tokens: input (normal rate), output (reasoning included),
cache write, cache read. Model names match by longest prefix, so dated snapshots
("claude-3-5-sonnet-20241022") find their family. Published list prices as of 2025; override
or extend with `register_price()`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from llmproc.messages import Usage

log = logging.getLogger("llmproc.pricing")


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float
    cache_read: float


def _anthropic(inp: float, out: float) -> Price:
    # Anthropic: 5-minute cache writes cost 1.25x input, reads 0.1x input.
    return Price(inp, out, inp * 1.25, inp * 0.1)


def _openai(inp: float, out: float, cached: float) -> Price:
    # OpenAI: no surcharge for writing the cache; cached input at a discount.
    return Price(inp, out, inp, cached)


PRICES: dict[str, Price] = {
    "claude-opus-4-5": _anthropic(5.0, 25.0),
    "claude-opus-4": _anthropic(15.0, 75.0),
    "claude-sonnet-4": _anthropic(3.0, 15.0),
    "claude-haiku-4-5": _anthropic(1.0, 5.0),
    "claude-3-7-sonnet": _anthropic(3.0, 15.0),
    "claude-3-5-sonnet": _anthropic(3.0, 15.0),
    "claude-3-5-haiku": _anthropic(0.8, 4.0),
    "claude-3-opus": _anthropic(15.0, 75.0),
    "claude-3-haiku": _anthropic(0.25, 1.25),
    "gpt-4o-mini": _openai(0.15, 0.60, 0.075),
    "gpt-4o": _openai(2.50, 10.0, 1.25),
    "gpt-4.1-nano": _openai(0.10, 0.40, 0.025),
    "gpt-4.1-mini": _openai(0.40, 1.60, 0.10),
    "gpt-4.1": _openai(2.0, 8.0, 0.50),
    "gpt-5-nano": _openai(0.05, 0.40, 0.005),
    "gpt-5-mini": _openai(0.25, 2.0, 0.025),
    "gpt-5": _openai(1.25, 10.0, 0.125),
    "o3-mini": _openai(1.10, 4.40, 0.55),
    "o4-mini": _openai(1.10, 4.40, 0.275),
    "o3": _openai(2.0, 8.0, 0.50),
    "o1": _openai(15.0, 60.0, 7.50),
    "gemini-2.5-pro": Price(1.25, 10.0, 1.25, 0.31),
    "gemini-2.5-flash-lite": Price(0.10, 0.40, 0.10, 0.025),
    "gemini-2.5-flash": Price(0.30, 2.50, 0.30, 0.075),
    "gemini-2.0-flash": Price(0.10, 0.40, 0.10, 0.025),
    # Offline providers cost nothing, and saying so is accurate, not a guess.
    "scripted": Price(0.0, 0.0, 0.0, 0.0),
}

_warned: set[str] = set()


def register_price(model_prefix: str, price: Price) -> None:
    PRICES[model_prefix] = price


def price_for(model: str, provider: str | None = None) -> Price | None:
    if provider == "scripted":
        return PRICES["scripted"]
    name = model.split("/")[-1].removeprefix("models/")
    best = max((p for p in PRICES if name.startswith(p)), key=len, default=None)
    return PRICES[best] if best else None


def cost_usd(model: str, usage: Usage, provider: str | None = None) -> float | None:
    price = price_for(model, provider)
    if price is None:
        if model not in _warned:
            _warned.add(model)
            log.warning("no price known for model %r: its cost is reported as unknown", model)
        return None
    return (usage.input_tokens * price.input + usage.output_tokens * price.output
            + usage.cache_write_tokens * price.cache_write + usage.cache_read_tokens * price.cache_read) / 1e6
