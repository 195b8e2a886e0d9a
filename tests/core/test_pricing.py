"""The price table: exact and dated names, cache and reasoning prices, long-prompt tiers, and
an unknown model costing None (one warning), never a silent zero."""

from __future__ import annotations

import logging

import pytest

from llmproc import pricing
from llmproc.messages import Usage
from llmproc.pricing import PRICES, Price, cost_usd, price_for


@pytest.mark.parametrize(("name", "key"), [
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),  # Vertex
    ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # its own launch price
    ("models/gemini-2.5-flash", "gemini-2.5-flash"),
    ("openai/gpt-4.1-mini", "gpt-4.1-mini"),
    ("claude-haiku-5-5", "claude-haiku-5-5"),
])
def test_names_and_snapshots(name: str, key: str) -> None:
    assert price_for(name) is PRICES[key]


@pytest.mark.parametrize("name", ["gpt-5.2", "gpt-4o-audio-preview", "claude-opus-4-9", "o3-deep-research",
                                  "gemini-3-flash", "llama3.2"])
def test_no_loose_prefix_matching(name: str) -> None:
    # A similar name is a different model with its own price: unknown, not an older model's price.
    assert price_for(name) is None


def test_every_part_of_usage_is_priced() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, cache_write_tokens=1_000_000,
                  cache_read_tokens=1_000_000, reasoning_tokens=400_000)
    assert cost_usd("claude-opus-5-5", usage) == pytest.approx(4 + 20 + 5 + 0.20)
    assert cost_usd("gpt-4.1", usage) == pytest.approx(2 + 8 + 2 + 0.50)  # no write surcharge
    separate = Price(1.0, 10.0, 1.0, 0.1, reasoning=20.0)
    assert separate.cost(usage) == pytest.approx(1 + (0.6 * 10 + 0.4 * 20) + 1 + 0.1)


def test_long_prompts_switch_the_whole_request_to_the_higher_rate() -> None:
    short = Usage(input_tokens=150_000, cache_read_tokens=50_000, output_tokens=1_000)
    long = Usage(input_tokens=150_000, cache_read_tokens=50_001, output_tokens=1_000)
    assert cost_usd("gemini-2.5-pro", short) == pytest.approx((150_000 * 1.25 + 50_000 * 0.125 + 1_000 * 10) / 1e6)
    assert cost_usd("gemini-2.5-pro", long) == pytest.approx((150_000 * 2.5 + 50_001 * 0.25 + 1_000 * 15) / 1e6)
    assert cost_usd("claude-haiku-5-5", Usage(input_tokens=100_001)) == pytest.approx(100_001 * 0.5 / 1e6)


def test_claude_cache_prices_follow_the_published_multipliers() -> None:
    for name, price in PRICES.items():
        if name.startswith("claude-") and name != "claude-3-haiku":
            assert price.cache_write == pytest.approx(price.input * 1.25), name
        assert price.cache_read <= price.input and price.output >= price.input, name


def test_unknown_model_is_none_with_one_warning(caplog: pytest.LogCaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pricing, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="llmproc.pricing"):
        assert cost_usd("mystery-9", Usage(10, 10)) is None
        assert cost_usd("mystery-9", Usage(10, 10)) is None
    assert caplog.text.count("mystery-9") == 1
    assert cost_usd("anything", Usage(10, 10), provider="scripted") == 0.0


def test_register_price(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PRICES, "in-house-1", Price(0, 0, 0, 0))  # so that the test leaves no trace
    pricing.register_price("in-house-1", Price(1.0, 2.0, 1.0, 0.5))
    assert cost_usd("in-house-1-20260101", Usage(1_000_000, 0)) == pytest.approx(1.0)
