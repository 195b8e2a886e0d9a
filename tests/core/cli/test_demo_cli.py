"""`llmproc-demo` and `llmproc` as a user runs them, offline with scripted programs."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from llmproc.testing import Reply

ROOT = Path(__file__).resolve().parents[3]
ECHO = ROOT / "examples" / "scripted" / "echo.toml"
CALC = ROOT / "examples" / "scripted" / "calculator.toml"


def script(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"console script {name} is not installed"
    return found


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=60, env=env)


def test_single_prompt_prints_only_the_answer_on_stdout() -> None:
    proc = run(script("llmproc-demo"), str(CALC), "-p", "six times seven")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "The answer is 42.\n"
    assert '→ calculator({"expression": "6 * 7"})' in proc.stderr
    assert "← 42" in proc.stderr
    assert "[2 turns · " in proc.stderr and "$0.0000]" in proc.stderr


def test_stdin_mode_reads_the_prompt_from_a_pipe() -> None:
    proc = run(script("llmproc-demo"), str(ECHO), "-n", stdin="questions from a file\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "questions from a file\n"


def test_llmproc_json_output_for_scripts() -> None:
    proc = run(script("llmproc"), str(CALC), "-p", "go", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["answer"] == "The answer is 42."
    assert data["turns"] == 2 and data["stop_reason"] == "end"
    assert data["tool_calls"][0]["name"] == "calculator" and data["tool_calls"][0]["content"] == "42"
    assert set(data["usage"]) == {"input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens",
                                  "reasoning_tokens"}
    assert data["provider"] == "scripted" and data["cost_usd"] == 0.0


def test_llmproc_reads_stdin_and_quiet_keeps_stderr_empty() -> None:
    proc = run(script("llmproc"), str(ECHO), "-q", stdin="piped\n")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "piped\n", "")


@pytest.mark.parametrize(("program", "variable"), [
    ("anthropic/claude-sonnet.toml", "ANTHROPIC_API_KEY"),
    ("openai/gpt-4o-mini.toml", "OPENAI_API_KEY"),
])
def test_missing_api_key_is_one_line_and_exit_2(program: str, variable: str) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "OPENAI_"))}
    for cmd in (script("llmproc-demo"), script("llmproc")):
        proc = run(cmd, str(ROOT / "examples" / program), "-p", "hi", env=env)
        assert proc.returncode == 2
        assert proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and variable in lines[0] and lines[0].startswith("error: ")


def test_bad_options_exit_2() -> None:
    proc = run(script("llmproc-demo"), str(ECHO), "-p", "x", "-n", stdin="y")
    assert proc.returncode == 2 and "not both" in proc.stderr
    proc = run(script("llmproc-demo"), str(ECHO), "-n", stdin="")
    assert proc.returncode == 2 and "stdin was empty" in proc.stderr


class Terminal:
    """A program on a pseudo-terminal: type lines, wait for text, send Ctrl-C."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None):
        self.fd, secondary = pty.openpty()

        def controlling_terminal() -> None:  # so that Ctrl-C on the pty becomes SIGINT
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(args, stdin=secondary, stdout=secondary, stderr=secondary,
                                     preexec_fn=controlling_terminal, env=env)
        os.close(secondary)
        self.output = ""

    def read_until(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"did not see {text!r}; screen so far:\n{self.output}")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                try:
                    self.output += os.read(self.fd, 4096).decode(errors="replace")
                except OSError:
                    break
        return self.output

    def type(self, line: str) -> None:
        os.write(self.fd, (line + "\r").encode())

    def interrupt(self) -> None:
        os.write(self.fd, b"\x03")  # the terminal turns this into SIGINT for the foreground process

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=20)
        finally:
            os.close(self.fd)


def test_interactive_session_streams_and_exits() -> None:
    term = Terminal([script("llmproc-demo"), str(ECHO)])
    term.read_until("type 'exit' or 'quit'")
    term.read_until("> ")
    term.type("hello terminal")
    term.read_until("[1 turn · ")
    assert term.output.count("hello terminal") >= 2  # the typed line and the streamed answer
    term.type("quit")
    assert term.close() == 0


def test_ctrl_c_cancels_the_turn_and_keeps_the_session(tmp_path: Path, fake_llm) -> None:
    """A slow model reply, Ctrl-C while it is pending: the turn ends, the session goes on."""
    program = tmp_path / "claude.toml"
    program.write_text(f'[model]\nname = "claude-sonnet-5-5"\nprovider = "anthropic"\n'
                       f'base_url = "{fake_llm.anthropic_base_url}"\n')
    fake_llm.add(Reply(text="never shown", delay=30), Reply(text="second answer"))
    env = {**os.environ, "ANTHROPIC_API_KEY": "test-key"}
    term = Terminal([script("llmproc-demo"), str(program)], env=env)
    term.read_until("> ")
    term.type("first")
    deadline = time.monotonic() + 20
    while not fake_llm.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_llm.requests, "the demo never called the model"
    term.interrupt()
    term.read_until("[turn cancelled; the conversation continues]")
    term.type("again")
    term.read_until("second answer")
    term.read_until("[1 turn · ")
    term.type("exit")
    assert term.close() == 0, term.output
    assert "Traceback" not in term.output and "never shown" not in term.output
    # The second request carries the first prompt, then the second: the session kept its history.
    messages = fake_llm.requests[-1].body["messages"]
    texts = [b["text"] for m in messages for b in (m["content"] if isinstance(m["content"], list)
                                                   else [{"text": m["content"]}]) if "text" in b]
    assert texts[0] == "first" and texts[-1] == "again"
