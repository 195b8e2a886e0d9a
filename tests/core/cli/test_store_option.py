"""`--store PATH_OR_URL` of `llmproc-demo --save/--resume`, `llmproc ps` and `llmproc rm`, and
$LLMPROC_STORE when it is absent: the real console scripts against a SQLite file and a real
PostgreSQL server; a wrong location is one `error:` line (exit 2), an unreachable one exit 1."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from llmproc.cli import demo, main
from llmproc.store import open_store

ROOT = Path(__file__).resolve().parents[3]
ECHO = ROOT / "examples" / "scripted" / "echo.toml"


def script(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"console script {name} is not installed"
    return found


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No LLMPROC_STORE, and a default store of its own that the commands must not touch."""
    environ = {k: v for k, v in os.environ.items() if k != "LLMPROC_STORE"}
    return {**environ, "LLMPROC_STATE_DIR": str(tmp_path / "default-state")}


def run(env: dict[str, str], name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script(name), *map(str, args)], capture_output=True, text=True, timeout=60,
                          env=env, cwd=ROOT)


def texts(location: str, name: str) -> list[str]:
    store = open_store(location)
    try:
        state = store.load(name)
    finally:
        store.close()
    return ["".join(p.get("text", "") for p in m["parts"]) for m in state["history"]]


def names_in(env: dict[str, str], *store: str) -> list[str]:
    listed = run(env, "llmproc", "ps", "--json", *store)
    assert listed.returncode == 0, listed.stderr
    return [p["name"] for p in json.loads(listed.stdout)]


def save_list_resume_remove(env: dict[str, str], location: str, *flag: str) -> None:
    """The round trip a user makes: save in one command, list, resume in another, remove."""
    first = run(env, "llmproc-demo", ECHO, "-p", "hi", "--save", "notes", *flag)
    assert (first.returncode, first.stdout) == (0, "hi\n"), first.stderr
    table = run(env, "llmproc", "ps", *flag)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "PROGRAM", "TURNS"]
    assert [r.split()[:3] for r in rows] == [["notes", "examples/scripted/echo.toml", "1"]]
    second = run(env, "llmproc-demo", "--resume", "notes", "-p", "again", *flag)  # PROGRAM from the save
    assert (second.returncode, second.stdout) == (0, "again\n"), second.stderr
    assert texts(location, "notes") == ["hi", "hi", "again", "again"]
    taken = run(env, "llmproc-demo", ECHO, "-p", "x", "--save", "notes", *flag)
    assert taken.returncode == 2 and "--resume notes" in taken.stderr
    removed = run(env, "llmproc", "rm", "notes", *flag)
    assert removed.returncode == 0 and "removed notes" in removed.stderr, removed.stderr
    assert names_in(env, *flag) == []


def test_store_flag_with_a_sqlite_file(env: dict[str, str], tmp_path: Path) -> None:
    db = str(tmp_path / "team.db")
    save_list_resume_remove(env, db, "--store", db)
    assert not Path(env["LLMPROC_STATE_DIR"]).exists()  # the default store was never opened
    saved = run(env, "llmproc-demo", ECHO, "-p", "hi", "--save", "kept", "--store", f"sqlite:///{db}")
    assert saved.returncode == 0, saved.stderr
    # The hint to continue names the store the flag chose.
    assert f"continue with: llmproc-demo --resume kept --store {db}]" in saved.stderr
    assert names_in(env, "--store", db) == ["kept"] and names_in(env) == []


def test_llmproc_store_is_the_store_when_the_flag_is_absent(env: dict[str, str], tmp_path: Path) -> None:
    db = str(tmp_path / "from-env.db")
    env["LLMPROC_STORE"] = f"sqlite:///{db}"
    save_list_resume_remove(env, db)
    assert not Path(env["LLMPROC_STATE_DIR"]).exists()
    other = str(tmp_path / "flag.db")  # the flag wins over the variable
    assert run(env, "llmproc-demo", ECHO, "-p", "hi", "--save", "flagged", "--store", other).returncode == 0
    assert names_in(env, "--store", other) == ["flagged"] and names_in(env) == []


def test_store_flag_with_postgresql(env: dict[str, str], postgres_url: str) -> None:
    save_list_resume_remove(env, postgres_url, "--store", postgres_url)
    assert run(env, "llmproc-demo", ECHO, "-p", "shared", "--save", "team", "--store", postgres_url).returncode == 0
    env["LLMPROC_STORE"] = postgres_url  # and named by the variable instead
    assert names_in(env) == ["team"]
    resumed = run(env, "llmproc-demo", "--resume", "team", "-p", "more")
    assert (resumed.returncode, resumed.stdout) == (0, "more\n"), resumed.stderr
    assert texts(postgres_url, "team") == ["shared", "shared", "more", "more"]
    assert not Path(env["LLMPROC_STATE_DIR"]).exists()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens on it once the socket is closed


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("location", ["ftp://host/x", "sqlite://host/x.db", "sqlite:///", " "])
def test_a_wrong_location_is_a_configuration_error(location: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    for run_cli, argv in ((main.run, ["ps", "--store", location]), (main.run, ["rm", "x", "--store", location]),
                          (demo.run, [str(ECHO), "-p", "hi", "--save", "x", "--store", location])):
        assert run_cli(argv) == 2
        one_error_line(capsys)


def test_llmproc_store_wrong_location_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LLMPROC_STORE", "mysql://host/db")
    assert main.run(["ps"]) == 2
    assert "unknown store URL scheme 'mysql://'" in one_error_line(capsys)


def test_missing_psycopg_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delitem(sys.modules, "llmproc.store.postgres", raising=False)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    assert main.run(["ps", "--store", "postgresql://me@localhost/db"]) == 2
    assert one_error_line(capsys) == 'error: a PostgreSQL store needs psycopg: pip install "llmproc[postgres]"'


def test_a_malformed_postgresql_url_is_a_configuration_error(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("psycopg")
    assert main.run(["ps", "--store", f"postgresql://127.0.0.1:{closed_port()}/db?no_such_option=1"]) == 2
    assert "no_such_option" in one_error_line(capsys)


def test_an_unreachable_postgresql_is_exit_1_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://me:hunter2@127.0.0.1:{closed_port()}/db"
    for run_cli, argv in ((main.run, ["ps", "--store", url]), (main.run, ["rm", "x", "--store", url]),
                          (demo.run, ["--resume", "x", "-p", "hi", "--store", url])):
        assert run_cli(argv) == 1
        line = one_error_line(capsys)
        assert "cannot open the process store postgresql://me:***@127.0.0.1" in line and "hunter2" not in line


def test_an_unopenable_sqlite_file_is_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main.run(["ps", "--store", str(blocker / "sub" / "x.db")]) == 1  # its directory cannot be made
    assert "cannot open the process store" in one_error_line(capsys)


def test_store_without_save_or_resume_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.run([str(ECHO), "-p", "hi", "--store", str(tmp_path / "x.db")]) == 2
    assert "--store goes with --save NAME or --resume NAME" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("argv", [["llmproc", "ps"], ["llmproc", "rm"], ["llmproc-demo"]])
def test_help_shows_the_store_option(argv: list[str]) -> None:
    shown = subprocess.run([script(argv[0]), *argv[1:], "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "--store PATH_OR_URL" in shown.stdout
    assert "postgresql://" in shown.stdout and "$LLMPROC_STORE" in shown.stdout
