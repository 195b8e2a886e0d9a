"""Which MCP servers a program uses, and how to reach each: `ServerSpec`s from its program.

Servers come from two places, merged (inline wins on a name in both):
- an mcpServers file (`[mcp] config_path`), the format of Claude Desktop and `.mcp.json`:
  `{"mcpServers": {"name": {"command": ..., "args": [...], "env": {...}, "cwd": ...}}}` for stdio,
  `{"type": "http", "url": ..., "headers": {...}}` for streamable HTTP;
- `[mcp.servers.NAME]` tables in the program (validated by `llmproc.config.schema`).

`${VAR}` and `${VAR:-default}` in commands, arguments, env values, URLs and headers are read
from the environment when the process starts, so secrets stay out of the files; an HTTP
server's `bearer_token_env` names a variable holding its token. Keys other tools write into
shared mcpServers files (`disabled`, `timeout`, ...) are ignored with a warning; only
`[tools.mcp]` decides which servers start.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmproc.config.schema import HttpServer, StdioServer
from llmproc.errors import ProgramConfigError

if TYPE_CHECKING:
    from llmproc.program import LLMProgram

log = logging.getLogger(__name__)

_STDIO_KEYS = {"type", "command", "args", "env", "cwd"}
_HTTP_KEYS = {"type", "url", "headers", "bearer_token_env"}
_HTTP_TYPES = ("http", "streamable-http", "streamable_http", "streamableHttp")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class StdioSpec:
    name: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    source: str = ""  # where it was declared, for error messages

    def describe(self) -> str:
        return shlex.join([self.command, *self.args])


@dataclass(frozen=True)
class HttpSpec:
    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)  # secrets included: never log them
    source: str = ""
    sse: bool = False  # the legacy HTTP+SSE transport (2024-11-05 servers) instead of streamable HTTP

    def describe(self) -> str:
        return self.url


ServerSpec = StdioSpec | HttpSpec


def program_servers(program: LLMProgram, environ: Mapping[str, str] | None = None) -> dict[str, ServerSpec]:
    """The servers named in the program's `[tools.mcp]`, with variables expanded."""
    env = os.environ if environ is None else environ
    declared: dict[str, ServerSpec] = {}
    if program.mcp_config_path is not None:
        declared.update(read_mcp_file(program.mcp_config_path, env))
    section = program.config.mcp
    for name, server in (section.servers if section else {}).items():
        declared[name] = _inline(name, server, program, env)
    wanted = {}
    for name in program.config.tools.mcp:
        if name not in declared:
            where = (f"the mcpServers file {program.mcp_config_path}" if program.mcp_config_path
                     else "[mcp.servers]")
            known = ", ".join(sorted(declared)) or "none"
            raise ProgramConfigError(f"MCP server {name!r} is not declared in {where}; declared: {known}",
                                     path=program.path, key=f"tools.mcp.{name}")
        wanted[name] = declared[name]
    return wanted


def read_mcp_file(path: Path, environ: Mapping[str, str]) -> dict[str, ServerSpec]:
    """Parse an mcpServers JSON file; errors name the file and the key."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProgramConfigError(f"cannot read the MCP config file: {exc.strerror}", path=path) from None
    except ValueError as exc:
        raise ProgramConfigError(f"the MCP config file is not valid JSON: {exc}", path=path) from None
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise ProgramConfigError('expected an object {"mcpServers": {"name": {...}}}', path=path,
                                 key="mcpServers")
    return {name: _from_json(name, entry, path, environ) for name, entry in servers.items()}


def _from_json(name: str, entry: Any, path: Path, environ: Mapping[str, str]) -> ServerSpec:
    key = f"mcpServers.{name}"
    check = _Checker(path, key, environ)
    if not isinstance(entry, dict):
        raise check.error("", "expected an object with 'command' (stdio) or 'url' (http)")
    kind = entry.get("type", "http" if "url" in entry else "stdio")
    if kind not in ("stdio", "sse", *_HTTP_TYPES):
        raise check.error("type", f"unknown server type {kind!r}; use 'stdio', 'http' or 'sse'")
    is_http = kind in _HTTP_TYPES or kind == "sse"
    ignored = sorted(set(entry) - (_HTTP_KEYS if is_http else _STDIO_KEYS))
    if ignored:
        log.warning("%s: %s: ignoring key(s) %s", path, key, ", ".join(ignored))
    source = f"{path}: {key}"
    if is_http:
        headers = check.str_map(entry, "headers")
        token_env = check.optional_str(entry, "bearer_token_env")
        return HttpSpec(name, check.expand(check.required_str(entry, "url"), "url"),
                        _with_bearer(headers, token_env, check), source, sse=kind == "sse")
    cwd = check.optional_str(entry, "cwd")
    return StdioSpec(
        name,
        check.expand(check.required_str(entry, "command"), "command"),
        tuple(check.expand(a, f"args[{i}]") for i, a in enumerate(check.str_list(entry, "args"))),
        check.str_map(entry, "env"),
        (path.parent / check.expand(cwd, "cwd")).resolve() if cwd else None,
        source,
    )


def _inline(name: str, server: StdioServer | HttpServer, program: LLMProgram,
            environ: Mapping[str, str]) -> ServerSpec:
    key = f"mcp.servers.{name}"
    check = _Checker(program.path, key, environ)
    source = f"{program.path or '<program>'}: {key}"
    if isinstance(server, HttpServer):
        headers = {k: check.expand(v, f"headers.{k}") for k, v in server.headers.items()}
        return HttpSpec(name, check.expand(server.url, "url"),
                        _with_bearer(headers, server.bearer_token_env, check), source, sse=server.type == "sse")
    return StdioSpec(
        name,
        check.expand(server.command, "command"),
        tuple(check.expand(a, f"args[{i}]") for i, a in enumerate(server.args)),
        {k: check.expand(v, f"env.{k}") for k, v in server.env.items()},
        (program.base_dir / check.expand(server.cwd, "cwd")).resolve() if server.cwd else None,
        source,
    )


def _with_bearer(headers: dict[str, str], token_env: str | None, check: _Checker) -> dict[str, str]:
    if token_env is None:
        return headers
    token = check.environ.get(token_env)
    if not token:
        raise check.error("bearer_token_env", f"the environment variable {token_env} (the bearer token) is "
                                              "not set; export it or put it in a .env file")
    return {**headers, "Authorization": f"Bearer {token}"}


@dataclass
class _Checker:
    """Type checks and `${VAR}` expansion for one server entry, with errors naming file and key."""

    path: Path | None
    key: str
    environ: Mapping[str, str]

    def error(self, sub: str, message: str) -> ProgramConfigError:
        return ProgramConfigError(message, path=self.path, key=f"{self.key}.{sub}" if sub else self.key)

    def expand(self, value: str, sub: str) -> str:
        def one(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = self.environ.get(name)
            if found is None:
                if default is None:
                    raise self.error(sub, f"the environment variable {name} is not set "
                                          f"(write ${{{name}:-default}} for a fallback)")
                return default
            return found

        return _VAR.sub(one, value)

    def required_str(self, entry: dict[str, Any], sub: str) -> str:
        value = entry.get(sub)
        if not isinstance(value, str) or not value:
            raise self.error(sub, "required: a non-empty string")
        return value

    def optional_str(self, entry: dict[str, Any], sub: str) -> str | None:
        value = entry.get(sub)
        if value is not None and not isinstance(value, str):
            raise self.error(sub, "expected a string")
        return value

    def str_list(self, entry: dict[str, Any], sub: str) -> list[str]:
        value = entry.get(sub, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(sub, "expected a list of strings")
        return value

    def str_map(self, entry: dict[str, Any], sub: str) -> dict[str, str]:
        value = entry.get(sub, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self.error(sub, "expected an object of strings")
        return {k: self.expand(v, f"{sub}.{k}") for k, v in value.items()}
