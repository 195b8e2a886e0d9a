"""The real MCP hosts drive llmproc-mcp, offline: Claude Code, Codex CLI and Gemini CLI from npm,
each host's model being the fake provider server that plays `hosts.scenario` (every tool: run,
spawn + wait, fork, send, a long answer read with read_fd, ps, kill) and records what the host
forwarded to it from each result. The assertion is on that: the answer text and the hints
naming the next call must reach the model, whatever the host does with a result's blocks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from llmproc.testing import FakeLLMServer

from .conftest import HttpServer, server_args, server_env
from .hosts.base import Host, HostRun, McpServer
from .hosts.claude_code import ClaudeCode
from .hosts.codex import Codex
from .hosts.gemini import Gemini
from .hosts.scenario import DONE, ECHO_PROGRAM, SERVER_FLAGS, SLOW_PROGRAM, Scenario, standard_steps

HOSTS: list[Host] = [ClaudeCode(), Codex(), Gemini()]
RUN_TIMEOUT_S = 180.0
PROMPT = "Use the llmproc tools as the scenario says."

CASES = [pytest.param(host, transport, id=f"{host.name}-{transport}")
         for host in HOSTS for transport in host.transports]


def play(host: Host, transport: str, work: Path) -> tuple[Scenario, HostRun]:
    """The standard scenario with `host` and llmproc-mcp over `transport`, in the folder `work`."""
    programs, state = work / "programs", work / "state"
    programs.mkdir()
    (programs / "echo.toml").write_text(ECHO_PROGRAM)
    (programs / "slow.toml").write_text(SLOW_PROGRAM)
    scenario = Scenario(host, standard_steps())
    http = None
    if transport == "http":
        http = HttpServer(programs, state, *SERVER_FLAGS, log=work / "server.log").start()
        server = McpServer(url=http.url)
    else:
        server = McpServer(command=(sys.executable, *server_args(programs, state, *SERVER_FLAGS)),
                           env=server_env())
    workdir = work / "work"
    workdir.mkdir()
    try:
        with FakeLLMServer(responder=scenario) as fake:
            run = host.run(server, fake, workdir, PROMPT, RUN_TIMEOUT_S)
    finally:
        if http is not None:
            http.stop()
    return scenario, run


@pytest.mark.host
@pytest.mark.parametrize(("host", "transport"), CASES)
def test_every_answer_and_hint_reaches_the_hosts_model(host: Host, transport: str, tmp_path: Path) -> None:
    reason = host.missing()
    if reason:
        pytest.skip(reason)
    scenario, run = play(host, transport, tmp_path)
    failures = scenario.failures()
    assert not failures, "\n".join(failures) + "\n" + run.describe()
    assert run.returncode == 0 and DONE in run.stdout, run.describe()
