"""SDK clients pointed at the `fake_llm` server, all in strict response validation so that a
wrong wire shape fails the contract tests instead of parsing leniently into None fields.
Clients never retry unless a test says so (`client.with_options(max_retries=1)`)."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types
from llmproc.messages import Usage
from llmproc.testing import FakeLLMServer

TIMEOUT_S = 10.0  # every request is bounded
STRICT: dict[str, Any] = {"max_retries": 0, "timeout": TIMEOUT_S, "_strict_response_validation": True}
# Usage scripted by the OpenAI and Gemini contract tests; each checks how its wire reports it.
USAGE = Usage(
    input_tokens=10, output_tokens=50, cache_write_tokens=100, cache_read_tokens=1000, reasoning_tokens=30
)


@pytest.fixture
def fake(fake_llm: FakeLLMServer) -> FakeLLMServer:
    return fake_llm


@pytest.fixture
def claude(fake: FakeLLMServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key="sk-ant-test", **STRICT)


@pytest.fixture
def async_claude(fake: FakeLLMServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=fake.anthropic_base_url, api_key="sk-ant-test", **STRICT)


@pytest.fixture
def vertex(fake: FakeLLMServer) -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(
        region="us-east5",
        project_id="proj-1",
        access_token="ya29.fake",
        base_url=fake.vertex_base_url,
        **STRICT,
    )


@pytest.fixture
def gpt(fake: FakeLLMServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.openai_base_url, api_key="sk-test", **STRICT)


@pytest.fixture
def async_gpt(fake: FakeLLMServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fake.openai_base_url, api_key="sk-test", **STRICT)


@pytest.fixture
def gemini(fake: FakeLLMServer) -> genai.Client:
    http = types.HttpOptions(base_url=fake.gemini_base_url, timeout=int(TIMEOUT_S * 1000))
    return genai.Client(api_key="fake-key", http_options=http)
