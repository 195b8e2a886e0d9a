"""A program that links itself, with no [limits], stops at the default tree caps: at most
max_processes_per_tree processes and max_model_calls_per_run model calls, with one clear line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmproc import LLMProgram
from llmproc.config.schema import LimitsSection
from llmproc.errors import BudgetExceeded
from llmproc.process.syscalls import tree_size

SPAWN = '{ name = "spawn", arguments = { program_name = "me", prompt = "go" } }'


def self_linking(path: Path, replies: list[str], limits: str = "") -> Path:
    """A scripted program that spawns itself (one provider, so the replies are shared in order)."""
    path.write_text('[model]\nname = "s"\nprovider = "scripted"\nreplies = [\n' + ",\n".join(replies) + "\n]\n"
                    '[tools]\nenabled = ["spawn"]\n[linked_programs]\nme = "' + path.name + '"\n' + limits)
    return path


def fan_out(n: int) -> str:
    return "{ tool_calls = [" + ", ".join([SPAWN] * n) + "] }"


def test_the_defaults_are_documented_caps() -> None:
    limits = LimitsSection()
    assert (limits.max_processes_per_tree, limits.max_model_calls_per_run) == (100, 500)


async def test_self_linking_program_without_limits_stops_at_the_caps(tmp_path: Path) -> None:
    program = LLMProgram.from_toml(self_linking(tmp_path / "self.toml", [fan_out(10)] * 3000))
    process = await program.start()
    with pytest.raises(BudgetExceeded) as info:
        await process.run("go")
    assert info.value.limit == "max_model_calls_per_run" and info.value.value == 500
    assert tree_size(process) <= 100
    await process.aclose()


def test_self_linking_program_stops_with_one_error_line_in_the_cli(tmp_path: Path) -> None:
    program = self_linking(tmp_path / "self.toml", [fan_out(10)] * 3000)
    found = shutil.which("llmproc", path=str(Path(sys.executable).parent)) or shutil.which("llmproc")
    assert found
    proc = subprocess.run([found, str(program), "-p", "go"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LLMPROC_STATE_DIR": str(tmp_path / "state")})
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: max_model_calls_per_run=500 reached: the process tree made 500 model calls "
                      "in this run (raise it in [limits])"]


async def test_max_processes_per_tree_refuses_spawns_past_it(tmp_path: Path) -> None:
    replies = [fan_out(6)] + ['"done"'] * 10
    program = LLMProgram.from_toml(self_linking(tmp_path / "self.toml", replies,
                                                "[limits]\nmax_processes_per_tree = 4\n"))
    process = await program.start()
    result = await process.run("go")
    assert result.answer == "done"
    assert tree_size(process) == 4
    refused = [r for m in process.history for r in m.tool_results if r.is_error]
    assert len(refused) == 3
    assert all("max_processes_per_tree=4 reached" in r.content for r in refused)
    await process.aclose()


async def test_max_model_calls_per_run_can_be_raised_and_counts_each_run_afresh(tmp_path: Path) -> None:
    replies = [fan_out(2), '"a"', '"b"', '"done"', fan_out(2), '"a"', '"b"', '"done"']
    program = LLMProgram.from_toml(self_linking(tmp_path / "self.toml", replies,
                                                "[limits]\nmax_model_calls_per_run = 4\n"))
    process = await program.start()
    assert (await process.run("go")).answer == "done"  # 4 calls: the cap is not passed
    assert (await process.run("again")).answer == "done"  # a new top-level run counts from zero
    await process.aclose()


async def test_max_model_calls_per_run_stops_a_run_past_it(tmp_path: Path) -> None:
    replies = [fan_out(2), '"a"', '"b"', fan_out(1), '"c"', '"done"']
    program = LLMProgram.from_toml(self_linking(tmp_path / "self.toml", replies,
                                                "[limits]\nmax_model_calls_per_run = 3\n"))
    process = await program.start()
    with pytest.raises(BudgetExceeded, match="max_model_calls_per_run=3 reached"):
        await process.run("go")
    await process.aclose()
