"""`llmproc log`: every run of `llmproc PROGRAM`, `llmproc -m` and `llmproc-demo` leaves a small
record in the store; --no-log and LLMPROC_NO_LOG=1 leave none; a log that cannot be written is
one warning, never a failed run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmproc.cli import runlog
from llmproc.store import open_store
from llmproc.testing import FakeLLMServer, HTTPError
from tests.core.cli.conftest import CALC, ECHO, Run

MODEL = ("-m", "echo", "--provider", "scripted")


def records(cli: Run, *args: str) -> list[dict[str, Any]]:
    listed = cli("llmproc", "log", "--json", *args)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def test_two_runs_are_listed_newest_first_and_shown_in_full(cli: Run) -> None:
    assert cli("llmproc", CALC, "-p", "What is 6 * 7?", "-q").returncode == 0
    assert cli("llmproc", *MODEL, "-s", "Repeat.", "-p", "Hello there", "-q").returncode == 0
    listed = cli("llmproc", "log")
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    header, newest, oldest = listed.stdout.splitlines()
    assert header.split() == ["ID", "WHEN", "PROGRAM", "EXIT", "TURNS", "TOKENS", "COST", "TIME", "PROMPT"]
    assert newest.startswith("2 ") and "-m echo --provider scripted" in newest and newest.endswith("Hello there")
    assert oldest.startswith("1 ") and "examples/scripted/calculator.toml" in oldest
    assert oldest.split()[4:8] == ["0", "2", "26", "$0.0000"]  # exit, turns, tokens, cost

    shown = cli("llmproc", "log", "1")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("run 1 · ") and lines[0].endswith(" · llmproc · exit 0 (ok)")
    assert lines[1:4] == ["program: examples/scripted/calculator.toml", "model: scripted-calculator (scripted)",
                          lines[3]] and lines[3].startswith("usage: 2 turns · 26 tokens · $0.0000 · ")
    assert lines[4:] == ["", "prompt:", "What is 6 * 7?", "", "answer:", "The answer is 42."]

    (latest,) = records(cli, "-n", "1")
    assert {k: latest[k] for k in ("id", "command", "program", "model", "provider", "prompt", "answer",
                                   "turns", "exit", "status", "error")} == {
        "id": 2, "command": "llmproc", "program": None, "model": "echo", "provider": "scripted",
        "prompt": "Hello there", "answer": "Hello there", "turns": 1, "exit": 0, "status": "ok", "error": None}
    assert latest["duration_s"] >= 0 and latest["time"] > 0 and latest["tokens"] > 0


def test_no_log_and_the_environment_variable_write_nothing(cli: Run, cli_env: dict[str, str]) -> None:
    assert cli("llmproc", ECHO, "-p", "secret", "--no-log", "-q").returncode == 0
    assert cli("llmproc", *MODEL, "-p", "secret", "-q", env={"LLMPROC_NO_LOG": "1"}).returncode == 0
    assert cli("llmproc-demo", ECHO, "-p", "secret", "--no-log").returncode == 0
    assert not Path(cli_env["LLMPROC_STATE_DIR"]).exists()  # the store was not even opened
    assert records(cli) == []
    empty = cli("llmproc", "log")
    assert (empty.returncode, empty.stdout) == (0, "")
    assert empty.stderr.startswith("no runs logged in ")
    assert cli("llmproc", *MODEL, "-p", "kept", "-q", env={"LLMPROC_NO_LOG": "0"}).returncode == 0
    assert [r["prompt"] for r in records(cli)] == ["kept"]


def test_demo_runs_are_logged_too(cli: Run) -> None:
    assert cli("llmproc-demo", ECHO, "-p", "from the demo").returncode == 0
    assert cli("llmproc-demo", ECHO, "-n", stdin="piped\n").returncode == 0
    assert [(r["command"], r["prompt"], r["answer"]) for r in records(cli)] == [
        ("llmproc-demo", "piped", "piped"), ("llmproc-demo", "from the demo", "from the demo")]


def test_a_failed_run_is_logged_with_its_exit_status(fake_llm: FakeLLMServer, cli: Run) -> None:
    fake_llm.add(HTTPError(400, "bad request: no such model"))
    env = {"ANTHROPIC_BASE_URL": fake_llm.anthropic_base_url, "ANTHROPIC_API_KEY": "test"}
    assert cli("llmproc", "-m", "claude-nope", "-p", "hi", "-q", env=env).returncode == 1
    (failed,) = records(cli)
    assert (failed["exit"], failed["status"], failed["answer"], failed["tokens"]) == (1, "failed", "", None)
    assert "no such model" in failed["error"]
    shown = cli("llmproc", "log", str(failed["id"])).stdout.splitlines()
    assert shown[0].endswith("exit 1 (failed)") and shown[3] .startswith("usage: - turns · - tokens · - · ")
    assert shown[4].startswith("failed: ") and "answer:" not in shown


def test_records_are_capped_and_say_how_long_the_text_was(cli: Run) -> None:
    long_prompt = "word " * 1000  # 5,000 characters; the echo answers the same
    assert cli("llmproc", *MODEL, "-q", stdin=long_prompt).returncode == 0
    (record,) = records(cli)
    assert (len(record["prompt"]), record["prompt_chars"]) == (runlog.PROMPT_CHARS, len(long_prompt.rstrip("\n")))
    assert (len(record["answer"]), record["answer_chars"]) == (runlog.ANSWER_CHARS, record["prompt_chars"])
    shown = cli("llmproc", "log", "1").stdout
    assert "[… 5,000 characters in all; the log keeps the first 200]" in shown
    assert "[… 5,000 characters in all; the log keeps the first 2,000]" in shown
    row = cli("llmproc", "log").stdout.splitlines()[1]
    assert row.endswith("…") and len(row) < 200  # one line, the prompt cut short


def test_a_log_that_cannot_be_written_is_one_warning_and_the_run_succeeds(cli: Run, tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    for args, env in (((*MODEL, "--store", "mysql://db.example/x"), {}),
                      (MODEL, {"LLMPROC_STORE": str(not_a_dir / "sub" / "llmproc.db")})):
        proc = cli("llmproc", *args, "-p", "still answered", env=env)
        assert (proc.returncode, proc.stdout) == (0, "still answered\n"), proc.stderr
        warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1 and warnings[0].startswith("warning: this run was not logged (")
        assert warnings[0].endswith("--no-log or LLMPROC_NO_LOG=1 turns the log off")


def test_store_names_where_runs_are_logged_and_read(cli: Run, tmp_path: Path) -> None:
    elsewhere = str(tmp_path / "team.db")
    assert cli("llmproc", *MODEL, "-p", "over there", "-q", "--store", elsewhere).returncode == 0
    assert records(cli) == []
    assert [r["prompt"] for r in records(cli, "--store", elsewhere)] == ["over there"]
    assert cli("llmproc", "log", "1", "--store", elsewhere).stdout.splitlines()[1] == \
        "program: -m echo --provider scripted"


@pytest.mark.parametrize("run_id", ["99", "abc"])
def test_an_unknown_run_is_one_error_line(cli: Run, run_id: str) -> None:
    proc = cli("llmproc", "log", run_id)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.splitlines() == [f"error: no run {run_id!r} in the log; list the runs with: llmproc log"]


def test_only_the_latest_runs_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmproc import LLMProgram

    monkeypatch.setattr(runlog, "KEEP", 3)
    monkeypatch.delenv("LLMPROC_NO_LOG", raising=False)  # the suite turns logging off (tests/conftest.py)
    location = str(tmp_path / "log.db")
    log = runlog.RunLog(location, enabled=True, command="test")
    program = LLMProgram.from_dict({"model": {"name": "echo", "provider": "scripted"}})
    ids = [log.write(runlog.Entry(program, f"run {i}", "test").record()) for i in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    store = open_store(location)
    try:
        assert [r["prompt"] for r in runlog.latest(store, 10)] == ["run 4", "run 3", "run 2"]
        assert sorted(store.list_records(runlog.KIND)) == ["3", "4", "5"]
    finally:
        store.close()
