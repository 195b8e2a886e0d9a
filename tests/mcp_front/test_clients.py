"""Isolation between clients: over HTTP each token is a client that sees only the processes it
started (ps, wait, read_fd, send, fork, kill); an admin token sees all; stdio is the local user
and sees all. Two servers sharing one state folder never put one process's history into another
(the review's case: a secret from one session appeared in the other's history after an idle close).

Everything runs against real `llmproc-mcp` subprocesses over streamable HTTP and stdio."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from llmproc.testing import FakeLLMServer, Reply
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .conftest import ROOT, STEP_S, HttpServer, server_args, server_env, stdio_params, text_of

TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789", "ops": "ops-token-0123456789"}
LOCAL_TOKEN = "local-token-0123456789"


def clients_file(folder: Path) -> Path:
    path = folder / "clients.toml"
    path.write_text("".join(f'[clients.{name}]\ntoken = "{token}"\n{"admin = true" if name == "ops" else ""}\n'
                            for name, token in TOKENS.items()))
    return path


@asynccontextmanager
async def as_client(server: HttpServer, token: str) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(STEP_S)) as http:
        async with Client(streamable_http_client(server.url, http_client=http)) as client:
            yield client


def pids_of(result: Any) -> list[int]:
    return [p["pid"] for p in result.structured_content["processes"]]


async def test_each_client_sees_only_its_own_processes(programs: Path, fake_llm: FakeLLMServer,
                                                       tmp_path: Path) -> None:
    state = tmp_path / "state"
    server = HttpServer(programs, state, "--clients", str(clients_file(tmp_path)), "--token", LOCAL_TOKEN,
                        "--max-answer-chars", "50", "--preview-chars", "20", log=tmp_path / "server.log").start()
    fake_llm.add(Reply(text="alice's secret plan " * 10), Reply(text="bob's answer"))
    try:
        with anyio.fail_after(4 * STEP_S):
            async with as_client(server, TOKENS["alice"]) as alice:
                mine = await alice.call_tool("run_program", {"program": "helper", "prompt": "alice asks"})
                alice_pid = pids_of(mine)[0]
                alice_fd = mine.structured_content["processes"][0]["fd"]
                alice_reads = await alice.call_tool("read_fd", {"fd": alice_fd})
            async with as_client(server, TOKENS["bob"]) as bob:
                bob_ps_before = await bob.call_tool("ps", {})
                refused = {name: await bob.call_tool(name, args) for name, args in {
                    "wait": {"pids": [alice_pid]}, "send": {"pid": alice_pid, "prompt": "leak"},
                    "fork": {"pid": alice_pid, "prompts": ["leak"]}, "kill": {"pid": alice_pid},
                    "read_fd": {"fd": alice_fd}}.items()}
                own = await bob.call_tool("run_program", {"program": "helper", "prompt": "bob asks"})
                bob_ps = await bob.call_tool("ps", {})
            async with as_client(server, TOKENS["ops"]) as ops:
                ops_ps = await ops.call_tool("ps", {})
                ops_reads = await ops.call_tool("read_fd", {"fd": alice_fd})
            async with as_client(server, LOCAL_TOKEN) as local:
                local_ps = await local.call_tool("ps", {})
        async with Client(stdio_params(programs, state)) as stdio:  # the local user, on the same store
            with anyio.fail_after(STEP_S):
                stdio_ps = await stdio.call_tool("ps", {})
    finally:
        server.stop()
    bob_pid = pids_of(own)[0]
    assert "alice's secret plan" in text_of(alice_reads)
    assert bob_ps_before.structured_content["total"] == 0 and "no processes yet" in text_of(bob_ps_before)
    for name, result in refused.items():
        assert result.is_error, name
        assert "secret plan" not in text_of(result), name
        if name != "read_fd":  # refused like a pid that does not exist; alice's pids are not listed
            assert f"no process {alice_pid}; known pids: none yet" in text_of(result), name
    assert "unknown file descriptor" in text_of(refused["read_fd"])
    assert pids_of(bob_ps) == [bob_pid]
    assert set(pids_of(ops_ps)) == {alice_pid, bob_pid} and "alice's secret plan" in text_of(ops_reads)
    assert local_ps.structured_content["total"] == 0  # the single --token is the local user's
    assert set(pids_of(stdio_ps)) == {alice_pid, bob_pid}
    # alice's process was neither continued, forked nor killed by bob: the fake saw two requests only
    assert len(fake_llm.requests) == 2


@pytest.mark.parametrize(("content", "problem"), [
    ("[clients.a]\ntoken = \"short\"\n", "at least 16 characters"),
    ("[clients.a]\ntoken = \"0123456789abcdefgh\"\n[clients.b]\ntoken = \"0123456789abcdefgh\"\n",
     "same token"),
    ("[clients.a]\ntoken = \"0123456789abcdefgh\"\nadmin = \"yes\"\n", "admin must be true or false"),
    ("[clients.a]\ntokn = \"0123456789abcdefgh\"\n", "only token and admin"),
    ("clients = 3\n", "expected [clients.NAME]"),
    ("[clients.a\n", "not valid TOML"),
])
def test_a_bad_clients_file_is_one_line(programs: Path, tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "clients.toml"
    path.write_text(content)
    run = subprocess.run([sys.executable, *server_args(programs, tmp_path / "state", "--http", "--clients",
                                                       str(path))],
                         capture_output=True, text=True, env=server_env(), cwd=ROOT, timeout=STEP_S, check=False)
    assert run.returncode == 2 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --clients") and problem in lines[0], run.stderr


def test_the_documented_clients_file_and_command(tmp_path: Path) -> None:
    """docs/mcp-server.md's example: the file and command it shows are what the server reads."""
    from llmproc_mcp.settings import parse_args

    page = (ROOT / "docs" / "mcp-server.md").read_text().split("### Clients", 1)[1]
    example = re.search(r"```toml\n(.*?)```", page, re.DOTALL)
    command = re.search(r"```sh\n(llmproc-mcp .*?)\n```", page)
    assert example and command
    (tmp_path / "clients.toml").write_text(example.group(1))
    words = shlex.split(command.group(1))
    settings = parse_args([w if w != "clients.toml" else str(tmp_path / w) for w in words[1:]])
    assert settings.requires_token and settings.host == "0.0.0.0"
    assert sorted((c.client.name, c.client.admin) for c in settings.credentials()) == [
        ("alice", False), ("ops", True)]


async def test_two_servers_on_one_folder_never_mix_histories(programs: Path, fake_llm: FakeLLMServer,
                                                             tmp_path: Path) -> None:
    """Each server runs a process, both close it for idleness, then each process is continued on
    the other server: every request the provider sees carries one process's own history only."""
    state = tmp_path / "state"
    first = HttpServer(programs, state, "--idle", "0.3", log=tmp_path / "first.log").start()
    second = HttpServer(programs, state, "--idle", "0.3", log=tmp_path / "second.log").start()
    fake_llm.add(Reply(text="noted A"), Reply(text="noted B"), Reply(text="A again"), Reply(text="B again"))
    try:
        with anyio.fail_after(4 * STEP_S):
            async with as_client(first, "unused") as one, as_client(second, "unused") as two:
                a = pids_of(await one.call_tool("run_program", {"program": "helper", "prompt": "SECRET-A"}))[0]
                b = pids_of(await two.call_tool("run_program", {"program": "helper", "prompt": "SECRET-B"}))[0]
                await anyio.sleep(1.5)  # both processes are closed for idleness by now
                again_a = await two.call_tool("send", {"pid": a, "prompt": "more A"})
                again_b = await one.call_tool("send", {"pid": b, "prompt": "more B"})
    finally:
        first.stop()
        second.stop()
    assert a != b
    assert "A again" in text_of(again_a) and "B again" in text_of(again_b)
    bodies = [json.dumps(r.body) for r in fake_llm.requests]
    assert len(bodies) == 4
    for body in bodies:
        assert ("SECRET-A" in body) != ("SECRET-B" in body), body  # one history, never both
    assert "more A" in bodies[2] and "SECRET-A" in bodies[2] and "noted A" in bodies[2]
    assert "more B" in bodies[3] and "SECRET-B" in bodies[3] and "noted B" in bodies[3]
