"""Runs survive their server: two real servers on one store (SQLite, PostgreSQL), one SIGKILLed
while its runs are in model calls and tool calls; the other finishes every run from its last
checkpoint, sending no finished model call again and running no started `record` call twice
(crash_scenario.py counts both from outside witnesses)."""

from __future__ import annotations

import random
from pathlib import Path

import anyio
import pytest
from llmproc.testing import FakeLLMServer

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
