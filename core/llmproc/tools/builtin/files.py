"""Read-only file tools: `read_file` and `list_dir`, confined to the allowed roots.

Outputs are capped so one call cannot flood a context window, and every cap that bites says
so in a note that tells the model how to get the rest.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Annotated

from pydantic import Field

from llmproc.errors import ToolError
from llmproc.tools.base import ToolContext, tool
from llmproc.tools.builtin.walk import entry_for, scan
from llmproc.tools.paths import display_path, resolve_inside

MAX_READ_LINES = 2000  # per call
DEFAULT_READ_LINES = 500
MAX_READ_CHARS = 100_000  # per call
MAX_LINE_CHARS = 2000  # longer lines are cut
MAX_LIST_ENTRIES = 500
BINARY_SNIFF_BYTES = 8192


def is_binary(path: Path) -> bool:
    """A NUL byte near the start is what marks a file as binary (as git and grep do)."""
    with path.open("rb") as f:
        return b"\0" in f.read(BINARY_SNIFF_BYTES)


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
        binary = is_binary(target)
    except OSError as err:
        raise ToolError(f"cannot read {path!r}: {err.strerror or err}") from None
    if binary:
        raise ToolError(f"{path!r} is a binary file ({human_size(target.stat().st_size)}); "
                        "read_file only reads text")
    return target


@tool(read_only=True)
def read_file(
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
    target = existing_file(path, ctx)
    lines: list[str] = []
    chars = 0
    cut_by_chars = False
    try:
        with target.open("r", encoding="utf-8", errors="replace", newline="") as f:
            for line in islice(f, offset_line - 1, offset_line - 1 + max_lines):
                if len(line) > MAX_LINE_CHARS:
                    line = line[:MAX_LINE_CHARS] + f" [... line cut at {MAX_LINE_CHARS} characters]\n"
                if lines and chars + len(line) > MAX_READ_CHARS:
                    cut_by_chars = True
                    break
                lines.append(line)
                chars += len(line)
            more = cut_by_chars or next(f, None) is not None
            total = None if more else offset_line - 1 + len(lines)
    except OSError as err:
        raise ToolError(f"cannot read {path!r}: {err.strerror or err}") from None

    if not lines:
        if offset_line == 1:
            return f"({display_path(target, ctx)} is empty)"
        with target.open("rb") as f:
            count = sum(1 for _ in f)
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
def list_dir(path: str = ".", *, ctx: ToolContext) -> str:
    """List a directory: one entry per line, sorted, directories ending in "/", files with their
    size.

    Args:
        path: The directory to list, relative to the working directory or absolute.
    """
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
