"""`llmproc -m MODEL [-s SYSTEM] [--provider NAME]`: a model without a program file, run as a
program file would be (same output, -q, --json, exit codes), offline against the fake server."""

from __future__ import annotations

import json

import pytest

from llmproc.cli.models import infer_provider
from llmproc.config.schema import PROVIDERS
from llmproc.testing import FakeLLMServer, HTTPError, Reply
from tests.core.cli.conftest import ECHO, Run

# The SDKs' own variables point them at the fake server: -m has no base_url of its own.
BASE_URL_ENV = {"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL", "openai_chat": "OPENAI_BASE_URL",
                "gemini": "GOOGLE_GEMINI_BASE_URL"}
KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY", "openai_chat": "OPENAI_API_KEY",
           "gemini": "GEMINI_API_KEY"}


def fake_env(fake: FakeLLMServer, provider: str) -> dict[str, str]:
    url = {"anthropic": fake.anthropic_base_url, "gemini": fake.gemini_base_url}.get(provider, fake.openai_base_url)
    return {BASE_URL_ENV[provider]: url, KEY_ENV[provider]: "test-key"}


@pytest.mark.parametrize(("model", "provider"), [
    ("claude-haiku-5-5", "anthropic"), ("gpt-4o-mini", "openai"), ("o3-mini", "openai"), ("o1", "openai"),
    ("gemini-3-flash", "gemini"),
])
def test_the_provider_is_inferred_from_the_model_name(fake_llm: FakeLLMServer, cli: Run, model: str,
                                                      provider: str) -> None:
    fake_llm.add(Reply(text=f"hello from {model}"))
    proc = cli("llmproc", "-m", model, "-p", "hi", "--json", "-q", env=fake_env(fake_llm, provider))
    assert proc.returncode == 0, proc.stderr  # stderr: maybe an SDK's notice about ANTHROPIC_CONFIG_DIR
    out = json.loads(proc.stdout)
    assert (out["program"], out["model"], out["provider"], out["answer"]) == (None, model, provider,
                                                                               f"hello from {model}")
    (request,) = fake_llm.requests
    assert request.model == model


def test_an_explicit_provider_and_a_system_prompt(fake_llm: FakeLLMServer, cli: Run) -> None:
    fake_llm.add(Reply(text="local answer"))
    proc = cli("llmproc", "-m", "llama3.2", "--provider", "openai_chat", "-s", "Be terse.", "-p", "hi",
               env=fake_env(fake_llm, "openai_chat"))
    assert (proc.returncode, proc.stdout) == (0, "local answer\n"), proc.stderr
    (request,) = fake_llm.requests
    assert request.endpoint == "openai_chat" and request.model == "llama3.2"
    assert request.body["messages"][0] == {"role": "system", "content": "Be terse."}


def test_a_model_runs_like_a_program_file(cli: Run) -> None:
    """Same stdout, same usage line on stderr, -q silences it, stdin works, as with a program."""
    by_file = cli("llmproc", ECHO, "-p", "same words")
    by_model = cli("llmproc", "-m", "echo", "--provider", "scripted", "-p", "same words")
    assert by_file.returncode == by_model.returncode == 0
    assert by_file.stdout == by_model.stdout == "same words\n"
    assert by_model.stderr.startswith("[1 turn · ") and by_model.stderr.endswith("$0.0000]\n")
    quiet = cli("llmproc", "-m", "echo", "--provider", "scripted", "-q", stdin="from stdin\n")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "from stdin\n", "")


def test_a_failed_model_call_exits_1_as_a_program_would(fake_llm: FakeLLMServer, cli: Run) -> None:
    fake_llm.add(HTTPError(400, "bad request: no such model"))
    proc = cli("llmproc", "-m", "claude-nope", "-p", "hi", "-q", env=fake_env(fake_llm, "anthropic"))
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert "HTTP 400" in line and "no such model" in line


def test_a_missing_key_names_the_variable(cli: Run) -> None:
    proc = cli("llmproc", "-m", "gpt-4o-mini", "-p", "hi")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: [openai] no API key: set the environment variable OPENAI_API_KEY (or put it in a .env file)"]


@pytest.mark.parametrize(("args", "message"), [
    (["-m", "llama3.2", "-p", "hi"],
     "error: cannot tell the provider of model 'llama3.2' from its name: add --provider NAME "
     f"({', '.join(PROVIDERS)})"),
    (["-m", "x", "--provider", "bogus", "-p", "hi"],
     f"error: --provider 'bogus' is not a provider: use one of {', '.join(PROVIDERS)}"),
    ([str(ECHO), "-m", "gpt-4o-mini", "-p", "hi"],
     f"error: give PROGRAM_PATH or -m MODEL, not both ({str(ECHO)!r} and -m gpt-4o-mini)"),
    ([str(ECHO), "-s", "Be terse.", "-p", "hi"],
     "error: -s/--system goes with -m MODEL; a program file sets them itself"),
    ([str(ECHO), "-s", "x", "--provider", "openai", "-p", "hi"],
     "error: -s/--system and --provider go with -m MODEL; a program file sets them itself"),
    (["-m", " ", "-p", "hi"], "error: -m/--model needs a model name, e.g. -m claude-haiku-5-5"),
])
def test_mix_ups_are_one_error_line_and_exit_2(cli: Run, args: list[str], message: str) -> None:
    proc = cli("llmproc", *args)
    assert (proc.returncode, proc.stdout, proc.stderr.splitlines()) == (2, "", [message])


def test_neither_program_nor_model_shows_the_usage(cli: Run) -> None:
    proc = cli("llmproc", "-p", "hi")
    assert proc.returncode == 2
    assert proc.stderr.startswith("Usage: llmproc [OPTIONS] PROGRAM_PATH | -m MODEL")
    assert "give PROGRAM_PATH (a program file) or -m MODEL" in proc.stderr


def test_inference_covers_first_party_names_only() -> None:
    assert {m: infer_provider(m) for m in ("claude-opus-5", "gpt-5", "chatgpt-4o-latest", "o4-mini", "o3",
                                           "gemini-2.5-pro", "llama3.2", "omni", "o2", "mistral-large")} == {
        "claude-opus-5": "anthropic", "gpt-5": "openai", "chatgpt-4o-latest": "openai", "o4-mini": "openai",
        "o3": "openai", "gemini-2.5-pro": "gemini", "llama3.2": None, "omni": None, "o2": None,
        "mistral-large": None}


def test_a_dotenv_in_the_working_directory_supplies_the_key(fake_llm: FakeLLMServer, cli: Run, tmp_path) -> None:
    (tmp_path / ".env").write_text("ANTHROPIC_API_KEY=from-dotenv\n")
    fake_llm.add(Reply(text="keyed"))
    proc = cli("llmproc", "-m", "claude-haiku-5-5", "-p", "hi", "-q", cwd=tmp_path,
               env={"ANTHROPIC_BASE_URL": fake_llm.anthropic_base_url})
    assert (proc.returncode, proc.stdout) == (0, "keyed\n"), proc.stderr
    headers = fake_llm.requests[0].headers
    assert "from-dotenv" in headers.get("x-api-key", headers.get("authorization", ""))
