"""The enriched system prompt: env info, preloaded files, feature instructions."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from llmproc import LLMProgram

MODEL = {"name": "m", "provider": "scripted"}


def program(tmp_path: Path, **sections) -> LLMProgram:
    return LLMProgram.from_dict({"model": MODEL, **sections}, base_dir=tmp_path)


def test_env_info_lists_chosen_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMPROC_REGION", "eu-west")
    text = program(tmp_path, prompt={"system_prompt": "Base."},
                   env_info={"variables": ["working_directory", "date"], "env_vars": {"region": "LLMPROC_REGION",
                                                                                      "unset": "LLMPROC_NOPE"}},
                   ).enriched_system_prompt().text
    assert text.startswith("Base.\n\n<env>\n")
    assert f"working_directory: {os.getcwd()}" in text
    assert f"date: {datetime.date.today().isoformat()}" in text
    assert "region: eu-west" in text
    assert "unset" not in text and "platform" not in text


def test_env_all_and_no_env(tmp_path: Path) -> None:
    prog = program(tmp_path, env_info={"variables": "all"})
    text = prog.enriched_system_prompt().text
    for name in ["working_directory", "platform", "date", "python_version", "hostname", "username"]:
        assert f"\n{name}: " in text
    assert "<env>" not in prog.enriched_system_prompt(include_env=False).text


def test_preload_files_are_delimited_and_missing_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("Alpha content\n")
    enriched = program(tmp_path, prompt={"system_prompt": "S"},
                       preload={"files": ["a.md", "missing.md"]}).enriched_system_prompt()
    assert '<preload>\n<file path="a.md">\nAlpha content\n</file>\n</preload>' in enriched.text
    assert len(enriched.warnings) == 1 and "missing.md" in enriched.warnings[0]
    assert "missing.md" not in enriched.text


def test_linked_programs_section_only_with_spawn(tmp_path: Path) -> None:
    (tmp_path / "e.toml").write_text('[model]\nname = "e"\nprovider = "scripted"\n')
    links = {"expert": {"path": "e.toml", "description": "Knows things"}}
    with_spawn = program(tmp_path, tools={"enabled": ["spawn"]}, linked_programs=links).enriched_system_prompt().text
    assert "<linked_programs>" in with_spawn and "- expert: Knows things" in with_spawn
    without = program(tmp_path, linked_programs=links).enriched_system_prompt().text
    assert "<linked_programs>" not in without


def test_file_descriptor_instructions(tmp_path: Path) -> None:
    text = program(tmp_path, tools={"enabled": ["read_fd", "fd_to_file"]},
                   file_descriptor={"enabled": True, "max_direct_output_chars": 500, "default_page_size": 200,
                                    "page_user_input": True, "enable_references": True}).enriched_system_prompt().text
    assert "longer than 500 characters" in text and "at most 200 characters" in text
    assert "fd_to_file" in text and "User messages longer than" in text and '<ref id="name">' in text
    assert "<file_descriptors>" not in program(tmp_path).enriched_system_prompt().text


def test_prompt_is_stable_between_builds(tmp_path: Path) -> None:
    prog = program(tmp_path, prompt={"system_prompt": "S"}, env_info={"variables": ["working_directory"]})
    assert prog.enriched_system_prompt().text == prog.enriched_system_prompt().text
