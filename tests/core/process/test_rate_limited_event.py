"""Waiting for the account's rate limit is visible: a `RateLimited` event (not a retry), one CLI
line where retries are printed (none with -q), and the MCP entry's activity text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from llmproc import LLMProgram
from llmproc.process.events import Event, ModelRetry, RateLimited
from llmproc.testing import FakeLLMServer, RateLimits, Reply, ToolUse


def two_turns(fake: FakeLLMServer) -> None:
    # The first answer asks for a tool, so a second model call follows at once: past the budget.
    fake.add(Reply(tool_calls=[ToolUse("no_such_tool", {})]), Reply(text="done"))


def program_file(fake: FakeLLMServer, path: Path) -> Path:
    path.write_text(f'[model]\nname = "claude-haiku-4-5"\nprovider = "anthropic"\n'
                    f'base_url = "{fake.anthropic_base_url}"\n')
    return path


async def test_a_wait_for_the_rate_limit_is_an_event_and_not_a_retry(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    with FakeLLMServer(rate_limits=RateLimits(requests_per_minute=1, window_s=1.0)) as fake:
        two_turns(fake)
        process = await LLMProgram.from_toml(program_file(fake, tmp_path / "p.toml")).start()
        events: list[Event] = []
        process.subscribe(events.append)
        result = await process.run("hi")
        await process.aclose()
        assert result.answer == "done" and fake.rate_limited == 0
    waits = [e for e in events if isinstance(e, RateLimited)]
    assert len(waits) == 1 and waits[0].turn == 2 and 0 < waits[0].wait_s <= 1.1
    assert waits[0].reason == "requests"
    assert not any(isinstance(e, ModelRetry) for e in events)


def test_the_cli_prints_one_line_per_wait_and_quiet_none(tmp_path: Path) -> None:
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-ant-test"}
    llmproc = str(Path(sys.executable).parent / "llmproc")
    with FakeLLMServer(rate_limits=RateLimits(requests_per_minute=1, window_s=1.0)) as fake:
        path = program_file(fake, tmp_path / "p.toml")
        for quiet in (False, True):
            two_turns(fake)
            args = [llmproc, str(path), "-p", "hi", *(["-q"] if quiet else [])]
            proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
            assert (proc.returncode, proc.stdout) == (0, "done\n"), proc.stderr
            lines = [line for line in proc.stderr.splitlines() if "waiting for the rate limit" in line]
            assert len(lines) == (0 if quiet else 1), proc.stderr
            if lines:
                assert lines[0].strip().startswith("waiting for the rate limit: ") and "(requests)" in lines[0]


def test_the_mcp_activity_says_how_long() -> None:
    from llmproc_mcp.entry import Entry

    entry = Entry.__new__(Entry)
    entry.listener = None
    entry.on_event(RateLimited(3, 12.2, "requests"))
    assert entry.activity == "turn 3: waiting for the rate limit: 12 s"
