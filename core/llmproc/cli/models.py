"""A model without a program file: which provider serves a model name (`llmproc -m MODEL`,
`llmproc init --model MODEL`), and the program built in memory for `-m`.

The provider names are the program files' (config/schema.py). Inference only covers the names
the first-party APIs give their models; anything else (a Vertex model, an OpenAI-compatible
server's llama3.2) needs --provider, so a guess never sends a prompt to the wrong API.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from llmproc.cli.common import InputError

if TYPE_CHECKING:
    from llmproc.program import LLMProgram

_INFERRED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^claude-"), "anthropic"),
    (re.compile(r"^(gpt-|chatgpt-|o[134]($|-))"), "openai"),
    (re.compile(r"^gemini-"), "gemini"),
)

# What `llmproc init --provider P` writes when no --model is given: the models the examples use.
# A provider added to the schema but not here makes init ask for --model (default_model).
DEFAULT_MODELS = {
    "anthropic": "claude-sonnet-5-5",
    "anthropic_vertex": "claude-sonnet-5-5",
    "openai": "gpt-4o-mini",
    "openai_chat": "gpt-4o-mini",
    "gemini": "gemini-3-flash",
    "gemini_vertex": "gemini-3-flash",
    "scripted": "echo",
}

# What a provider needs from the environment, for the hint `llmproc init` prints.
_CREDENTIALS = {
    "anthropic": "ANTHROPIC_API_KEY",
    "anthropic_vertex": "ANTHROPIC_VERTEX_PROJECT_ID and CLOUD_ML_REGION (and Google Cloud credentials)",
    "openai": "OPENAI_API_KEY",
    "openai_chat": "OPENAI_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "gemini_vertex": "GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION (and Google Cloud credentials)",
}


def credentials(provider: str) -> str | None:
    """The variables `provider` reads its credentials from; None for the offline `scripted`."""
    if provider == "scripted":
        return None
    return _CREDENTIALS.get(provider, f"the credentials {provider} expects")


def default_model(provider: str) -> str:
    if provider not in DEFAULT_MODELS:
        raise InputError(f"give --model NAME: there is no default model for provider {provider!r}")
    return DEFAULT_MODELS[provider]


def providers() -> tuple[str, ...]:
    from llmproc.config.schema import PROVIDERS  # pydantic: imported when a model is named

    return PROVIDERS


def infer_provider(model: str) -> str | None:
    name = model.strip().lower()
    return next((provider for pattern, provider in _INFERRED if pattern.match(name)), None)


def resolve_provider(model: str, provider: str | None) -> str:
    """`provider` if given (and known), else the one `model`'s name implies; InputError (one
    `error:` line, exit 2) naming the providers when neither works."""
    known = providers()
    if provider is not None:
        if provider not in known:
            raise InputError(f"--provider {provider!r} is not a provider: use one of {', '.join(known)}")
        return provider
    inferred = infer_provider(model)
    if inferred is None:
        raise InputError(f"cannot tell the provider of model {model!r} from its name: add --provider NAME "
                         f"({', '.join(known)})")
    return inferred


def check_model(model: str) -> str:
    if not model.strip():
        raise InputError("-m/--model needs a model name, e.g. -m claude-haiku-5-5")
    return model.strip()


def program_for_model(model: str, provider: str | None, system: str | None) -> LLMProgram:
    """The program `llmproc -m MODEL [-s SYSTEM]` runs: the model, the system prompt, no tools.
    Keys come from the environment or a .env file in the working directory, as for a program
    file there."""
    from dotenv import load_dotenv

    from llmproc.program import LLMProgram

    model = check_model(model)
    data: dict[str, dict[str, object]] = {"model": {"name": model, "provider": resolve_provider(model, provider)}}
    if system:
        data["prompt"] = {"system_prompt": system}
    env_file = Path.cwd() / ".env"
    if env_file.is_file():
        load_dotenv(env_file, override=False)  # existing variables win, as with program files
    return LLMProgram.from_dict(data)
