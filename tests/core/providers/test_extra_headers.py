"""`[parameters] extra_headers` reaches the wire: every adapter sends the headers with every
request (the original LLMProc's spelling for beta features such as token-efficient tools)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmproc import LLMProgram
from llmproc.providers.registry import create_provider, settings_for
from llmproc.testing import FakeLLMServer, Reply
from llmproc.testing.adapters import ADAPTERS, fake_settings

from .conftest import ASK, make_request

HEADERS = {"anthropic-beta": "token-efficient-tools-2025-02-19", "x-team": "llmproc"}
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "anthropic" / "claude-3-7-token-efficient-tools.toml"


@pytest.mark.parametrize("provider", ADAPTERS)
@pytest.mark.parametrize("stream", [False, True])
async def test_every_adapter_sends_the_headers_on_every_request(fake: FakeLLMServer, provider: str,
                                                                stream: bool) -> None:
    fake.add(Reply(text="one"), Reply(text="two"))
    settings = fake_settings(fake, provider, max_retries=0)
    settings = fake_settings(fake, provider, max_retries=0, options={**settings.options, "headers": HEADERS})
    client = create_provider(settings, shared_client=False)
    request = make_request("model-test")
    try:
        for _ in range(2):
            await client.complete(request([ASK], stream))
    finally:
        await client.aclose()
    assert len(fake.requests) == 2
    for sent in fake.requests:
        assert {k: sent.headers.get(k) for k in HEADERS} == HEADERS


def test_settings_carry_the_program_headers() -> None:
    program = LLMProgram.from_toml(EXAMPLE)
    assert program.config.parameters.extra_headers == {"anthropic-beta": "token-efficient-tools-2025-02-19"}
    assert settings_for(program).options["headers"] == {"anthropic-beta": "token-efficient-tools-2025-02-19"}


def test_programs_without_headers_share_settings_with_before() -> None:
    # No "headers" option at all: the shared-client key of existing programs does not change.
    program = LLMProgram.from_dict({"model": {"name": "m", "provider": "anthropic"}})
    assert "headers" not in settings_for(program).options


async def test_programs_with_different_headers_get_different_clients(fake: FakeLLMServer) -> None:
    base = fake_settings(fake, "anthropic")
    a = create_provider(fake_settings(fake, "anthropic", options={"headers": {"anthropic-beta": "a"}}))
    b = create_provider(fake_settings(fake, "anthropic", options={"headers": {"anthropic-beta": "b"}}))
    c = create_provider(base)
    try:
        # RetryingProvider -> shared lease -> adapter
        inners = {id(getattr(p, "inner").inner) for p in (a, b, c)}
        assert len(inners) == 3
    finally:
        for p in (a, b, c):
            await p.aclose()


def test_header_values_must_be_strings() -> None:
    from llmproc.errors import ProgramConfigError

    with pytest.raises(ProgramConfigError, match=r"parameters\.extra_headers\.x-n: expected a string"):
        LLMProgram.from_dict({"model": {"name": "m", "provider": "anthropic"},
                              "parameters": {"extra_headers": {"x-n": 1}}})
