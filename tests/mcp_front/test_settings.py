"""Settings from flags and environment variables, and the rules checked before anything listens."""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

import click
import pytest

from llmproc_mcp.server import main, transport_security
from llmproc_mcp.settings import ServerSettings, SettingsError, _command, parse_args


def test_defaults_are_safe() -> None:
    settings = parse_args(["--no-state"])
    assert settings.transport == "stdio" and settings.host == "127.0.0.1" and settings.token is None
    assert settings.wait_s < 120 and settings.progress_interval_s <= 5
    assert settings.max_answer_chars == 20_000 and settings.max_processes == 32


def test_flags_and_their_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c = (tmp_path / n for n in "abc")
    flags = parse_args(["--programs", str(a), "--programs", str(b), "--http", "--port", "9000",
                        "--wait", "30", "--max-answer-chars", "5000", "--preview-chars", "100",
                        "--max-processes", "4", "--allowed-host", "proxy.example:443", "--state-dir", str(c),
                        "--cwd", str(tmp_path)])
    assert flags.program_dirs == (a.resolve(), b.resolve()) and flags.transport == "http"
    assert (flags.port, flags.wait_s, flags.max_answer_chars, flags.max_processes) == (9000, 30.0, 5000, 4)
    assert flags.allowed_hosts == ("proxy.example:443",) and flags.state_dir == c and flags.cwd == tmp_path
    for key, value in {"PROGRAMS": f"{a}{os.pathsep}{b}", "HTTP": "1", "PORT": "9000", "WAIT_S": "30",
                       "MAX_ANSWER_CHARS": "5000", "PREVIEW_CHARS": "100", "MAX_PROCESSES": "4",
                       "ALLOWED_HOSTS": "proxy.example:443", "STATE_DIR": str(c),
                       "CWD": str(tmp_path)}.items():
        monkeypatch.setenv(f"LLMPROC_MCP_{key}", value)
    assert parse_args([]) == flags
    assert parse_args(["--port", "9001"]).port == 9001  # a flag wins over its variable


def test_non_loopback_http_needs_a_token() -> None:
    with pytest.raises(SettingsError, match="--token or LLMPROC_MCP_TOKEN"):
        ServerSettings(transport="http", host="0.0.0.0")
    assert ServerSettings(transport="http", host="0.0.0.0", token="t").requires_token
    assert ServerSettings(transport="http", host="::1").token is None  # loopback: optional
    ServerSettings(transport="stdio", host="0.0.0.0")  # stdio listens on nothing


@pytest.mark.parametrize("bad", [{"wait_s": 0}, {"progress_interval_s": 6}, {"max_processes": 0},
                                 {"preview_chars": 30_000}])
def test_limits_are_checked(bad: dict) -> None:
    with pytest.raises(SettingsError):
        ServerSettings(**bad)


def test_dns_rebinding_protection_is_on_for_every_bind() -> None:
    for settings in (ServerSettings(), ServerSettings(transport="http", host="0.0.0.0", token="t"),
                     ServerSettings(transport="http", host="10.1.2.3", token="t",
                                    allowed_hosts=("p.example:443",))):
        security = transport_security(settings)
        assert security.enable_dns_rebinding_protection
        assert "127.0.0.1:*" in security.allowed_hosts and "evil.example:*" not in security.allowed_hosts
    assert "10.1.2.3:*" in security.allowed_hosts and "p.example:443" in security.allowed_hosts
    assert "https://p.example:443" in security.allowed_origins


def test_main_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--http", "--host", "0.0.0.0"]) == 2
    assert "error: --host 0.0.0.0" in capsys.readouterr().err
    assert main(["--progress-interval", "9"]) == 2
    assert main(["--no-such-flag"]) == 2
    assert main(["--help"]) == 0
    assert "--programs" in capsys.readouterr().out


def test_program_folders_must_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Checked when the server starts; parse_args alone also reads commands meant for another machine."""
    a_file = tmp_path / "programs.toml"
    a_file.write_text("")
    assert parse_args(["--programs", str(tmp_path / "missing")]).program_dirs == (tmp_path / "missing",)
    assert main(["--programs", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err == f"error: --programs {tmp_path / 'missing'}: no such folder\n"
    assert main(["--programs", str(tmp_path), "--programs", str(a_file)]) == 2
    assert capsys.readouterr().err == f"error: --programs {a_file}: not a folder\n"


def test_version_and_help_describe_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"llmproc-mcp {version('llmproc')}\n"
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    usage, description = out.split("\n\n")[:2]  # usage names sys.argv[0] in-process
    assert usage.startswith("Usage: ") and description.strip().startswith("Serve llmproc programs to an MCP host")
    # Every option says what it is for (a default alone is not help).
    assert [o.name for o in _command.params if isinstance(o, click.Option) and not o.help and not o.hidden] == []
    assert "--preview-chars" in out and "Characters of a too-long answer" in out
