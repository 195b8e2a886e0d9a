"""Vertex programs that cannot start say why in one line and exit 2 (a configuration error), as
docs/cli.md promises: no region, no project, or no google-auth to find the credentials.

The real `llmproc` command runs on each program, offline: every one of these errors happens
before any network use. Provider variables are removed from the command's environment, and it
runs in an empty folder, so no `.env` file gives them back.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmproc import LLMProgram
from llmproc.errors import ProgramConfigError, ProviderError
from llmproc.providers import gemini
from llmproc.providers.anthropic_messages import VertexAuthNotInstalled, create_vertex
from llmproc.providers.base import ProviderSettings
from llmproc.providers.registry import settings_for

LLMPROC = str(Path(sys.executable).parent / "llmproc")
PROVIDER_VARS = ("ANTHROPIC_", "OPENAI_", "GEMINI_", "GOOGLE_", "CLOUD_ML_")

# (id, provider, [model] lines, environment, dotted key, words of the message)
CASES = [
    ("claude-no-region", "anthropic_vertex", "", {"ANTHROPIC_VERTEX_PROJECT_ID": "p"}, "model.region",
     "set [model] region or the environment variable CLOUD_ML_REGION (e.g. us-east5)"),
    ("claude-no-project", "anthropic_vertex", 'region = "us-east5"\n', {}, "model.project_id",
     "set [model] project_id or the environment variable ANTHROPIC_VERTEX_PROJECT_ID"),
    ("claude-nothing", "anthropic_vertex", "", {}, "model.region", "no Google Cloud region for anthropic_vertex"),
    ("gemini-no-region", "gemini_vertex", 'project_id = "p"\n', {}, "model.region",
     "GOOGLE_CLOUD_LOCATION or CLOUD_ML_REGION (e.g. us-central1)"),
    ("gemini-no-project", "gemini_vertex", "", {"GOOGLE_CLOUD_LOCATION": "europe-west4"}, "model.project_id",
     "set [model] project_id or the environment variable GOOGLE_CLOUD_PROJECT"),
]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROVIDER_VARS)}
    return {**env, **extra}


def write_program(folder: Path, provider: str, model_lines: str) -> Path:
    program = folder / "vertex.toml"
    program.write_text(f'[model]\nname = "some-model"\nprovider = "{provider}"\n{model_lines}'
                       '[prompt]\nsystem_prompt = "Be brief."\n')
    return program


def run_llmproc(program: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LLMPROC, str(program), "-p", "hi"], cwd=program.parent, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("provider", "model_lines", "env", "key", "words"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_llmproc_exits_2_with_one_line(tmp_path: Path, provider: str, model_lines: str, env: dict[str, str],
                                       key: str, words: str) -> None:
    program = write_program(tmp_path, provider, model_lines)
    proc = run_llmproc(program, clean_env(**env))
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [proc.stderr.strip()], proc.stderr  # one line
    assert proc.stderr.startswith(f"error: {program}: {key}: "), proc.stderr
    assert words in proc.stderr


def test_missing_google_auth_prints_the_pip_command(tmp_path: Path) -> None:
    # google-auth is installed here (google-genai needs it): a package earlier on the path that
    # fails to import stands in for its absence.
    stub = tmp_path / "site" / "google" / "auth"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('raise ImportError("No module named \'google.auth\'")\n')
    program = write_program(tmp_path, "anthropic_vertex", 'project_id = "p"\nregion = "us-east5"\n')
    proc = run_llmproc(program, clean_env(PYTHONPATH=str(tmp_path / "site")))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == ("error: provider 'anthropic_vertex' needs google-auth to find your Google "
                                   'Cloud credentials: pip install "anthropic[vertex]"')


def test_the_program_is_fine_to_load_and_print_without_them(tmp_path: Path) -> None:
    # Region and project are checked when a process starts: printing the prompt needs neither.
    program = write_program(tmp_path, "anthropic_vertex", "")
    proc = subprocess.run([str(Path(LLMPROC).with_name("llmproc-prompt")), str(program)], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Be brief." in proc.stdout


@pytest.mark.parametrize("provider", ["anthropic_vertex", "gemini_vertex"])
def test_settings_for_names_the_key_in_process(tmp_path: Path, provider: str) -> None:
    program = LLMProgram.from_toml(write_program(tmp_path, provider, 'project_id = "p"\n'))
    with pytest.raises(ProgramConfigError) as info:
        settings_for(program)
    assert (info.value.path, info.value.key) == (str(program.path), "model.region")


@pytest.mark.parametrize(("provider", "variables"), [
    ("anthropic_vertex", {"ANTHROPIC_VERTEX_PROJECT_ID": "env-p", "CLOUD_ML_REGION": "us-east5"}),
    ("gemini_vertex", {"GOOGLE_CLOUD_PROJECT": "env-p", "GOOGLE_CLOUD_LOCATION": "us-central1"}),
    ("gemini_vertex", {"GOOGLE_CLOUD_PROJECT": "env-p", "CLOUD_ML_REGION": "us-central1"}),
])
def test_the_environment_is_enough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str,
                                   variables: dict[str, str]) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    program = LLMProgram.from_toml(write_program(tmp_path, provider, ""))
    assert settings_for(program).options == {}


async def test_gemini_vertex_client_uses_the_program_project_and_region() -> None:
    settings = ProviderSettings("gemini_vertex", options={"project_id": "my-proj", "region": "europe-west4",
                                                          "access_token": "ya29.fake"})
    provider = gemini.create_vertex(settings)
    try:
        api = provider._client._api_client
        assert (api.vertexai, api.project, api.location) == (True, "my-proj", "europe-west4")
    finally:
        await provider.aclose()


def test_direct_callers_still_get_a_provider_error() -> None:
    # Settings built by hand (no program) keep the adapters' own ProviderError.
    with pytest.raises(ProviderError, match="GOOGLE_CLOUD_PROJECT"):
        gemini.create_vertex(ProviderSettings("gemini_vertex", options={"region": "us-central1"}))


async def test_google_auth_is_only_needed_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.auth", None)  # import google.auth -> ImportError
    options = {"project_id": "p", "region": "us-east5"}
    with pytest.raises(VertexAuthNotInstalled, match=r'pip install "anthropic\[vertex\]"'):
        create_vertex(ProviderSettings("anthropic_vertex", options=options))
    provider = create_vertex(ProviderSettings("anthropic_vertex", options={**options, "access_token": "t"}))
    await provider.aclose()
