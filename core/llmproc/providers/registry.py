"""Provider name -> adapter, imported only when a process starts.

Printing a prompt or validating a program never imports an SDK; a missing SDK is a
`ProviderNotInstalled` error that says which extra to install.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar

from llmproc.errors import ProgramConfigError, ProviderNotInstalled
from llmproc.providers import _vertex, shared
from llmproc.providers.base import Provider, ProviderSettings
from llmproc.providers.retry import RetryingProvider, RetryPolicy

T = TypeVar("T")

if TYPE_CHECKING:
    from llmproc.program import LLMProgram


@dataclass(frozen=True)
class ProviderEntry:
    module: str
    factory: str
    package: str  # the distribution that provides the SDK
    extra: str | None  # the llmproc extra that installs it (None: a core dependency)


PROVIDERS: dict[str, ProviderEntry] = {
    "anthropic": ProviderEntry("llmproc.providers.anthropic_messages", "create", "anthropic", None),
    "anthropic_vertex": ProviderEntry("llmproc.providers.anthropic_messages", "create_vertex", "anthropic", None),
    "openai": ProviderEntry("llmproc.providers.openai_responses", "create", "openai", None),
    "openai_chat": ProviderEntry("llmproc.providers.openai_chat", "create", "openai", None),
    "gemini": ProviderEntry("llmproc.providers.gemini", "create", "google-genai", "gemini"),
    "gemini_vertex": ProviderEntry("llmproc.providers.gemini", "create_vertex", "google-genai", "gemini"),
    "scripted": ProviderEntry("llmproc.providers.scripted", "create", "llmproc", None),
}


def settings_for(program: LLMProgram) -> ProviderSettings:
    """The client settings of `program`.

    Raises ProgramConfigError (a configuration error: exit 2 in the CLIs) for a Vertex program
    whose project or region is neither in the program nor in the environment: checked here, when
    a process starts, not at load, because the environment may be set between the two (and
    printing a prompt needs neither).
    """
    model, params = program.config.model, program.config.parameters
    options: dict[str, object] = {}
    if model.project_id:
        options["project_id"] = model.project_id
    if model.region:
        options["region"] = model.region
    if model.replies:
        options["replies"] = model.replies
    if params.extra_headers:
        options["headers"] = dict(params.extra_headers)
    limits = program.config.limits
    if limits.requests_per_minute or limits.input_tokens_per_minute:  # ratelimit.py
        options["rate_limits"] = {"requests_per_minute": limits.requests_per_minute,
                                  "input_tokens_per_minute": limits.input_tokens_per_minute}
    if model.provider in _vertex.VERTEX_ENV and (gap := _vertex.missing(model.provider, options)):
        raise ProgramConfigError(gap[1], path=program.path, key=f"model.{gap[0]}")
    defaults = ProviderSettings(model.provider)  # unset keys keep these
    return ProviderSettings(
        provider=model.provider,
        base_url=model.base_url,
        timeout_s=params.request_timeout_s,
        options=options,
        max_retries=_given(params.max_retries, defaults.max_retries),
        retry_initial_delay_s=_given(params.retry_initial_delay_s, defaults.retry_initial_delay_s),
        retry_max_delay_s=_given(params.retry_max_delay_s, defaults.retry_max_delay_s),
        retry_after_max_s=_given(params.retry_after_max_s, defaults.retry_after_max_s),
    )


def _given(value: T | None, default: T) -> T:
    return default if value is None else value


def import_adapter(provider: str) -> ModuleType:
    """The adapter module of `provider`, with its SDK: seconds of CPU on first use, so a server
    calls this in a worker thread ahead of its first run (an import holds the importing thread)."""
    entry = PROVIDERS[provider]
    try:
        return importlib.import_module(entry.module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in {"anthropic", "openai", "google", "httpx2"}:
            raise ProviderNotInstalled(provider, entry.package, entry.extra) from exc
        raise


def create_provider(settings: ProviderSettings, *, shared_client: bool = True) -> Provider:
    """The adapter for `settings.provider`, wrapped in the one retry layer (`RetryingProvider`).

    SDK-backed adapters are shared by processes with the same settings (see shared.py) unless
    `shared_client` is False (a caller that pools clients itself); the scripted provider never
    is, since its script is state.
    """
    entry = PROVIDERS[settings.provider]
    factory = getattr(import_adapter(settings.provider), entry.factory)
    adapter: Provider = (shared.acquire(settings, lambda: factory(settings))
                         if shared_client and settings.provider != "scripted" else factory(settings))
    return RetryingProvider(adapter, RetryPolicy.from_settings(settings))
