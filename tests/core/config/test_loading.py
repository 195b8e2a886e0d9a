"""Loading programs: relative paths, the link graph (cycles included), .env files, from_dict."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmproc import LLMProgram

MODEL = '[model]\nname = "m"\nprovider = "scripted"\n'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_paths_resolve_relative_to_the_program_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "prog/prompts/sys.md", "You are Orbit.")
    write(tmp_path / "prog/data/notes.md", "notes")
    (tmp_path / "prog/work").mkdir()
    write(tmp_path / "prog/main.toml", MODEL + '[prompt]\nsystem_prompt_file = "prompts/sys.md"\n'
          '[preload]\nfiles = ["data/notes.md"]\n[tools]\nallowed_roots = ["work"]\n')
    monkeypatch.chdir(tmp_path)  # somewhere else than the program's folder
    program = LLMProgram.from_toml("prog/main.toml")
    assert program.system_prompt == "You are Orbit."
    assert program.preload_files == ((tmp_path / "prog/data/notes.md").resolve(),)
    assert program.allowed_roots == ((tmp_path / "prog/work").resolve(),)
    assert program.path == (tmp_path / "prog/main.toml").resolve()


def test_linked_programs_load_recursively_with_descriptions(tmp_path: Path) -> None:
    write(tmp_path / "leaf.toml", MODEL)
    write(tmp_path / "sub/mid.toml", MODEL + '[linked_programs]\nleaf = "../leaf.toml"\n')
    write(tmp_path / "main.toml", MODEL + '[linked_programs]\nmid = { path = "sub/mid.toml", description = "Mid" }\n'
          'leaf = "leaf.toml"\n')
    main = LLMProgram.from_toml(tmp_path / "main.toml")
    assert main.linked_programs["mid"].description == "Mid"
    mid = main.linked_programs["mid"].program
    # The same file is one program object wherever it is linked from.
    assert mid.linked_programs["leaf"].program is main.linked_programs["leaf"].program


def test_self_link_and_mutual_links_terminate(tmp_path: Path) -> None:
    write(tmp_path / "self.toml", MODEL + '[tools]\nenabled = ["spawn"]\n[linked_programs]\nme = "self.toml"\n')
    program = LLMProgram.from_toml(tmp_path / "self.toml")
    assert program.linked_programs["me"].program is program

    write(tmp_path / "a.toml", MODEL + '[linked_programs]\nb = "b.toml"\n')
    write(tmp_path / "b.toml", MODEL + '[linked_programs]\na = "a.toml"\n')
    a = LLMProgram.from_toml(tmp_path / "a.toml")
    b = a.linked_programs["b"].program
    assert b.linked_programs["a"].program is a
    assert "me" in program.enriched_system_prompt().text  # the spawn section lists the self link


def test_env_file_is_read_but_never_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / ".env", "LLMPROC_TEST_KEY=from-dotenv\nLLMPROC_TEST_SET=from-dotenv\n")
    write(tmp_path / "p.toml", MODEL)
    monkeypatch.delenv("LLMPROC_TEST_KEY", raising=False)
    monkeypatch.setenv("LLMPROC_TEST_SET", "from-shell")
    LLMProgram.from_toml(tmp_path / "p.toml")
    assert os.environ["LLMPROC_TEST_KEY"] == "from-dotenv"
    assert os.environ["LLMPROC_TEST_SET"] == "from-shell"
    monkeypatch.delenv("LLMPROC_TEST_KEY")


def test_from_dict_with_program_objects_and_paths(tmp_path: Path) -> None:
    write(tmp_path / "expert.toml", MODEL)
    helper = LLMProgram.from_dict({"model": {"name": "h", "provider": "scripted"}})
    program = LLMProgram.from_dict(
        {
            "model": {"name": "m", "provider": "scripted"},
            "tools": {"enabled": ["spawn"]},
            "linked_programs": {
                "expert": "expert.toml",
                "helper": {"program": helper, "description": "Helps"},
                "plain": helper,
            },
        },
        base_dir=tmp_path,
    )
    assert program.path is None
    assert program.linked_programs["helper"].program is helper
    assert program.linked_programs["helper"].description == "Helps"
    assert program.linked_programs["expert"].program.path == (tmp_path / "expert.toml").resolve()
    assert "- helper: Helps" in program.enriched_system_prompt().text


def test_source_hash_tracks_file_content(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", MODEL)
    first = LLMProgram.from_toml(path).source_hash
    assert LLMProgram.from_toml(path).source_hash == first
    write(path, MODEL + "[limits]\nmax_turns = 3\n")
    assert LLMProgram.from_toml(path).source_hash != first


def test_defaults_when_sections_are_absent(tmp_path: Path) -> None:
    program = LLMProgram.from_toml(write(tmp_path / "p.toml", MODEL))
    cfg = program.config
    assert cfg.file_descriptor.enabled is False
    assert cfg.file_descriptor.max_direct_output_chars == 8000
    assert cfg.file_descriptor.default_page_size == 4000
    assert cfg.limits.max_turns == 50 and cfg.limits.max_cost_usd is None
    assert program.allowed_roots == ()  # means: the working directory
    assert program.display_name == "m"


def test_program_is_immutable(tmp_path: Path) -> None:
    program = LLMProgram.from_toml(write(tmp_path / "p.toml", MODEL))
    with pytest.raises(Exception):
        program.config.model.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        program.linked_programs["x"] = None  # type: ignore[index]
