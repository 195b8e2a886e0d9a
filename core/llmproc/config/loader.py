"""Read one program file (or dict): parse TOML, validate, resolve paths against its folder.

Linking programs into a graph is `llmproc.program`'s job; this module handles one program at a
time and reports every problem as a `ProgramConfigError` naming the file and the dotted key.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llmproc.config import legacy, rules
from llmproc.config.errors import config_error
from llmproc.config.schema import LinkedProgramEntry, McpToolEntry, ProgramConfig, ToolEntry
from llmproc.errors import ProgramConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Tool names a program may enable. Kept here (not imported from tools/) so that loading a
# program never imports the tool implementations.
KNOWN_TOOLS = (
    "spawn", "fork", "goto", "exec", "read_fd", "fd_to_file",
    "calculator", "read_file", "list_dir", "glob", "grep",
)


# A program file nested deeper than this (tables or arrays within each other) is refused: no real
# program comes close, and Python's parsers and validators recurse once per level.
MAX_NESTING = 100
# A system_prompt_file or preload file larger than this is refused at load (each file).
MAX_PROMPT_FILE_BYTES = 1_048_576


@dataclass(frozen=True)
class LinkSpec:
    name: str
    path: Path
    description: str


@dataclass(frozen=True)
class ResolvedProgram:
    """A validated program with every path made absolute and the system prompt read."""

    config: ProgramConfig
    path: Path | None
    base_dir: Path
    source_hash: str
    system_prompt: str
    preload_files: tuple[Path, ...]
    allowed_roots: tuple[Path, ...]
    mcp_config_path: Path | None
    links: tuple[LinkSpec, ...]


def read_toml(path: Path) -> tuple[dict[str, Any], bytes]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProgramConfigError("program file not found", path=path) from None
    except OSError as exc:
        raise ProgramConfigError(f"cannot read program file: {exc.strerror}", path=path) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProgramConfigError("program file is not UTF-8 text", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ProgramConfigError(f"invalid TOML: {exc}", path=path) from None
    except RecursionError:
        raise _too_deep(path) from None
    check_nesting(data, path)
    return data, raw


def _too_deep(path: Path | None) -> ProgramConfigError:
    return ProgramConfigError(f"nested more than {MAX_NESTING} levels deep", path=path)


def check_nesting(data: Any, path: Path | None) -> None:
    """Refuse tables and arrays nested more than MAX_NESTING levels (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            raise _too_deep(path)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


def read_prompt_file(file: Path, *, key: str, where: Path | None) -> str:
    """The text of a system_prompt_file or preload file: a regular file of at most
    MAX_PROMPT_FILE_BYTES (stat first, opened without blocking, so a FIFO or /dev/zero never hangs)."""
    check_prompt_file(file, key=key, where=where)
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ProgramConfigError(f"not a regular file: {file}", path=where, key=key)
            data = f.read(MAX_PROMPT_FILE_BYTES + 1)
    except OSError as exc:
        raise ProgramConfigError(f"cannot read {file}: {exc.strerror or exc}", path=where, key=key) from None
    if len(data) > MAX_PROMPT_FILE_BYTES:
        raise _too_big(file, key, where)
    return data.decode("utf-8", errors="replace")


def check_prompt_file(file: Path, *, key: str, where: Path | None, missing_ok: bool = False) -> None:
    try:
        st = os.stat(file)
    except FileNotFoundError:
        if missing_ok:
            return
        raise ProgramConfigError(f"file not found: {file}", path=where, key=key) from None
    except OSError as exc:
        raise ProgramConfigError(f"cannot read {file}: {exc.strerror or exc}", path=where, key=key) from None
    if not stat.S_ISREG(st.st_mode):
        raise ProgramConfigError(f"not a regular file: {file}", path=where, key=key)
    if st.st_size > MAX_PROMPT_FILE_BYTES:
        raise _too_big(file, key, where)


def _too_big(file: Path, key: str, where: Path | None) -> ProgramConfigError:
    return ProgramConfigError(f"file larger than {MAX_PROMPT_FILE_BYTES} bytes: {file}", path=where, key=key)


def validate(data: dict[str, Any], path: Path | None) -> ProgramConfig:
    upgraded = legacy.upgrade(data, path)
    config = _validate(upgraded, path)
    upgraded.log_warnings()
    return config


def _validate(upgraded: legacy.Upgraded, path: Path | None) -> ProgramConfig:
    """The program's config: the original LLMProc's spellings upgraded (legacy.py), the schema
    checked, then the parameter combinations the provider APIs reject (rules.py)."""
    try:
        config = ProgramConfig.model_validate(upgraded.data)
        rules.check(config, path)
    except ValidationError as exc:
        raise _as_written(config_error(exc, upgraded.data, ProgramConfig, path), upgraded.written_as) from None
    except ProgramConfigError as exc:
        raise _as_written(exc, upgraded.written_as) from None
    return config


def _as_written(error: ProgramConfigError, written_as: dict[str, str]) -> ProgramConfigError:
    """`error` naming the key as the file spells it, when legacy.py moved that key."""
    key = error.key or ""
    for new, old in written_as.items():
        if key == new or key.startswith((new + ".", new + "[")):
            return ProgramConfigError(error.detail, path=error.path, key=old + key[len(new):])
    return error


def resolve(data: dict[str, Any], *, path: Path | None, base_dir: Path, raw: bytes | None = None) -> ResolvedProgram:
    check_nesting(data, path)
    try:
        upgraded = legacy.upgrade(data, path)
        config = _validate(upgraded, path)
    except RecursionError:
        raise _too_deep(path) from None
    try:
        resolved = _resolve_valid(config, data, path=path, base_dir=base_dir, raw=raw)
    except ProgramConfigError as exc:
        raise _as_written(exc, upgraded.written_as) from None
    upgraded.log_warnings()
    return resolved


def _resolve_valid(config: ProgramConfig, data: dict[str, Any], *, path: Path | None, base_dir: Path,
                   raw: bytes | None) -> ResolvedProgram:
    where = path

    def local(p: str) -> Path:
        return (base_dir / Path(p).expanduser()).resolve()

    system_prompt = config.prompt.system_prompt or ""
    if config.prompt.system_prompt_file:
        file = local(config.prompt.system_prompt_file)
        system_prompt = read_prompt_file(file, key="prompt.system_prompt_file", where=where)
    preload_files = tuple(local(f) for f in config.preload.files)
    for i, file in enumerate(preload_files):  # a missing one is a warning when the prompt is built
        check_prompt_file(file, key=f"preload.files[{i}]", where=where, missing_ok=True)

    shown: dict[str, str] = {}  # name the model sees -> key that gives it
    for i, entry in enumerate(config.tools.enabled):
        name = entry.name if isinstance(entry, ToolEntry) else entry
        if name not in KNOWN_TOOLS:
            close = difflib.get_close_matches(name, KNOWN_TOOLS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known tools: {', '.join(KNOWN_TOOLS)}"
            raise ProgramConfigError(f"unknown tool {name!r}; {hint}", path=where, key=f"tools.enabled[{i}]")
        visible = (entry.alias if isinstance(entry, ToolEntry) else None) or name
        _claim(shown, visible, f"tools.enabled[{i}]", where)
    for server, picked in config.tools.mcp.items():
        for i, item in enumerate(picked if isinstance(picked, list) else []):
            if isinstance(item, McpToolEntry) and item.alias:
                _claim(shown, item.alias, f"tools.mcp.{server}[{i}]", where)

    roots = []
    for i, root in enumerate(config.tools.allowed_roots):
        resolved = local(root)
        if not resolved.is_dir():
            raise ProgramConfigError(f"allowed root is not a directory: {resolved}", path=where,
                                     key=f"tools.allowed_roots[{i}]")
        roots.append(resolved)

    mcp_config_path = None
    if config.mcp and config.mcp.config_path:
        mcp_config_path = local(config.mcp.config_path)
        if not mcp_config_path.is_file():
            raise ProgramConfigError(f"MCP config file not found: {mcp_config_path}", path=where,
                                     key="mcp.config_path")
    for server in config.tools.mcp:
        inline = config.mcp.servers if config.mcp else {}
        if server not in inline and mcp_config_path is None:
            raise ProgramConfigError(
                f"MCP server {server!r} is not declared: add [mcp.servers.{server}] or [mcp] config_path",
                path=where, key=f"tools.mcp.{server}")

    links = []
    for name, entry in config.linked_programs.items():
        spec = entry if isinstance(entry, LinkedProgramEntry) else LinkedProgramEntry(path=entry)
        target = local(spec.path)
        if not target.is_file():
            raise ProgramConfigError(f"linked program file not found: {target}", path=where,
                                     key=f"linked_programs.{name}")
        links.append(LinkSpec(name, target, spec.description))

    if raw is None:
        raw = json.dumps(data, sort_keys=True, default=str).encode()
    return ResolvedProgram(
        config=config,
        path=path,
        base_dir=base_dir,
        source_hash=hashlib.sha256(raw).hexdigest(),
        system_prompt=system_prompt,
        preload_files=preload_files,
        allowed_roots=tuple(roots),
        mcp_config_path=mcp_config_path,
        links=tuple(links),
    )


def _claim(shown: dict[str, str], visible: str, key: str, where: Path | None) -> None:
    """Two tools the model would see under one name (after aliasing) is a load-time error."""
    if visible in shown:
        raise ProgramConfigError(f"tool name {visible!r} is already used by {shown[visible]}; "
                                 "give one of them another alias", path=where, key=key)
    shown[visible] = key


def resolve_file(path: Path) -> ResolvedProgram:
    path = path.expanduser().resolve()
    data, raw = read_toml(path)
    return resolve(data, path=path, base_dir=path.parent, raw=raw)
