"""Server settings: one frozen dataclass, filled from CLI flags with environment variables as
fallback (flag > env var > default). `parse_args(argv)` is what `llmproc-mcp` runs.

Security rules are checked here, before anything listens: HTTP on an address other than loopback
needs a bearer token, and the limits must be positive. A violation is a `SettingsError` whose
message says which flag or variable to set.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import click

from llmproc_mcp.clients import HTTP_LOCAL, ClientsError, Credential, read_clients_file

ENV_PREFIX = "LLMPROC_MCP_"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MAX_PROGRESS_INTERVAL_S = 5.0  # hosts give up on silent calls: never go longer without news


class SettingsError(ValueError):
    """Invalid settings; the message names the flag and the environment variable."""


@dataclass(frozen=True)
class ServerSettings:
    program_dirs: tuple[Path, ...] = ()
    transport: Literal["stdio", "http"] = "stdio"
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = field(default=None, repr=False)
    clients: tuple[Credential, ...] = field(default=(), repr=False)  # --clients FILE (clients.py)
    allowed_hosts: tuple[str, ...] = ()  # extra Host header values (a reverse proxy's name)
    wait_s: float = 90.0  # a call returns its pid as `running` after this; `wait` collects later
    progress_interval_s: float = 4.0
    max_answer_chars: int = 20_000  # longer answers become an fd with a preview
    preview_chars: int = 4_000
    page_chars: int = 10_000  # read_fd page size for answer fds
    max_processes: int = 32  # runs at once; more wait (status `queued`)
    max_queued: int = 1000  # runs waiting for a slot; run_program/spawn/fork/send past it are refused
    # Static rate limits for every provider account the programs use (the smaller of the server's
    # and a program's [limits] wins), for servers that announce none in their headers.
    requests_per_minute: int | None = None
    input_tokens_per_minute: int | None = None
    state_dir: Path | None = None  # None: nothing persists (library use, tests)
    store: str | None = None  # a store file or URL (PostgreSQL) shared with other servers; wins over state_dir
    new_store_if_damaged: bool = False  # a damaged SQLite file is moved aside (else: one error line, exit 2)
    is_command: bool = False  # run by `llmproc-mcp` (parse_args), not embedded: may end the process itself
    idle_s: float = 600.0  # a finished process idle this long is closed (state kept); 0: never
    cwd: Path | None = None  # processes' working directory (their file tools' root); None: the server's
    workers: int = 1  # HTTP: server processes on one port (workers.py)
    worker_fd: int | None = None  # set by the supervisor: this process is a worker on that socket
    stateless: bool = False  # HTTP without sessions (several instances behind a load balancer)
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        positive = {"wait_s": self.wait_s, "progress_interval_s": self.progress_interval_s,
                    "max_answer_chars": self.max_answer_chars, "preview_chars": self.preview_chars,
                    "page_chars": self.page_chars, "max_processes": self.max_processes}
        for name, value in positive.items():
            if value <= 0:
                raise SettingsError(f"{name} must be positive, not {value} "
                                    f"(flag --{name.replace('_', '-')}, env {ENV_PREFIX}{name.upper()})")
        if self.max_queued < 0:
            raise SettingsError(f"max_queued must be 0 (never queue) or positive, not {self.max_queued} "
                                f"(flag --max-queued, env {ENV_PREFIX}MAX_QUEUED)")
        for name in ("requests_per_minute", "input_tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise SettingsError(f"{name} must be positive, not {value} "
                                    f"(flag --{name.replace('_', '-')}, env {ENV_PREFIX}{name.upper()})")
        if self.idle_s < 0:
            raise SettingsError(f"idle_s must be 0 (never close idle processes) or positive, not {self.idle_s} "
                                f"(flag --idle, env {ENV_PREFIX}IDLE_S)")
        if self.progress_interval_s > MAX_PROGRESS_INTERVAL_S:
            raise SettingsError(f"progress_interval_s must be at most {MAX_PROGRESS_INTERVAL_S} s: hosts "
                                "drop calls that stay silent longer")
        if self.preview_chars > self.max_answer_chars:
            raise SettingsError("preview_chars must not exceed max_answer_chars")
        if self.workers < 1:
            raise SettingsError(f"workers must be at least 1, not {self.workers} (flag --workers)")
        if self.workers > 1 and self.transport != "http":
            raise SettingsError("--workers serves HTTP: add --http (a stdio server has one host)")
        if self.workers > 1 and self.state_dir is None and self.store is None:
            raise SettingsError("--workers needs a store the workers share: drop --no-state")
        if self.transport == "http" and not is_loopback(self.host) and not self.requires_token:
            raise SettingsError(
                f"--host {self.host} is reachable from other machines: set a bearer token with --token "
                f"or {ENV_PREFIX}TOKEN, or one per client with --clients FILE (clients send "
                "`Authorization: Bearer <token>`)")

    @property
    def requires_token(self) -> bool:
        return bool(self.token or self.clients)

    def credentials(self) -> tuple[Credential, ...]:
        """Every token HTTP accepts, with the client it stands for."""
        own = (Credential(self.token.encode(), HTTP_LOCAL),) if self.token else ()
        return own + self.clients


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_state_dir() -> Path:
    """A folder of its own under llmproc's state directory, so the server's saved processes stay
    out of `llmproc ps` ($LLMPROC_STATE_DIR, else $XDG_STATE_HOME/llmproc, + /mcp)."""
    from llmproc.store.sqlite import state_dir

    return state_dir() / "mcp"


def _env(name: str) -> str:
    return ENV_PREFIX + name


@click.command(name="llmproc-mcp", context_settings={"help_option_names": ["-h", "--help"]},
               help="Serve llmproc programs to an MCP host (Claude Code, Codex, Gemini CLI, ...) as tools that "
                    "run, spawn, fork and wait for processes; stdio by default, or streamable HTTP.")
@click.version_option(package_name="llmproc", prog_name="llmproc-mcp", message="%(prog)s %(version)s",
                      help="Show the version and exit.")
@click.option("--programs", "program_dirs", multiple=True, envvar=_env("PROGRAMS"),
              type=click.Path(path_type=Path),  # a missing folder or a file: check_program_dirs
              help=f"Folder whose *.toml programs are registered by file name (repeatable; "
                   f"{_env('PROGRAMS')} takes folders separated by '{os.pathsep}').")
@click.option("--http", "http", is_flag=True, envvar=_env("HTTP"),
              help="Serve streamable HTTP instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, envvar=_env("HOST"),
              help="HTTP address; anything but loopback requires --token.")
@click.option("--port", default=8765, show_default=True, type=int, envvar=_env("PORT"), help="HTTP port.")
@click.option("--token", default=None, envvar=_env("TOKEN"),
              help="Bearer token HTTP clients must send (always checked when set); its processes are the "
              "local user's.")
@click.option("--clients", "clients_file", default=None, envvar=_env("CLIENTS"),
              type=click.Path(dir_okay=False, path_type=Path),
              help="TOML file of HTTP clients, one token each ([clients.NAME] token = ..., admin = true|false): "
              "each client sees only its own processes; admins see all.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, envvar=_env("ALLOWED_HOSTS"),
              help="Extra Host header accepted by the DNS-rebinding check: the name clients use, e.g. mcp.example.com (with :PORT only when their URL has one).")
@click.option("--wait", "wait_s", default=90.0, show_default=True, type=float, envvar=_env("WAIT_S"),
              help="Seconds a call waits before returning the pid with status running.")
@click.option("--progress-interval", "progress_interval_s", default=4.0, show_default=True, type=float,
              envvar=_env("PROGRESS_INTERVAL_S"), help="Seconds between progress notifications (<= 5).")
@click.option("--max-answer-chars", default=20_000, show_default=True, type=int,
              envvar=_env("MAX_ANSWER_CHARS"), help="Longer answers come back as a preview and an fd.")
@click.option("--preview-chars", default=4_000, show_default=True, type=int, envvar=_env("PREVIEW_CHARS"),
              help="Characters of a too-long answer returned as its preview (the rest is read with read_fd).")
@click.option("--page-chars", default=10_000, show_default=True, type=int, envvar=_env("PAGE_CHARS"),
              help="read_fd page size.")
@click.option("--max-processes", default=32, show_default=True, type=int, envvar=_env("MAX_PROCESSES"),
              help="Processes running at once; more are queued.")
@click.option("--max-queued", default=1000, show_default=True, type=int, envvar=_env("MAX_QUEUED"),
              help="Runs waiting for a free slot; run_program, spawn, fork and send past it are refused.")
@click.option("--requests-per-minute", default=None, type=int, envvar=_env("REQUESTS_PER_MINUTE"),
              help="Model requests per minute per provider account, for every program (the smaller of this "
              "and a program's [limits] wins) [default: learned from the provider's headers].")
@click.option("--input-tokens-per-minute", default=None, type=int, envvar=_env("INPUT_TOKENS_PER_MINUTE"),
              help="Input tokens per minute per provider account, for every program (as --requests-per-minute).")
@click.option("--state-dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              envvar=_env("STATE_DIR"), help="Where the process table is stored "
              "[default: $LLMPROC_STATE_DIR/mcp or $XDG_STATE_HOME/llmproc/mcp].")
@click.option("--idle", "idle_s", default=600.0, show_default=True, type=float, envvar=_env("IDLE_S"),
              help="Seconds after which a finished process is closed to free memory and its MCP servers; "
              "its state stays in the store and `send`/`fork` bring it back. 0: never (so with --no-state).")
@click.option("--cwd", default=None, type=click.Path(file_okay=False, exists=True, path_type=Path),
              envvar=_env("CWD"), help="Working directory of the processes, the root their file tools "
              "see [default: the server's own].")
@click.option("--store", default=None, envvar="LLMPROC_STORE",
              help="The process table's store: a SQLite file or a postgresql:// URL, which several servers "
              "(and machines) may share [default: --state-dir's].")
@click.option("--new-store-if-damaged", is_flag=True, envvar=_env("NEW_STORE_IF_DAMAGED"),
              help="When the store's SQLite file is damaged, move it aside (FILE.damaged-<UTC time>) and start "
              "a new one; without it the server exits 2 saying so.")
@click.option("--workers", default=1, show_default=True, type=int, envvar=_env("WORKERS"),
              help="HTTP: serve the port from this many processes sharing the store (one per core).")
@click.option("--stateless", is_flag=True, envvar=_env("STATELESS"),
              help="HTTP without MCP sessions, for several instances behind a load balancer "
              "(implied by --workers).")
@click.option("--worker-fd", "worker_fd", default=None, type=int, hidden=True)
@click.option("--no-state", is_flag=True, envvar=_env("NO_STATE"), help="Keep nothing across restarts.")
@click.option("--log-level", default="INFO", show_default=True, envvar=_env("LOG_LEVEL"),
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="What the server logs to stderr.")
def _command(program_dirs: tuple[Path, ...], http: bool, no_state: bool, state_dir: Path | None, store: str | None,
             allowed_hosts: tuple[str, ...], log_level: str, cwd: Path | None, clients_file: Path | None,
             **rest: Any) -> ServerSettings:  # the other options, as click typed them
    try:
        clients = read_clients_file(clients_file.expanduser()) if clients_file else ()
    except ClientsError as exc:
        raise SettingsError(str(exc)) from None
    hosts = tuple(h.strip() for item in allowed_hosts for h in item.split(",") if h.strip())
    return ServerSettings(
        program_dirs=tuple(p.expanduser().resolve() for p in program_dirs),
        transport="http" if http else "stdio",
        allowed_hosts=hosts,
        state_dir=None if no_state else (state_dir or default_state_dir()).expanduser(),
        store=None if no_state else store,
        log_level=log_level.upper(),
        cwd=cwd.resolve() if cwd else None,
        clients=clients,
        is_command=True,
        **rest,
    )


def check_program_dirs(settings: ServerSettings, argv: Sequence[str] | None = None) -> None:
    """SettingsError for a program folder that does not exist or is a file. Checked when the
    server starts (`main`), not by `parse_args`, which also reads commands written for other
    machines (the docs' `/path/to/...`). `argv` tells whether the folders came from the flag or
    from LLMPROC_MCP_PROGRAMS."""
    args = list(sys.argv[1:] if argv is None else argv)
    from_flag = any(a == "--programs" or a.startswith("--programs=") for a in args)
    source = "" if from_flag or not os.environ.get(_env("PROGRAMS")) else f" (set by {_env('PROGRAMS')})"
    for folder in settings.program_dirs:
        if not folder.is_dir():
            problem = "not a folder" if folder.exists() else "no such folder"
            raise SettingsError(f"--programs {folder}: {problem}{source}")


def parse_args(argv: Sequence[str] | None = None) -> ServerSettings:
    """Settings from flags and environment variables; raises SettingsError or click errors."""
    result = _command.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    if not isinstance(result, ServerSettings):  # --help printed and returned 0
        raise click.exceptions.Exit(0)
    return result


__all__ = ["ServerSettings", "SettingsError", "check_program_dirs", "default_state_dir", "is_loopback",
           "parse_args"]
