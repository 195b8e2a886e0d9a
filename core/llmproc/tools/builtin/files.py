"""Read-only file tools: `read_file` and `list_dir`, confined to the allowed roots.

Outputs are capped so one call cannot flood a context window, and every cap that bites says
so in a note that tells the model how to get the rest.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import Field

from llmproc.errors import ToolError
from llmproc.tools.base import ToolContext, tool
from llmproc.tools.builtin.bounds import Budget, run_bounded
from llmproc.tools.builtin.walk import entry_for, scan
from llmproc.tools.paths import display_path, open_regular, resolve_inside

MAX_READ_LINES = 2000  # per call
DEFAULT_READ_LINES = 500
MAX_READ_CHARS = 100_000  # per call
MAX_LINE_CHARS = 2000  # longer lines are cut
MAX_LIST_ENTRIES = 500
BINARY_SNIFF_BYTES = 8192

L = TypeVar("L", str, bytes)


def is_binary(path: Path, shown: str | None = None) -> bool:
    """A NUL byte near the start is what marks a file as binary (as git and grep do). Only
    regular files are opened (ToolError for FIFOs, devices, sockets)."""
    with os.fdopen(open_regular(path, shown=shown), "rb") as f:
        return b"\0" in f.read(BINARY_SNIFF_BYTES)


def checked(lines: Iterable[L], budget: Budget, path: str) -> Iterator[L]:
    """`lines`, stopping with a ToolError when the budget is spent (time out or cancelled)."""
    for number, line in enumerate(lines):
        if number % 4096 == 0 and budget.spent():
            raise ToolError(f"reading {path!r} took more than {budget.seconds:.0f} s; stopped")
        yield line


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def existing_file(path: str, ctx: ToolContext) -> Path:
    """Resolve `path` inside the roots and check it is a readable text file."""
    target = resolve_inside(path, ctx)
    if not target.exists():
        raise ToolError(f"no such file: {path!r}")
    if target.is_dir():
        raise ToolError(f"{path!r} is a directory; use list_dir or glob to see its contents")
    try:
        binary = is_binary(target, repr(path))
    except OSError as err:
        raise ToolError(f"cannot read {path!r}: {err.strerror or err}") from None
    if binary:
        raise ToolError(f"{path!r} is a binary file ({human_size(target.stat().st_size)}); "
                        "read_file only reads text")
    return target


@tool(read_only=True)
async def read_file(
    path: str,
    ctx: ToolContext,
    offset_line: Annotated[int, Field(ge=1)] = 1,
    max_lines: Annotated[int, Field(ge=1, le=MAX_READ_LINES)] = DEFAULT_READ_LINES,
) -> str:
    """Read a text file. Long files are returned in parts: a note at the end says how to
    continue.

    Args:
        path: The file to read, relative to the working directory or absolute.
        offset_line: The first line to return (1 is the first line of the file).
        max_lines: How many lines to return at most.
    """
    return await run_bounded("read_file", lambda budget: _read_file(path, ctx, offset_line, max_lines, budget))


def _read_file(path: str, ctx: ToolContext, offset_line: int, max_lines: int, budget: Budget) -> str:
    target = existing_file(path, ctx)
    lines: list[str] = []
    chars = 0
    more = False  # the file goes on after the lines returned
    try:
        with open(open_regular(target, shown=repr(path)), encoding="utf-8", errors="replace", newline="") as f:
            numbered = enumerate(checked(f, budget, path), start=1)
            for number, line in numbered:
                if number < offset_line:
                    continue
                if number >= offset_line + max_lines:
                    more = True
                    break
                if len(line) > MAX_LINE_CHARS:
                    line = line[:MAX_LINE_CHARS] + f" [... line cut at {MAX_LINE_CHARS} characters]\n"
                if lines and chars + len(line) > MAX_READ_CHARS:
                    more = True
                    break
                lines.append(line)
                chars += len(line)
            total = None if more else offset_line - 1 + len(lines)
    except OSError as err:
        raise ToolError(f"cannot read {path!r}: {err.strerror or err}") from None

    if not lines:
        if offset_line == 1:
            return f"({display_path(target, ctx)} is empty)"
        with os.fdopen(open_regular(target, shown=repr(path)), "rb") as f:
            count = sum(1 for _ in checked(f, budget, path))
        raise ToolError(f"offset_line {offset_line} is past the end of {path!r} "
                        f"(it has {count} lines)")
    text = "".join(lines)
    last = offset_line + len(lines) - 1
    if more:
        if not text.endswith("\n"):
            text += "\n"
        text += (f"[showing lines {offset_line}-{last}; the file continues: call read_file with "
                 f"offset_line={last + 1} to read more]")
    elif offset_line > 1:
        if not text.endswith("\n"):
            text += "\n"
        text += f"[showing lines {offset_line}-{last} of {total}]"
    return text


@tool(read_only=True)
async def list_dir(path: str = ".", *, ctx: ToolContext) -> str:
    """List a directory: one entry per line, sorted, directories ending in "/", files with their
    size.

    Args:
        path: The directory to list, relative to the working directory or absolute.
    """
    return await run_bounded("list_dir", lambda _: _list_dir(path, ctx))


def _list_dir(path: str, ctx: ToolContext) -> str:
    target = resolve_inside(path, ctx)
    if not target.exists():
        raise ToolError(f"no such directory: {path!r}")
    if not target.is_dir():
        raise ToolError(f"{path!r} is a file, not a directory; use read_file to read it")
    lines: list[str] = []
    total = 0
    for dirent, _ in scan(target, ctx.allowed_roots):
        entry = entry_for(dirent, dirent.name, ctx.allowed_roots)
        if entry is None:
            continue  # a link out of the allowed roots, or gone meanwhile
        total += 1
        if len(lines) < MAX_LIST_ENTRIES:
            link = " (symlink)" if dirent.is_symlink() else ""
            if entry.is_dir:
                lines.append(f"{entry.rel}/{link}")
            else:
                lines.append(f"{entry.rel}  {human_size(entry.size or 0)}{link}")
    if not lines:
        return f"({display_path(target, ctx)} is empty)"
    if total > len(lines):
        lines.append(f"[showing {len(lines)} of {total} entries; use glob to find specific names]")
    return "\n".join(lines)
