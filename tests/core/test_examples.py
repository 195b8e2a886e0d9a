"""Every example program loads and builds its system prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmproc import LLMProgram

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# examples/claude-code is a link to the top-level claude-code/ folder (the seed's paths work).
PROGRAMS = sorted({*EXAMPLES.rglob("*.toml"), *(EXAMPLES / "claude-code").glob("*.toml")})


def test_examples_exist() -> None:
    names = {p.relative_to(EXAMPLES).as_posix() for p in PROGRAMS}
    for required in ["reference.toml", "features/preload.toml", "features/env-info.toml",
                     "features/prompt-caching.toml", "features/mcp.toml", "features/fork.toml",
                     "features/program-linking/main.toml", "features/file-descriptor/main.toml",
                     "openai/gpt-4o-mini.toml", "anthropic/claude-3-5-sonnet.toml", "openai/gpt-4o.toml"]:
        assert required in names
    assert any(n.startswith("vertex/") for n in names)
    assert {"claude-code/claude-code.toml", "claude-code/dispatch-agent.toml"} <= names


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.relative_to(EXAMPLES).as_posix() for p in PROGRAMS])
def test_example_loads(path: Path) -> None:
    program = LLMProgram.from_toml(path)
    enriched = program.enriched_system_prompt()
    assert enriched.warnings == ()
    assert program.system_prompt.strip() in enriched.text


def test_reference_uses_every_section() -> None:
    program = LLMProgram.from_toml(EXAMPLES / "reference.toml")
    written = program.config.model_dump(exclude_unset=True)
    from llmproc.config.schema import ProgramConfig

    assert set(written) == set(ProgramConfig.model_fields)
