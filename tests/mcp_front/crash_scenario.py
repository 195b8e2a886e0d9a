"""Runs that survive their server, as a scenario the test and the bench share: N runs on two
real llmproc-mcp servers (HTTP subprocesses) of one store, each run three model calls (the fake
provider server over the real Anthropic wire) and two tool calls of a real MCP tool server over
HTTP, shared by every process (journal_tools.py: `record` is not safe to repeat, `look` is
read-only); one server is SIGKILLed
mid-run, and the other must finish every run by itself.

What is counted, from the two outside witnesses (the fake provider and the tool server's log):
- model calls repeated: the same request (run, turn, serial of its answer) answered twice, whose
  first answer was delivered more than MARGIN_S before the kill (a call cut off in flight, or
  answered within the commit latency of the kill, is not a finished call; reported apart);
- tool calls repeated: a `record` started twice with one argument (each answer's tool call
  carries the serial of the answer that asked for it, so a repeated model call cannot mask one);
  `look` reruns are allowed (read-only) and counted;
- time to resume: from the kill to the first request of each taken-over run.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from llmproc.testing import FakeLLMServer, RecordedRequest, Reply, ToolUse
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .conftest import HttpServer, free_port, server_env

MODEL_DELAY_S = 0.25
TOOL_SLEEP_S = 0.4
MARGIN_S = 0.1
JOURNAL_TOOLS = Path(__file__).with_name("journal_tools.py")


def program(fake: FakeLLMServer, tools_url: str) -> str:
    return (f'[model]\nname = "claude-sonnet-5-5"\nprovider = "anthropic"\nbase_url = "{fake.anthropic_base_url}"\n'
            f'\n[parameters]\nmax_retries = 0\n\n[mcp.servers.journal]\nurl = "{tools_url}"\n'
            '\n[tools.mcp]\njournal = "all"\n')


@contextmanager
def journal_server(log: Path) -> Iterator[str]:
    """The tool server, over HTTP: one for every process of both servers (it outlives the crash)."""
    port = free_port()
    env = server_env() | {"JOURNAL_LOG": str(log), "JOURNAL_SLEEP": str(TOOL_SLEEP_S)}
    process = subprocess.Popen([sys.executable, str(JOURNAL_TOOLS), "--http", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the journal tool server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Witness:
    """The fake model: turn 1 asks for `record`, turn 2 for `look`, turn 3 answers."""

    answered: list[tuple[str, int, float]] = field(default_factory=list)  # (run, turn, delivered at)
    firsts: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    serial: int = 0

    def __call__(self, request: RecordedRequest) -> Reply:
        messages = request.body["messages"]
        job = _text(messages[0])
        turn = sum(1 for m in messages if m["role"] == "assistant") + 1
        with self.lock:
            self.serial += 1
            serial = self.serial
            self.answered.append((job, turn, time.time() + MODEL_DELAY_S))
        note = f"{job}/t{turn}/s{serial}"
        if turn == 1:
            return Reply(tool_calls=[ToolUse("journal__record", {"note": note})], delay=MODEL_DELAY_S)
        if turn == 2:
            return Reply(tool_calls=[ToolUse("journal__look", {"note": note})], delay=MODEL_DELAY_S)
        return Reply(text=f"finished {job}", delay=MODEL_DELAY_S)


def _text(message: dict) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


@dataclass
class Outcome:
    runs: int
    done: int
    answers_right: int
    killed_at: float
    model_repeated: int  # finished calls sent again (target 0)
    model_in_flight: int  # calls cut off by the kill and sent again (allowed)
    record_repeated: int  # non-read-only tool calls run twice (target 0)
    look_reruns: int  # read-only calls run again after the crash (allowed)
    resume_s: list[float]  # per taken-over run: kill -> its first request after
    wall_s: float
    progress: list[str]  # what the host waiting on the survivor was told


async def crash(fake: FakeLLMServer, witness: Witness, folder: Path, store: tuple[str, ...], *,
                runs: int, kill_after_calls: int, jitter_s: float = 0.0) -> Outcome:
    """`runs` runs spread over two servers; the first is SIGKILLed `jitter_s` after its runs have
    made `kill_after_calls` model calls."""
    log = folder / "journal.log"
    log.touch()
    programs = folder / "programs"
    programs.mkdir(exist_ok=True)
    with journal_server(log) as tools_url:
        (programs / "worker.toml").write_text(program(fake, tools_url))
        return await _crash(fake, witness, folder, store, log, runs, kill_after_calls, jitter_s)


async def _crash(fake: FakeLLMServer, witness: Witness, folder: Path, store: tuple[str, ...], log: Path,
                 runs: int, kill_after_calls: int, jitter_s: float) -> Outcome:
    servers = [HttpServer(folder / "programs", folder / "state", *store, log=folder / f"server{i}.log").start()
               for i in range(2)]
    started = time.monotonic()
    try:
        pids: dict[int, str] = {}
        for index, server in enumerate(servers):
            async with Client(streamable_http_client(server.url), mode="legacy") as client:
                tasks = [{"program": "worker", "prompt": f"job-{index}-{k}"} for k in range(runs // 2)]
                result = await client.call_tool("spawn", {"tasks": tasks})
                for row, task in zip(result.structured_content["processes"], tasks, strict=True):
                    pids[row["pid"]] = task["prompt"]
        with anyio.fail_after(60):  # the victim's runs are under way: some in model calls, some in tools
            while sum(1 for job, _, _ in witness.answered if job.startswith("job-0-")) < kill_after_calls:
                await anyio.sleep(0.01)
        await anyio.sleep(jitter_s)
        victim = servers[0].process
        assert victim is not None
        victim.send_signal(signal.SIGKILL)
        killed_at = time.time()
        victim.wait(timeout=5)
        progress: list[str] = []

        async def heard(done: float, total: float | None, message: str | None) -> None:
            progress.append(message or "")

        async with Client(streamable_http_client(servers[1].url), mode="legacy") as client:
            final = await client.call_tool("wait", {"pids": sorted(pids), "timeout_s": 60},
                                           progress_callback=heard)
        wall = time.monotonic() - started
    finally:
        for server in servers:
            server.stop()
    rows = {p["pid"]: p for p in final.structured_content["processes"]}
    text = "\n".join(b.text for b in final.content if getattr(b, "type", "") == "text")
    right = sum(1 for pid, job in pids.items() if f'<answer pid="{pid}">\nfinished {job}\n</answer>' in text)
    return Outcome(runs=len(pids), done=sum(1 for r in rows.values() if r["status"] == "done"), answers_right=right,
                   killed_at=killed_at, wall_s=wall, progress=progress, **_count(witness, log, killed_at))


def _count(witness: Witness, log: Path, killed_at: float) -> dict:
    seen: dict[tuple[str, int], list[float]] = {}
    for job, turn, delivered in witness.answered:
        seen.setdefault((job, turn), []).append(delivered)
    repeated = in_flight = 0
    for times in seen.values():
        for first in times[:-1]:  # every answer but the last was followed by the same request again
            if first < killed_at - MARGIN_S:
                repeated += 1
            else:
                in_flight += 1
    starts = Counter()
    for line in log.read_text().splitlines():
        match = re.match(r"start (record|look) (\S+) ", line)
        if match:
            starts[match.groups()] += 1
    record_repeated = sum(n - 1 for (tool, _), n in starts.items() if tool == "record" and n > 1)
    look_reruns = sum(n - 1 for (tool, _), n in starts.items() if tool == "look" and n > 1)
    resume = []
    for job in {job for job, _, _ in witness.answered if job.startswith("job-0-")}:
        before = [t for j, _, t in witness.answered if j == job and t - MODEL_DELAY_S < killed_at]
        after = [t - MODEL_DELAY_S for j, _, t in witness.answered if j == job and t - MODEL_DELAY_S >= killed_at]
        if before and after:
            resume.append(min(after) - killed_at)
    return {"model_repeated": repeated, "model_in_flight": in_flight, "record_repeated": record_repeated,
            "look_reruns": look_reruns, "resume_s": sorted(resume)}
