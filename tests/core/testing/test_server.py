"""FakeLLMServer behaviour that is not one provider's wire: script, records, lifecycle, concurrency."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from typing import Any

import anthropic
import httpx2
import pytest
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ToolUse

M = "claude-sonnet-5-5"
USER = [{"role": "user", "content": "hi"}]


def test_unscripted_request_fails_fast_without_retry(fake: FakeLLMServer) -> None:
    client = anthropic.Anthropic(base_url=fake.url, api_key="k", max_retries=2, timeout=10)
    with pytest.raises(anthropic.InternalServerError, match="no scripted reply left"):
        client.messages.create(model=M, max_tokens=9, messages=USER)
    assert len(fake.requests) == 1  # x-should-retry: false stopped the SDK's retries


def test_records_query_headers_and_raw_body(fake: FakeLLMServer) -> None:
    fake.add(Reply(text="ok"))
    with httpx2.Client(base_url=fake.url, timeout=10) as http:
        http.post(
            "/v1/chat/completions?trace=1",
            content=b'{"model": "m", "messages": []}',
            headers={"X-Custom": "Yes"},
        )
        http.post("/v1/chat/completions", content=b"not json")
    first, second = fake.requests
    assert first.query == {"trace": "1"} and first.headers["x-custom"] == "Yes"
    assert first.body == {"model": "m", "messages": []} and first.raw_body.startswith(b'{"model"')
    assert first.item == Reply(text="ok") and first.model == "m"
    assert second.body == "not json" and second.item is None


def test_unknown_endpoint_is_404_and_takes_no_item(fake: FakeLLMServer) -> None:
    fake.add(Reply(text="kept"))
    with httpx2.Client(base_url=fake.url, timeout=10) as http:
        response = http.post("/v2/somewhere", json={})
    assert response.status_code == 404 and "no endpoint for POST /v2/somewhere" in response.text
    assert fake.remaining == [Reply(text="kept")] and fake.requests[0].endpoint is None


def test_sse_is_chunked_with_request_id(fake: FakeLLMServer) -> None:
    fake.add(Reply(text="x"), HTTPError(429, headers={"retry-after": "7"}))
    with httpx2.Client(base_url=fake.url, timeout=10) as http:
        ok = http.post("/v1/messages", json={"model": "m", "stream": True})
        err = http.post("/v1/messages", json={"model": "m"})
    assert ok.headers["transfer-encoding"] == "chunked" and ok.headers["content-type"] == "text/event-stream"
    assert ok.headers["request-id"].startswith("req_") and ok.text.rstrip().endswith(
        '{"type":"message_stop"}'
    )
    assert err.status_code == 429 and err.headers["retry-after"] == "7"
    assert err.json()["error"] == {"type": "rate_limit_error", "message": "scripted error"}


def test_default_usage_is_plausible(fake: FakeLLMServer) -> None:
    fake.add(Reply(text="a reply of some forty characters, or so.", thinking="some thoughts here"))
    client = anthropic.Anthropic(base_url=fake.url, api_key="k", max_retries=0, timeout=10)
    usage = client.messages.create(model=M, max_tokens=9, messages=USER).usage
    assert usage.input_tokens > 0 and usage.output_tokens >= 10
    assert usage.output_tokens_details is not None and usage.output_tokens_details.thinking_tokens > 0


def test_json_disconnect_drops_the_connection(fake: FakeLLMServer) -> None:
    fake.add(Reply(text="never seen", stream_cut="disconnect"))
    client = anthropic.Anthropic(base_url=fake.url, api_key="k", max_retries=0, timeout=10)
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(model=M, max_tokens=9, messages=USER)


async def test_concurrent_delayed_requests_overlap(fake: FakeLLMServer) -> None:
    n, delay = 20, 0.2
    fake.add(*[Reply(text=f"answer {i}", delay=delay) for i in range(n)])
    client = anthropic.AsyncAnthropic(base_url=fake.url, api_key="k", max_retries=0, timeout=10)
    start = time.perf_counter()
    async with asyncio.timeout(10):
        messages = await asyncio.gather(
            *[client.messages.create(model=M, max_tokens=9, messages=USER) for _ in range(n)]
        )
    elapsed = time.perf_counter() - start
    assert sorted(m.content[0].text for m in messages) == sorted(f"answer {i}" for i in range(n))
    assert delay <= elapsed < 1.0, (
        f"{n} requests of {delay}s took {elapsed:.2f}s: they did not run concurrently"
    )


def test_stop_interrupts_a_delayed_reply() -> None:
    server = FakeLLMServer().start()
    server.add(Reply(text="late", delay=30))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            with httpx2.Client(timeout=10) as http:
                http.post(server.url + "/v1/messages", json={"model": "m"})
        except httpx2.HTTPError as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    deadline = time.monotonic() + 5
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.perf_counter()
    server.stop()
    worker.join(5)
    assert not worker.is_alive() and len(errors) == 1
    assert time.perf_counter() - start < 2.0


def test_lifecycle() -> None:
    server = FakeLLMServer()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    with server as running:
        url = running.url
        assert running.start() is running and running.url == url  # start is idempotent
        assert running.openai_base_url == url + "/v1" and running.vertex_base_url == url + "/v1"
        assert running.anthropic_base_url == url == running.gemini_base_url
    server.stop()  # idempotent
    with pytest.raises(httpx2.ConnectError):
        httpx2.post(url + "/v1/messages", json={}, timeout=2)


def test_script_helpers(fake: FakeLLMServer) -> None:
    assert fake.add(Reply(text="a")) is fake
    with pytest.raises(AssertionError, match="never requested"):
        fake.assert_all_consumed()
    with pytest.raises(TypeError, match="Reply or HTTPError"):
        fake.add("text")  # type: ignore[arg-type]
    fake.reset()
    assert fake.remaining == [] and fake.requests == []
    fake.assert_all_consumed()


def test_script_item_validation() -> None:
    assert Reply(tool_calls=[ToolUse("t")]).tool_calls == (ToolUse("t"),)
    with pytest.raises(ValueError, match="stream_cut"):
        Reply(stream_cut="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="4xx or 5xx"):
        HTTPError(200)


def test_importing_the_kit_imports_no_provider_sdk() -> None:
    code = (
        "import sys, llmproc.testing as t; t.FakeLLMServer().start().stop(); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('anthropic', 'openai', 'google')]; "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_empty_reply_is_valid_everywhere(
    fake: FakeLLMServer, claude: anthropic.Anthropic, gpt: Any, gemini: Any
) -> None:
    fake.add(Reply(), Reply(), Reply(), Reply())
    assert claude.messages.create(model=M, max_tokens=9, messages=USER).content[0].text == ""
    assert gpt.chat.completions.create(model="m", messages=USER).choices[0].message.content == ""
    assert gpt.responses.create(model="m", input="q").output_text == ""
    assert not gemini.models.generate_content(model="g", contents="q").text
