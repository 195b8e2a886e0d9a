"""What to do about a failed model call: the same advice for every provider.

Adapters map SDK exceptions to `ProviderError` with the facts (status, retryable, request id);
`explain()` adds what the user should do next, once the retry layer has given up. The facts
are kept, so callers can still branch on `status` and `retryable`.
"""

from __future__ import annotations

import re

from llmproc.errors import ProviderError
from llmproc.providers import base

__all__ = ["explain", "is_context_overflow", "KEY_HINTS"]

# Where each provider's credentials come from, named in the advice for a rejected key.
KEY_HINTS: dict[str, str] = {
    "anthropic": "set ANTHROPIC_API_KEY to a valid key",
    "anthropic_vertex": "refresh your Google Cloud credentials (gcloud auth application-default login, "
                        "or GOOGLE_APPLICATION_CREDENTIALS)",
    "openai": "set OPENAI_API_KEY to a valid key",
    "openai_chat": "set OPENAI_API_KEY to a valid key (or the key your base_url server expects)",
    "gemini": "set GEMINI_API_KEY (or GOOGLE_API_KEY) to a valid key",
    "gemini_vertex": "refresh your Google Cloud credentials (gcloud auth application-default login, "
                     "or GOOGLE_APPLICATION_CREDENTIALS)",
}

# How each API says "the prompt does not fit" (Anthropic, OpenAI, Gemini, compatible servers).
_CONTEXT = re.compile(
    r"prompt is too long|context[_ ]length|context window|maximum context|too many (input )?tokens"
    r"|input token count .*exceeds|exceeds the maximum number of tokens|request_too_large"
    r"|reduce the length of the (messages|input)",
    re.IGNORECASE,
)
_BAD_KEY = re.compile(
    r"api[_ -]?key not valid|invalid[_ -](x-)?api[_ -]?key|incorrect api key|API_KEY_INVALID", re.IGNORECASE)
_OVERLOADED = re.compile(r"overloaded|UNAVAILABLE", re.IGNORECASE)

CONTEXT_HINT = (
    "the conversation no longer fits the model's context window: enable file descriptors "
    "([file_descriptor] enabled = true) so long tool outputs are paged with read_fd instead of "
    "kept whole, use goto to return to an earlier point of the history, or start a new process"
)


def is_context_overflow(error: ProviderError) -> bool:
    if error.status == 413:  # Anthropic's request_too_large
        return True
    return error.status in (400, None) and bool(_CONTEXT.search(error.detail))


def _hint(error: ProviderError, model: str, tries: str) -> str | None:
    provider, status = error.provider, error.status
    if status == 401 or (status in (400, 403) and _BAD_KEY.search(error.detail)):
        return "the API key was rejected: " + KEY_HINTS.get(provider, "check the provider's API key")
    if status == 403:
        return (f"permission denied for model {model!r} on {provider}: check that your key or project "
                "has access to it")
    if status == 404:
        return (f"model {model!r} was not found on {provider}: check [model] name (and base_url, "
                "if set, must point at the API root)")
    if is_context_overflow(error):
        return CONTEXT_HINT
    if status == 429:
        return (f"rate limited by {provider}{tries}: wait and run again, run fewer processes at once, "
                "or raise [parameters] max_retries")
    if status in (503, 529) or (status is None and _OVERLOADED.search(error.detail)):
        return f"{provider} is overloaded{tries}: try again later or raise [parameters] max_retries"
    if status is not None and status >= 500:
        return f"{provider} had a server error{tries}: try again later"
    if status is None and "timed out" in error.detail:
        return (f"{provider} did not answer in time{tries}: check base_url and the network; a model "
                "that stays silent longer (a long answer not streamed, long reasoning) needs a larger "
                f"[parameters] request_timeout_s (default: {base.DEFAULT_READ_TIMEOUT_S:g} s without data)")
    if status in (408, 409) or (status is None and error.retryable):
        return (f"the call to {provider} failed{tries}: check the network, base_url and "
                "[parameters] request_timeout_s, then run again")
    return None


def explain(error: ProviderError, *, model: str, note: str | None = None) -> ProviderError:
    """A copy of `error` whose message ends with what to do; `note` says why retrying stopped."""
    n = error.retries
    tries = f" (gave up after {n} retr{'y' if n == 1 else 'ies'})" if n else ""
    hint = note or _hint(error, model, tries)
    message = f"{error.detail} — {hint}" if hint else error.detail
    return ProviderError(message, provider=error.provider, status=error.status, retryable=error.retryable,
                         request_id=error.request_id, retry_after_s=error.retry_after_s,
                         retries=error.retries)
