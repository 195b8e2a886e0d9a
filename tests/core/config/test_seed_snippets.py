"""Every TOML snippet of the seed README loads, verbatim, inside a complete program, and means
what the seed says it means."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from llmproc import LLMProgram

TESTS = Path(__file__).resolve().parents[2]
SEED = TESTS / "data" / "seed-llmproc-readme.md"
SHARED_SEED = TESTS.parent.parent / "shared" / "spec" / "seed-llmproc-readme.md"


def toml_snippets() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", SEED.read_text(), flags=re.DOTALL)


def complete(snippet: str, folder: Path) -> Path:
    """Put a snippet into a runnable program: add a model if it has none, create linked files."""
    data = tomllib.loads(snippet)
    text = snippet if "model" in data else '[model]\nname = "m"\nprovider = "scripted"\n\n' + snippet
    for entry in data.get("linked_programs", {}).values():
        target = folder / (entry if isinstance(entry, str) else entry["path"])
        target.write_text('[model]\nname = "expert"\nprovider = "scripted"\n')
    program = folder / "main.toml"
    program.write_text(text)
    return program


def test_vendored_seed_matches_shared_copy() -> None:
    if not SHARED_SEED.exists():
        pytest.skip(f"shared/ is not beside this checkout ({SHARED_SEED})")
    assert SEED.read_text() == SHARED_SEED.read_text()


def test_seed_has_the_snippets_we_expect() -> None:
    assert len(toml_snippets()) == 2


@pytest.mark.parametrize("index", range(len(toml_snippets())))
def test_seed_snippet_loads(tmp_path: Path, index: int) -> None:
    snippet = toml_snippets()[index]
    program = LLMProgram.from_toml(complete(snippet, tmp_path))
    data = tomllib.loads(snippet)
    if "linked_programs" in data:
        # The descriptions reach the model through the spawn instructions.
        assert set(program.linked_programs) == {"expert", "math_expert", "code_expert"}
        math = program.linked_programs["math_expert"]
        assert math.description == "Expert specialized in mathematics and statistics"
        prompt = program.enriched_system_prompt().text
        assert "- math_expert: Expert specialized in mathematics and statistics" in prompt
        assert "- code_expert: Expert specialized in software development" in prompt
        assert program.config.tools.enabled == ["spawn"]
    if "file_descriptor" in data:
        fd = program.config.file_descriptor
        assert (fd.enabled, fd.max_direct_output_chars, fd.default_page_size) == (True, 8000, 4000)
        assert "longer than 8000 characters" in program.enriched_system_prompt().text
