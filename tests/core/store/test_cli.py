"""`llmproc-demo --save/--resume`, `llmproc ps` and `llmproc rm` as a user runs them: the real
console scripts, offline scripted programs, a temporary LLMPROC_STATE_DIR."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from llmproc.store import open_store

ROOT = Path(__file__).resolve().parents[3]
ECHO = ROOT / "examples" / "scripted" / "echo.toml"
CALC = ROOT / "examples" / "scripted" / "calculator.toml"


def script(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"console script {name} is not installed"
    return found


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "LLMPROC_STATE_DIR": str(tmp_path / "state")}


def run(env: dict[str, str], name: str, *args: str, stdin: str | None = None,
        cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script(name), *map(str, args)], input=stdin, capture_output=True, text=True,
                          timeout=60, env=env, cwd=cwd)


def texts(env: dict[str, str], name: str) -> list[str]:
    with open_store(env["LLMPROC_STATE_DIR"]) as store:
        state = store.load(name)
    return ["".join(p.get("text", "") for p in m["parts"]) for m in state["history"]]


def test_save_then_resume_continues_the_conversation(env: dict[str, str]) -> None:
    first = run(env, "llmproc-demo", ECHO, "--save", "notes", "-p", "the key is under the mat")
    assert (first.returncode, first.stdout) == (0, "the key is under the mat\n"), first.stderr
    assert "[saved as notes; continue with: llmproc-demo --resume notes]" in first.stderr
    second = run(env, "llmproc-demo", "--resume", "notes", "-p", "where is the key?")  # PROGRAM from the save
    assert (second.returncode, second.stdout) == (0, "where is the key?\n"), second.stderr
    assert texts(env, "notes") == ["the key is under the mat"] * 2 + ["where is the key?"] * 2
    third = run(env, "llmproc-demo", ECHO, "--resume", "notes", "--save", "branch", "-p", "a branch")
    assert third.returncode == 0, third.stderr
    assert len(texts(env, "branch")) == 6 and len(texts(env, "notes")) == 4  # the original is kept


def test_ps_lists_and_rm_removes(env: dict[str, str]) -> None:
    empty = run(env, "llmproc", "ps")
    assert empty.returncode == 0 and empty.stdout == "" and "no saved processes in" in empty.stderr
    assert run(env, "llmproc-demo", CALC, "--save", "calc", "-p", "6*7").returncode == 0
    assert run(env, "llmproc-demo", ECHO, "--save", "echo", "-p", "hello there").returncode == 0
    table = run(env, "llmproc", "ps")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["NAME", "PROGRAM", "TURNS", "TOKENS", "COST", "UPDATED"]
    assert [r.split()[:3] for r in rows] == [["echo", "examples/scripted/echo.toml", "1"],
                                             ["calc", "examples/scripted/calculator.toml", "2"]]
    assert all("$0.0000" in r for r in rows)
    listed = json.loads(run(env, "llmproc", "ps", "--json").stdout)
    assert [(p["name"], p["turns"], p["messages"], p["status"]) for p in listed] == [
        ("echo", 1, 2, "idle"), ("calc", 2, 4, "idle")]
    assert listed[0]["tokens"] > 0 and listed[0]["program"] == str(ECHO)
    removed = run(env, "llmproc", "rm", "calc", "echo")
    assert removed.returncode == 0 and "removed calc" in removed.stderr
    assert json.loads(run(env, "llmproc", "ps", "--json").stdout) == []
    missing = run(env, "llmproc", "rm", "calc")
    assert missing.returncode == 2 and missing.stderr.startswith("error: no saved process named 'calc'")


def test_errors_say_what_to_do(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "llmproc-demo", ECHO, "--save", "notes", "-p", "hi").returncode == 0
    taken = run(env, "llmproc-demo", ECHO, "--save", "notes", "-p", "again")
    assert taken.returncode == 2 and "--resume notes" in taken.stderr and "llmproc rm notes" in taken.stderr
    unknown = run(env, "llmproc-demo", "--resume", "nothing", "-p", "x")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().startswith("error: no saved process named 'nothing'") and "notes" in unknown.stderr
    bare = run(env, "llmproc-demo")
    assert bare.returncode == 2 and "--resume NAME" in bare.stderr
    other = run(env, "llmproc-demo", CALC, "--resume", "notes", "-p", "x")
    assert other.returncode == 2 and other.stdout == ""
    assert "calculator.toml is not the one the process was saved with" in other.stderr and "--force" in other.stderr


def test_a_changed_program_file_needs_force(env: dict[str, str], tmp_path: Path) -> None:
    program = tmp_path / "mine.toml"
    program.write_text(ECHO.read_text())
    assert run(env, "llmproc-demo", program, "--save", "mine", "-p", "before", cwd=tmp_path).returncode == 0
    program.write_text(ECHO.read_text().replace("You repeat what you are told.", "You repeat, loudly."))
    refused = run(env, "llmproc-demo", "--resume", "mine", "-p", "after", cwd=tmp_path)
    assert refused.returncode == 2
    assert f"program file {program} changed since the process was saved" in refused.stderr
    assert "--force" in refused.stderr and refused.stderr.count("\n") == 1  # one line, no traceback
    forced = run(env, "llmproc-demo", "--resume", "mine", "--force", "-p", "after", cwd=tmp_path)
    assert (forced.returncode, forced.stdout) == (0, "after\n"), forced.stderr
    assert texts(env, "mine") == ["before", "before", "after", "after"]


def test_interactive_session_is_saved_after_each_turn(env: dict[str, str]) -> None:
    """Kill the session after its first turn: the turn was already saved."""
    proc = subprocess.Popen([script("llmproc-demo"), str(ECHO), "--save", "live"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, bufsize=0)
    chunks: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1):
            chunks.put(chunk)

    threading.Thread(target=pump, daemon=True).start()

    def wait_for(text: str, seen: str = "") -> str:
        while text not in seen:
            seen += chunks.get(timeout=30)
        return seen

    assert proc.stdin is not None
    try:
        wait_for("> ")
        proc.stdin.write("remember the milk\n")
        proc.stdin.flush()
        wait_for("> ", wait_for("remember the milk"))  # the next prompt comes after the save
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert texts(env, "live") == ["remember the milk", "remember the milk"]
