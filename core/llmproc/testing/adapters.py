"""`ProviderSettings` that point each provider adapter at a `FakeLLMServer`.

    provider = create_provider(fake_settings(fake, "openai_chat", max_retries=2))

With `create_provider` the adapter comes wrapped in the retry layer, as programs get it.
Keys are placeholders: the fake accepts any.
"""

from __future__ import annotations

from typing import Any

from llmproc.providers.base import ProviderSettings
from llmproc.testing.server import FakeLLMServer

__all__ = ["ADAPTERS", "fake_settings"]

ADAPTERS = ("anthropic", "anthropic_vertex", "openai", "openai_chat", "gemini")


def fake_settings(fake: FakeLLMServer, provider: str, **kw: Any) -> ProviderSettings:
    base: dict[str, Any] = {
        "anthropic": {"base_url": fake.anthropic_base_url, "api_key": "sk-ant-test"},
        "anthropic_vertex": {"base_url": fake.vertex_base_url, "api_key": "ya29.test",
                             "options": {"project_id": "test-project", "region": "us-east5"}},
        "openai": {"base_url": fake.openai_base_url, "api_key": "sk-test"},
        "openai_chat": {"base_url": fake.openai_base_url, "api_key": "sk-test"},
        "gemini": {"base_url": fake.gemini_base_url, "api_key": "gm-test"},
    }[provider]
    return ProviderSettings(provider, **{"timeout_s": 10.0, **base, **kw})
