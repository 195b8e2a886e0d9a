"""llmproc-mcp's static rate limits: two flags (and their environment variables) that apply to
every provider account the server's programs use; the smaller of the server's and a program's
[limits] wins."""

from __future__ import annotations

from pathlib import Path

import pytest
from llmproc.providers import ratelimit

from llmproc_mcp.programs import ProgramRegistry
from llmproc_mcp.settings import SettingsError, parse_args


def test_flags_and_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_args(["--no-state"]).requests_per_minute is None
    flags = parse_args(["--no-state", "--requests-per-minute", "50", "--input-tokens-per-minute", "40000"])
    assert (flags.requests_per_minute, flags.input_tokens_per_minute) == (50, 40_000)
    monkeypatch.setenv("LLMPROC_MCP_REQUESTS_PER_MINUTE", "7")
    assert parse_args(["--no-state"]).requests_per_minute == 7
    with pytest.raises(SettingsError, match="--requests-per-minute"):
        parse_args(["--no-state", "--requests-per-minute", "0"])


async def test_the_server_ceiling_and_a_program_limit_the_smaller_wins(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text('[model]\nname = "m"\nprovider = "openai_chat"\n'
                                     'base_url = "http://127.0.0.1:9/v1"\n'
                                     "[limits]\nrequests_per_minute = 5\ninput_tokens_per_minute = 90000\n")
    registry = ProgramRegistry([tmp_path], requests_per_minute=20, input_tokens_per_minute=40_000)
    _name, program = registry.load("p")
    provider = await registry.aprovider_for(program)
    try:
        from llmproc.providers.registry import settings_for

        limiter = ratelimit.limiter_for("http://127.0.0.1:9 key#x", ratelimit.static_limits(settings_for(program)))
        assert limiter.static == ratelimit.StaticLimits(5, 40_000)
        assert ratelimit.limiter_for("http://elsewhere key#y").static == ratelimit.StaticLimits(20, 40_000)
    finally:
        await provider.aclose()
        await registry.aclose()
