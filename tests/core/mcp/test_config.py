"""Which servers a program uses: mcpServers files, inline servers, variables, and the errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmproc import LLMProgram
from llmproc.errors import ProgramConfigError
from llmproc.tools.mcp import HttpSpec, StdioSpec, program_servers, read_mcp_file

ENV = {"HOME": "/home/me", "TOKEN": "t0k", "DATA": "/data"}


def write(tmp_path: Path, data: object, name: str = "mcp.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_the_claude_desktop_and_mcp_json_shapes(tmp_path: Path) -> None:
    path = write(tmp_path, {"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "server-filesystem", "${DATA}"],
                  "env": {"LOG": "${LEVEL:-info}"}, "cwd": "sub"},
        "typed": {"type": "stdio", "command": "uvx", "args": ["mcp-server-time"]},
        "web": {"type": "http", "url": "https://mcp.example/mcp",
                "headers": {"Authorization": "Bearer ${TOKEN}"}},
        "web2": {"url": "http://127.0.0.1:9/mcp", "bearer_token_env": "TOKEN"},
        "old": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
    }})
    servers = read_mcp_file(path, ENV)
    files = servers["files"]
    assert isinstance(files, StdioSpec)
    assert files.args == ("-y", "server-filesystem", "/data") and dict(files.env) == {"LOG": "info"}
    assert files.cwd == (tmp_path / "sub").resolve()
    assert files.describe() == "npx -y server-filesystem /data"
    assert files.source == f"{path}: mcpServers.files"
    assert isinstance(servers["typed"], StdioSpec) and servers["typed"].command == "uvx"
    web = servers["web"]
    assert isinstance(web, HttpSpec) and dict(web.headers) == {"Authorization": "Bearer t0k"}
    assert dict(servers["web2"].headers) == {"Authorization": "Bearer t0k"}  # type: ignore[union-attr]
    assert not web.sse and servers["old"] == HttpSpec("old", "http://127.0.0.1:9/sse",
                                                      source=f"{path}: mcpServers.old", sse=True)


@pytest.mark.parametrize(("data", "key", "message"), [
    ("{not json", None, "not valid JSON"),
    ({"servers": {}}, "mcpServers", "expected an object"),
    ({"mcpServers": {"a": []}}, "mcpServers.a", "expected an object with 'command'"),
    ({"mcpServers": {"a": {"args": ["x"]}}}, "mcpServers.a.command", "required"),
    ({"mcpServers": {"a": {"command": "x", "args": "--flag"}}}, "mcpServers.a.args", "list of strings"),
    ({"mcpServers": {"a": {"command": "x", "env": {"N": 1}}}}, "mcpServers.a.env", "object of strings"),
    ({"mcpServers": {"a": {"type": "websocket"}}}, "mcpServers.a.type", "unknown server type"),
    ({"mcpServers": {"a": {"command": "x", "args": ["${NOPE}"]}}}, "mcpServers.a.args[0]", "NOPE is not set"),
    ({"mcpServers": {"a": {"url": "http://x", "bearer_token_env": "NOPE"}}}, "mcpServers.a.bearer_token_env",
     r"NOPE \(the bearer token\) is not set"),
])
def test_mistakes_name_the_file_and_the_key(tmp_path: Path, data: object, key: str | None,
                                            message: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ProgramConfigError, match=message) as caught:
        read_mcp_file(path, ENV)
    assert caught.value.path == str(path) and caught.value.key == key


def test_keys_other_hosts_write_are_ignored_with_a_warning(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, {"mcpServers": {"a": {"command": "x", "disabled": False, "alwaysAllow": []}}})
    assert read_mcp_file(path, ENV)["a"].describe() == "x"
    assert "ignoring key(s) alwaysAllow, disabled" in caplog.text


def test_a_program_uses_the_servers_its_tools_section_names(tmp_path: Path) -> None:
    write(tmp_path, {"mcpServers": {"files": {"command": "from-file"}, "unused": {"command": "never started"},
                                    "both": {"command": "file-version"}}})
    program = LLMProgram.from_dict({
        "model": {"name": "m", "provider": "scripted"},
        "mcp": {"config_path": "mcp.json",
                "servers": {"both": {"command": "inline-version", "cwd": "."},
                            "web": {"url": "http://127.0.0.1:1/mcp",
                                    "headers": {"X-Team": "${TEAM:-core}"}}}},
        "tools": {"mcp": {"files": "all", "both": ["t"], "web": "all"}},
    }, base_dir=tmp_path)
    servers = program_servers(program, {})
    assert list(servers) == ["files", "both", "web"]
    assert servers["files"].describe() == "from-file"
    assert servers["both"].describe() == "inline-version"  # inline wins
    assert servers["both"].cwd == tmp_path.resolve()  # type: ignore[union-attr]
    assert servers["both"].source == "<program>: mcp.servers.both"
    assert dict(servers["web"].headers) == {"X-Team": "core"}  # type: ignore[union-attr]


def test_a_server_missing_from_the_file_is_an_error_listing_those_declared(tmp_path: Path) -> None:
    write(tmp_path, {"mcpServers": {"files": {"command": "x"}}})
    program = LLMProgram.from_dict({"model": {"name": "m", "provider": "scripted"},
                                    "mcp": {"config_path": "mcp.json"},
                                    "tools": {"mcp": {"fils": "all"}}}, base_dir=tmp_path)
    with pytest.raises(ProgramConfigError, match="'fils' is not declared .*declared: files") as caught:
        program_servers(program, {})
    assert caught.value.key == "tools.mcp.fils"


def test_the_example_program_and_its_mcp_file_agree() -> None:
    example = Path(__file__).resolve().parents[3] / "examples" / "features" / "mcp.toml"
    program = LLMProgram.from_toml(example)
    servers = program_servers(program, {"PATH": "/usr/bin"})
    assert set(servers) == set(program.config.tools.mcp)
    assert all(isinstance(s, StdioSpec) for s in servers.values())
