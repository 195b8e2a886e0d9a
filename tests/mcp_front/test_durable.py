"""Runs survive their server: two real servers on one store (SQLite, PostgreSQL), one SIGKILLed
while its runs are in model calls and tool calls; the other finishes every run from its last
checkpoint, sending no finished model call again and running no started `record` call twice
(crash_scenario.py counts both from outside witnesses); fork copies cut off resume as copies of
the process they were forked from."""

from __future__ import annotations

import random
from pathlib import Path

import signal

import anyio
import pytest
from llmproc.testing import FakeLLMServer, RecordedRequest, Reply
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .conftest import HttpServer, first, program_toml, text_of
from .crash_scenario import Witness, crash


@pytest.fixture(params=["sqlite", "postgres"])
def store_flags(request: pytest.FixtureRequest) -> tuple[str, ...]:
    return ("--store", request.getfixturevalue("postgres_url")) if request.param == "postgres" else ()


async def test_a_killed_servers_runs_finish_on_the_other_without_repeats(
        store_flags: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    witness = Witness()
    with FakeLLMServer(witness) as fake, anyio.fail_after(90):
        outcome = await crash(fake, witness, tmp_path, store_flags, runs=12, kill_after_calls=8,
                              jitter_s=random.uniform(0, 0.4))
    assert outcome.runs == 12
    assert outcome.done == 12 and outcome.answers_right == 12, outcome
    assert outcome.model_repeated == 0, outcome
    assert outcome.record_repeated == 0, outcome
    assert outcome.resume_s, f"no run of the killed server was taken over mid-run: {outcome}"
    resumed = [m for m in outcome.progress if "resumed on" in m and "stopped" in m]
    assert resumed, outcome.progress[:20]  # the host waiting on the survivor is told


def _tree_answers(request: RecordedRequest) -> Reply:
    """The base answers at once; each copy's run ("slow ...") takes 2 s, so the kill lands in it."""
    last = request.body["messages"][-1]["content"]
    text = last if isinstance(last, str) else " ".join(p.get("text", "") for p in last if p.get("type") == "text")
    if text.startswith("slow"):
        return Reply(text=f"copy answer to {text}", delay=2.0)
    return Reply(text="base answer")


async def test_fork_copies_cut_off_by_a_crash_resume_as_a_tree(
        store_flags: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    with FakeLLMServer(_tree_answers) as fake, anyio.fail_after(60):
        programs = tmp_path / "programs"
        programs.mkdir()
        (programs / "base.toml").write_text(program_toml(fake))
        a, b = (HttpServer(programs, tmp_path / "state", "--wait", "0.3", *store_flags,
                           log=tmp_path / f"{name}.log").start() for name in "ab")
        try:
            async with Client(streamable_http_client(a.url), mode="legacy") as client:
                base = first(await client.call_tool("run_program", {"program": "base", "prompt": "remember 42"}))
                while base["status"] in ("queued", "running"):  # each call returns after --wait 0.3 s
                    base = first(await client.call_tool("wait", {"pids": [base["pid"]]}))
                forked = await client.call_tool("fork", {"pid": base["pid"], "prompts": ["slow one", "slow two"]})
            assert forked.structured_content, text_of(forked)
            copies = [p["pid"] for p in forked.structured_content["processes"]]
            assert a.process is not None
            a.process.send_signal(signal.SIGKILL)
            a.process.wait(timeout=5)
            async with Client(streamable_http_client(b.url), mode="legacy") as client:
                done = await client.call_tool("wait", {"pids": copies})
                while any(p["status"] in ("queued", "running") for p in done.structured_content["processes"]):
                    done = await client.call_tool("wait", {"pids": copies})
        finally:
            a.stop()
            b.stop()
    rows = {p["pid"]: p for p in done.structured_content["processes"]}
    assert all(rows[pid]["status"] == "done" and rows[pid]["parent"] == base["pid"] for pid in copies), rows
    assert "copy answer to slow one" in text_of(done) and "copy answer to slow two" in text_of(done)
    resumed = [r.body["messages"] for r in fake.requests if "slow" in str(r.body["messages"][-1])]
    assert len(resumed) == 4  # each copy: the call cut off by the kill, then the one on B
    for messages in resumed:  # every copy still carries the conversation it was forked from
        assert "remember 42" in str(messages[0]) and "base answer" in str(messages[1]), messages
