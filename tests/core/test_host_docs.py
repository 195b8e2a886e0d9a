"""docs/claude-code.md stays true for every host it describes.

Always: its TOML and JSON blocks parse; the server commands in them and in its shell lines are
real llmproc-mcp commands; each documented server entry has the keys the real-host tests
(tests/mcp_front/test_hosts.py, through the adapters in tests/mcp_front/hosts/) register
llmproc-mcp with, and the tool names it gives are the adapters'.

Where the host CLIs are installed (tests/mcp_servers/install.sh), also: each host's own
`mcp add` line from the page writes what the page shows; the servers registered that way
connect; and ANTHROPIC_API_KEY reaches the server by the route the page gives (Codex's
`env_vars`, Gemini's `env`), and not without it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from llmproc_mcp.settings import ServerSettings, parse_args
from tests.mcp_front.hosts import claude_code, codex, gemini
from tests.mcp_front.hosts.base import NODE_BIN, SERVER_NAME, McpServer, offline_env, which

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "claude-code.md"
TEXT = DOC.read_text()
PLACEHOLDER = "/path/to/llmproc"  # the checkout, in configurations that cannot say $PWD
BIN = Path(sys.executable).parent  # where pip put llmproc-mcp
PORT = "8765"  # the port the page's HTTP examples use

ADAPTERS = {"Claude Code": claude_code.ClaudeCode(), "Codex CLI": codex.Codex(), "Gemini CLI": gemini.Gemini()}
# Where the page and the host tests differ on purpose: (keys only the page has, keys only the tests have).
DIFFERENCES: dict[tuple[str, str], tuple[set[str], set[str]]] = {
    # The tests give the server literal values (`env`); users forward their key by name, which
    # test_codex_passes_the_key_named_in_env_vars checks. The tests allow a slow CI 30 s to start.
    ("Codex CLI", "stdio"): ({"env_vars"}, {"env", "startup_timeout_sec"}),
    ("Codex CLI", "http"): (set(), {"startup_timeout_sec"}),
}
# Keys whose values are the user's own (paths, URLs, environment, limits); the others must agree.
USER_VALUES = {"command", "args", "env", "env_vars", "url", "httpUrl", "tool_timeout_sec"}


# -- reading the page --------------------------------------------------------------------------------
def sections() -> dict[str, str]:
    parts = re.split(r"^## (.+)$", TEXT, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def fenced(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def shell_lines(*names: str) -> list[str]:
    texts = [sections()[name] for name in names] if names else [TEXT]
    return [line.strip() for text in texts for block in fenced(text, "bash") for line in block.splitlines()
            if line.strip() and not line.startswith("#")]


def real(value: Any) -> Any:
    """A documented value with the checkout's path where the page has $PWD or the placeholder."""
    if isinstance(value, str):
        return value.replace("$PWD", str(ROOT)).replace(PLACEHOLDER, str(ROOT))
    if isinstance(value, list):
        return [real(v) for v in value]
    if isinstance(value, dict):
        return {k: real(v) for k, v in value.items()}
    return value


def entries(host: str) -> dict[str, dict[str, Any]]:
    """The llmproc server entries the page shows for a host, by transport."""
    text = sections()[host]
    if host == "Codex CLI":
        found = [tomllib.loads(block)["mcp_servers"][SERVER_NAME] for block in fenced(text, "toml")]
    else:
        found = [json.loads(block)["mcpServers"][SERVER_NAME] for block in fenced(text, "json")]
    by_transport = {("http" if {"url", "httpUrl"} & set(e) else "stdio"): e for e in found}
    assert len(by_transport) == len(found) == 2, f"{host}: one stdio and one HTTP entry, found {found}"
    return by_transport


def server_command(entry: dict[str, Any]) -> list[str]:
    return real([entry["command"], *entry["args"]])


def adapter_entry(host: str, transport: str) -> dict[str, Any]:
    """What the host test registers llmproc-mcp with, for that transport."""
    server = (McpServer(url=f"http://127.0.0.1:{PORT}/mcp") if transport == "http" else
              McpServer(command=("llmproc-mcp", "--programs", "programs"), env={"ANTHROPIC_API_KEY": "key"}))
    if host == "Claude Code":
        return ADAPTERS[host].config(server)["mcpServers"][SERVER_NAME]
    if host == "Codex CLI":
        fake = SimpleNamespace(openai_base_url="http://127.0.0.1:9/v1")
        return tomllib.loads(ADAPTERS[host].config(server, fake, 300))["mcp_servers"][SERVER_NAME]
    return ADAPTERS[host].settings(server)["mcpServers"][SERVER_NAME]


# -- always ------------------------------------------------------------------------------------------
def test_every_toml_and_json_block_parses() -> None:
    tomls, jsons = fenced(TEXT, "toml"), fenced(TEXT, "json")
    assert len(tomls) == 2 and len(jsons) == 4
    for block in tomls:
        tomllib.loads(block)
    for block in jsons:
        json.loads(block)


@pytest.mark.parametrize("host", list(ADAPTERS))
@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_documented_entries_use_the_keys_the_host_tests_use(host: str, transport: str) -> None:
    documented, tested = entries(host)[transport], adapter_entry(host, transport)
    page_only, test_only = DIFFERENCES.get((host, transport), (set(), set()))
    assert set(documented) == (set(tested) - test_only) | page_only, (host, transport)
    for key in set(documented) & set(tested) - USER_VALUES:  # required, trust, type, approval
        assert documented[key] == tested[key], (host, transport, key)


def test_codex_tables_wait_for_the_server_approve_calls_and_outlast_the_bounded_wait() -> None:
    http_server = next(line for line in shell_lines("Claude Code") if line.startswith("llmproc-mcp "))
    for transport, entry in entries("Codex CLI").items():
        assert entry["required"] is True and entry["default_tools_approval_mode"] == "approve"
        args = entry["args"] if transport == "stdio" else shlex.split(http_server)[1:]
        assert entry["tool_timeout_sec"] > parse_args(real(args)).wait_s, transport
    assert entries("Codex CLI")["stdio"]["env_vars"] == ["ANTHROPIC_API_KEY"]


def test_gemini_entries_are_trusted_and_pass_the_key() -> None:
    for entry in entries("Gemini CLI").values():
        assert entry["trust"] is True
    assert entries("Gemini CLI")["stdio"]["env"] == {"ANTHROPIC_API_KEY": "$ANTHROPIC_API_KEY"}


def test_the_project_mcp_json_shown_is_the_file() -> None:
    shown = json.loads(fenced(sections()["Claude Code"], "json")[0])
    assert shown == json.loads((ROOT / "claude-code" / ".mcp.json").read_text())


def test_every_server_command_on_the_page_parses() -> None:
    commands = [server_command(e) for host in ADAPTERS for e in entries(host).values() if "command" in e]
    for line in shell_lines():
        words = shlex.split(line)
        if words[0] == "llmproc-mcp":
            commands.append(real(words))
        elif "--" in words and words[words.index("--") + 1] == "llmproc-mcp":
            commands.append(real(words[words.index("--") + 1:]))
    assert len(commands) >= 8
    for command in commands:
        assert command[0] == "llmproc-mcp", command
        settings = parse_args(command[1:])
        assert settings.program_dirs and all(d.is_absolute() and d.is_dir() for d in settings.program_dirs), command
    http = [parse_args(c[1:]) for c in commands if "--http" in c]
    urls = {e.get("url") or e.get("httpUrl") for host in ADAPTERS for e in entries(host).values()} - {None}
    assert urls == {f"http://127.0.0.1:{s.port}/mcp" for s in http} == {f"http://127.0.0.1:{PORT}/mcp"}


def test_tool_names_and_defaults_are_the_ones_the_hosts_and_server_use() -> None:
    for name in (f"`{claude_code.PREFIX}<tool>`", f"`{codex.NAMESPACE}`", f"`{gemini.PREFIX}<tool>`",
                 f"--allowedTools mcp__{SERVER_NAME}"):
        assert name in TEXT, name
    assert ServerSettings().wait_s == 90 and "`--wait` 90 s" in TEXT


# -- with the host CLIs ------------------------------------------------------------------------------
def _cli(host: str) -> Path:
    reason = ADAPTERS[host].missing()
    if reason:
        pytest.skip(reason)
    path = which({"Claude Code": "claude", "Codex CLI": "codex", "Gemini CLI": "gemini"}[host])
    assert path is not None
    return path


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = offline_env(home, ANTHROPIC_API_KEY="sk-ant-from-the-user", DISABLE_TELEMETRY="1",
                      DISABLE_AUTOUPDATER="1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", **extra)
    env["PATH"] = os.pathsep.join([str(NODE_BIN), str(BIN), env["PATH"]])  # the CLIs, llmproc-mcp
    return env


def _shell(line: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """A line of the page as a user types it, in the checkout ($PWD is the checkout)."""
    return subprocess.run(line, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def _first_argument(words: list[str], takes_value: set[str]) -> str:
    """The first positional argument (the server's name) after `mcp add`."""
    rest = iter(words)
    for word in rest:
        if word in takes_value:
            next(rest)
        elif not word.startswith("-"):
            return word
    raise AssertionError(f"no name in {words}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _probe(out: Path) -> list[str]:
    """A stand-in server command that writes the environment it was started with, then exits."""
    code = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"
    return [sys.executable, "-c", code, str(out)]


@pytest.fixture
def http_port(tmp_path: Path) -> Iterator[str]:
    """The page's `llmproc-mcp ... --http --port 8765` running, on a free port."""
    line = next(line for line in shell_lines("Claude Code") if line.startswith("llmproc-mcp "))
    port = str(_free_port())
    words = [w if w != PORT else port for w in real(shlex.split(line))]
    words[0] = str(BIN / "llmproc-mcp")
    log = (tmp_path / "http.log").open("wb")
    process = subprocess.Popen([*words, "--state-dir", str(tmp_path / "http-state")], cwd=ROOT,
                               env=_env(tmp_path / "http-home"), stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "http.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "http.log").read_text()
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.host
def test_claude_mcp_add_lines_register_servers_that_connect_from_any_directory(tmp_path: Path,
                                                                                http_port: str) -> None:
    claude = _cli("Claude Code")
    readme = [line for block in fenced((ROOT / "README.md").read_text(), "sh") for line in block.splitlines()]
    lines = [line for line in shell_lines() + readme if line.startswith("claude mcp add")]
    assert len(lines) == 5
    listings = []
    for index, line in enumerate(lines):  # each in a HOME of its own: they share the name llmproc
        home = tmp_path / f"home-{index}"
        env = _env(home)
        added = _shell(line.replace(f":{PORT}/", f":{http_port}/"), env)
        assert added.returncode == 0, (line, added.stdout + added.stderr)
        name = _first_argument(shlex.split(line)[3:], takes_value={"--scope", "-s", "--transport", "-t"})
        written = json.loads((home / ".claude.json").read_text())["mcpServers"][name]
        transport = "http" if "--transport" in line else "stdio"
        assert set(written) == set(adapter_entry("Claude Code", transport)), (line, written)
        # Listed from another directory than the checkout the line ran in (HOME: a folder Claude
        # Code trusts without asking, and checks servers in). Without a key, which makes it try
        # the API first (some 18 s offline).
        env.pop("ANTHROPIC_API_KEY")
        listings.append((line, name, subprocess.Popen([str(claude), "mcp", "list"], cwd=home, env=env,
                                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                      text=True)))
    for line, name, process in listings:
        out, _ = process.communicate(timeout=60)
        assert re.search(rf"^{re.escape(name)}: .*Connected", out, re.MULTILINE), (line, out)


@pytest.mark.host
def test_codex_mcp_add_writes_the_documented_command(tmp_path: Path) -> None:
    _cli("Codex CLI")
    (line,) = [line for line in shell_lines("Codex CLI") if line.startswith("codex mcp add")]
    home = tmp_path / "codex-home"
    home.mkdir()
    added = _shell(line, _env(tmp_path / "home", CODEX_HOME=str(home)))
    assert added.returncode == 0, added.stdout + added.stderr
    written = tomllib.loads((home / "config.toml").read_text())["mcp_servers"][SERVER_NAME]
    documented = entries("Codex CLI")["stdio"]
    # It writes the command; the page says to add the other lines by hand.
    assert written == {"command": documented["command"], "args": real(documented["args"])}


@pytest.mark.host
@pytest.mark.parametrize("with_env_vars", [True, False])
def test_codex_passes_the_key_named_in_env_vars(tmp_path: Path, with_env_vars: bool) -> None:
    codex_cli = _cli("Codex CLI")
    out = tmp_path / "server-env.json"
    probe = McpServer(command=tuple(_probe(out)))
    config = codex.Codex().config(probe, SimpleNamespace(openai_base_url="http://127.0.0.1:9/v1"), 30)
    env_vars = entries("Codex CLI")["stdio"]["env_vars"]
    config = re.sub(r"^env = .*$", f"env_vars = {json.dumps(env_vars)}" if with_env_vars else "", config,
                    count=1, flags=re.MULTILINE)
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(config)
    env = _env(tmp_path / "home", CODEX_HOME=str(home), **{codex.KEY_VAR: "test-key"})
    # The stand-in exits after writing, so the required server fails and Codex stops at once.
    subprocess.run([str(codex_cli), "exec", "--skip-git-repo-check", "--ephemeral", "hi"], cwd=tmp_path,
                   env=env, capture_output=True, text=True, timeout=60)
    seen = json.loads(out.read_text())
    assert (seen.get("ANTHROPIC_API_KEY") == "sk-ant-from-the-user") is with_env_vars, sorted(seen)


@pytest.mark.host
def test_gemini_mcp_add_writes_the_documented_entry(tmp_path: Path) -> None:
    _cli("Gemini CLI")
    (line,) = [line for line in shell_lines("Gemini CLI") if line.startswith("gemini mcp add")]
    home = tmp_path / "home"
    added = _shell(line, _env(home))
    assert added.returncode == 0, added.stdout + added.stderr
    written = json.loads((home / ".gemini" / "settings.json").read_text())["mcpServers"][SERVER_NAME]
    assert written == real(entries("Gemini CLI")["stdio"])


@pytest.mark.host
def test_gemini_connects_the_documented_entries_and_passes_the_key_by_env(tmp_path: Path,
                                                                          http_port: str) -> None:
    gemini_cli = _cli("Gemini CLI")
    documented = entries("Gemini CLI")
    http = {**documented["http"], "httpUrl": documented["http"]["httpUrl"].replace(f":{PORT}/", f":{http_port}/")}
    keyed = {**documented["stdio"], "command": sys.executable, "args": _probe(tmp_path / "keyed.json")[1:]}
    plain = {k: v for k, v in keyed.items() if k != "env"} | {"args": _probe(tmp_path / "plain.json")[1:]}
    settings = gemini.Gemini().settings(McpServer(url="unused"))
    settings["mcpServers"] = {"stdio": real(documented["stdio"]), "http": http, "keyed": keyed, "plain": plain}
    home = tmp_path / "home"
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    work = tmp_path / "work"
    work.mkdir()
    # Gemini CLI connects no server in a folder it does not trust; this trusts the folder of the run.
    listed = subprocess.run([str(gemini_cli), "mcp", "list"], cwd=work, capture_output=True, text=True,
                            timeout=60, env=_env(home, GEMINI_CLI_TRUST_WORKSPACE="true"))
    output = listed.stdout + listed.stderr
    for name in ("stdio", "http"):
        assert re.search(rf"^\S+ {name}: .*Connected", output, re.MULTILINE), output
    assert json.loads((tmp_path / "keyed.json").read_text()).get("ANTHROPIC_API_KEY") == "sk-ant-from-the-user"
    assert "ANTHROPIC_API_KEY" not in json.loads((tmp_path / "plain.json").read_text())
