"""Each adapter reports the answer's own id (`ModelResponse.response_id`: what traces record as
`gen_ai.response.id`) apart from the HTTP request's id, read by the real SDKs from the fake
server's wire format, streamed and not."""

from __future__ import annotations

import pytest

from llmproc.messages import Message
from llmproc.providers.base import ModelRequest, ProviderSettings
from llmproc.providers.registry import create_provider
from llmproc.testing import FakeLLMServer, Reply

# provider -> (the answer's id prefix in the fake's wire format, the request id's, None: not sent)
IDS = {"anthropic": ("msg_", "req_"), "openai": ("resp_", "req_"), "openai_chat": ("chatcmpl-", "req_"),
       "gemini": ("resp-", None)}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("provider", list(IDS))
async def test_the_answer_id_is_the_providers_not_the_requests(provider: str, stream: bool,
                                                                fake_llm: FakeLLMServer) -> None:
    url = {"anthropic": fake_llm.anthropic_base_url, "gemini": fake_llm.gemini_base_url}.get(
        provider, fake_llm.openai_base_url)
    adapter = create_provider(ProviderSettings(provider, base_url=url, api_key="test-key"), shared_client=False)
    fake_llm.add(Reply(text="hi"))
    request = ModelRequest(model="m", system="Be brief.", messages=[Message.user("hi")], stream=stream)
    try:
        response = await adapter.complete(request)
    finally:
        await adapter.aclose()
    answer_prefix, request_prefix = IDS[provider]
    assert response.response_id and response.response_id.startswith(answer_prefix)
    if request_prefix is not None:
        assert (response.request_id or "").startswith(request_prefix)
        assert response.response_id != response.request_id
