"""The default idle timeout of model calls: every SDK client llmproc builds gives up after
DEFAULT_READ_TIMEOUT_S without data (connect: 5 s), retried like any timeout, and
`[parameters] request_timeout_s` overrides it. Against the fake server with a delayed reply, a
small timeout keeps the tests fast; the real default is checked on the clients' timeout objects."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llmproc import LLMProgram
from llmproc.errors import ProviderError
from llmproc.messages import Message
from llmproc.providers import base
from llmproc.providers.base import ModelRequest, ProviderSettings
from llmproc.providers.registry import create_provider
from llmproc.testing import FakeLLMServer, Reply

FAST = {"max_retries": 2, "retry_initial_delay_s": 0.001, "retry_max_delay_s": 0.001}
VERTEX = {"region": "us-east5", "project_id": "proj", "access_token": "token"}


def settings(fake: FakeLLMServer, provider: str, **kw: Any) -> ProviderSettings:
    url = {"anthropic": fake.anthropic_base_url, "anthropic_vertex": fake.vertex_base_url,
           "gemini": fake.gemini_base_url}.get(provider, fake.openai_base_url)
    options = VERTEX if provider == "anthropic_vertex" else {}
    return ProviderSettings(provider, base_url=url, api_key="test-key", options=options, **kw)


def sdk_client(fake: FakeLLMServer, provider: str, **kw: Any) -> Any:
    return create_provider(settings(fake, provider, **kw), shared_client=False).inner._client


@pytest.mark.parametrize("provider", ["anthropic", "anthropic_vertex", "openai", "openai_chat"])
async def test_stainless_clients_get_the_default_idle_timeout_and_request_timeout_s_overrides_it(
        fake_llm: FakeLLMServer, provider: str) -> None:
    import httpx2

    default = sdk_client(fake_llm, provider)
    assert base.DEFAULT_READ_TIMEOUT_S == 120.0
    assert default.timeout == httpx2.Timeout(120.0, connect=5.0)  # read, write, pool: 120 s; not the SDK's 600
    assert default.max_retries == 0  # the retry layer retries the timeout, not the SDK
    assert sdk_client(fake_llm, provider, timeout_s=7.5).timeout == httpx2.Timeout(7.5)
    await default.close()


async def test_gemini_requests_get_the_default_idle_timeout(fake_llm: FakeLLMServer) -> None:
    """genai sends each request with timeout=None (no limit) unless http_options.timeout is set;
    our request hook fills in the default, and leaves a request that has a timeout alone."""
    genai_client = sdk_client(fake_llm, "gemini")
    httpx_client = genai_client._api_client._async_httpx_client
    (hook,) = httpx_client.event_hooks["request"]
    request = httpx_client.build_request("POST", fake_llm.gemini_base_url, timeout=None)
    await hook(request)
    assert request.extensions["timeout"] == {"connect": 5.0, "read": 120.0, "write": 120.0, "pool": 120.0}
    timed = httpx_client.build_request("POST", fake_llm.gemini_base_url, timeout=3.0)
    await hook(timed)
    assert timed.extensions["timeout"]["read"] == 3.0
    overridden = sdk_client(fake_llm, "gemini", timeout_s=7.5)
    assert overridden._api_client._http_options.timeout == 7500  # genai's own option, in ms
    await genai_client.aio.aclose()
    await overridden.aio.aclose()


CASES = [(p, stream, "default") for p in ("anthropic", "openai", "openai_chat", "gemini") for stream in (False, True)]
CASES += [(p, False, "request_timeout_s") for p in ("anthropic", "openai", "openai_chat", "gemini")]


@pytest.mark.parametrize(("provider", "stream", "how"), CASES)
async def test_a_silent_provider_times_out_after_the_retries(
        fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, provider: str, stream: bool, how: str) -> None:
    if how == "default":
        monkeypatch.setattr(base, "DEFAULT_READ_TIMEOUT_S", 0.2)
    timeout = {"timeout_s": 0.2} if how == "request_timeout_s" else {}
    fake_llm.add(*[Reply(text="too late", delay=5)] * 2)
    p = create_provider(settings(fake_llm, provider, max_retries=1, retry_initial_delay_s=0.001,
                                 retry_max_delay_s=0.001, **timeout), shared_client=False)
    request = ModelRequest(model="m", system="", messages=[Message.user("hi")], stream=stream)
    started = time.monotonic()
    try:
        with pytest.raises(ProviderError) as raised:
            await p.complete(request)
    finally:
        await p.aclose()
    assert time.monotonic() - started < 2.5  # two attempts of 0.2 s, not two of 5 s
    error = raised.value
    assert "request timed out" in str(error) and error.status is None and error.retryable
    assert error.retries == 1 and len(fake_llm.requests) == 2
    assert "did not answer in time (gave up after 1 retry)" in str(error)
    default = 0.2 if how == "default" else 120
    assert f"a larger [parameters] request_timeout_s (default: {default:g} s without data)" in str(error)


async def test_a_program_with_request_timeout_s_fails_quickly(fake_llm: FakeLLMServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    fake_llm.add(*[Reply(text="too late", delay=5)] * 3)
    program = LLMProgram.from_dict({
        "model": {"name": "claude-haiku-4-5", "provider": "anthropic", "base_url": fake_llm.anthropic_base_url},
        "parameters": {**FAST, "request_timeout_s": 0.5}})
    process = await program.start()
    started = time.monotonic()
    try:
        with pytest.raises(ProviderError, match="request timed out") as raised:
            await process.run("hi")
    finally:
        await process.aclose()
    assert time.monotonic() - started < 4 and raised.value.retries == 2
    assert [m.role for m in process.history] == ["user"]  # nothing half-done kept


def test_the_cli_prints_each_timeout_retry_once_and_fails(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    path = tmp_path / "slow.toml"
    path.write_text(f'[model]\nname = "claude-haiku-4-5"\nprovider = "anthropic"\n'
                    f'base_url = "{fake_llm.anthropic_base_url}"\n'
                    "[parameters]\nmax_retries = 2\nretry_initial_delay_s = 0.001\nrequest_timeout_s = 0.5\n")
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-ant-test"}
    command = [sys.executable, "-c", "from llmproc.cli.main import main; main()", str(path), "-p", "hi"]
    fake_llm.add(*[Reply(text="too late", delay=5)] * 3)
    started = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert time.monotonic() - started < 15  # start-up plus 3 x 0.5 s; the SDKs' default: 30 minutes
    assert proc.returncode == 1 and proc.stdout == "", proc.stderr
    # Each retry once: the event's line, not the retry logger's warning as well.
    assert [line for line in proc.stderr.splitlines() if "retry" in line] == [
        "  model call failed (request timed out); retry 1/2 in 0.0 s",
        "  model call failed (request timed out); retry 2/2 in 0.0 s"]
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("error: [anthropic] request timed out — anthropic did not answer in time")
