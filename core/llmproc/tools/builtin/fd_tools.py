"""`read_fd` and `fd_to_file`: the model's tools for file descriptors.

They reach the calling process's fd table through the tool context (`ctx.fd_table`, see
`FDContext`); a context without one gets an error that says how to enable file descriptors.
What a read shows is `llmproc.fd.read.read_text`'s, shared with the MCP server's read_fd.
`read_fd` returns an `FDView`, a `ToolOutput` marked `bounded`, which the engine passes through
as is: a page is already bounded, and storing it as a new fd would only send the model in circles.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, Protocol

from llmproc.errors import FDError, ToolError
from llmproc.fd.manager import FDTable
from llmproc.fd.read import read_text
from llmproc.tools.base import Tool, ToolContext, ToolOutput, tool
from llmproc.tools.builtin.bounds import Budget, run_bounded
from llmproc.tools.paths import display_path, open_regular, resolve_inside

if TYPE_CHECKING:
    from llmproc.fd.manager import FileDescriptor

WRITE_CHUNK_CHARS = 1 << 20  # bounds the encoded copy held while writing a large fd


class FDContext(ToolContext, Protocol):
    @property
    def fd_table(self) -> FDTable | None:
        """The process's file descriptors; None when they are not enabled."""
        ...


@dataclass(frozen=True, slots=True)
class FDView(ToolOutput):
    """A bounded view of an fd (a page, a range, an extraction notice): never stored as a new fd."""

    bounded: bool = True


def table_of(ctx: ToolContext) -> FDTable:
    table = getattr(ctx, "fd_table", None)
    if table is None:
        raise ToolError("file descriptors are not enabled for this process; "
                        "set `enabled = true` in the program's [file_descriptor] section")
    return table


@tool(read_only=True)
async def read_fd(
    fd: str,
    ctx: FDContext,
    page: int | None = None,
    start_line: int | None = None,
    end_line: int | None = None,
    start_char: int | None = None,
    end_char: int | None = None,
    extract_to_new_fd: bool = False,
) -> ToolOutput:
    """Read a file descriptor (a long output stored as fd:N) by page, by line range or by
    character range. With no range it reads page 1. Give one kind of range only.

    Args:
        fd: The file descriptor id, e.g. "fd:3" or "fd:ref:name".
        page: The page to read, from 1; the result says "page x of y".
        start_line: First line to read (lines count from 1).
        end_line: Last line to read, inclusive (default: as many lines as one read returns).
        start_char: First character to read (characters count from 0).
        end_char: Where to stop, exclusive as in Python slices (default: as much as one read returns).
        extract_to_new_fd: Store the selection as a new fd (no size limit) instead of returning
            its text; use it to hand part of an output to fd_to_file or to another process.
    """
    table = table_of(ctx)
    try:
        return FDView(read_text(table, fd, page=page, start_line=start_line, end_line=end_line,
                                start_char=start_char, end_char=end_char, extract_to_new_fd=extract_to_new_fd))
    except FDError as err:
        raise ToolError(str(err)) from None


@tool
async def fd_to_file(
    fd: str,
    path: str,
    ctx: FDContext,
    mode: Literal["write", "append"] = "write",
    overwrite: bool = False,
) -> str:
    """Write the whole content of a file descriptor to a file. Missing parent directories are
    created. An existing file is only replaced with overwrite=true, or added to with
    mode="append".

    Args:
        fd: The file descriptor id, e.g. "fd:3" or "fd:ref:name".
        path: The file to write, relative to the working directory or absolute.
        mode: "write" creates (or, with overwrite, replaces) the file; "append" adds to its end.
        overwrite: Allow mode="write" to replace an existing file.
    """
    return await run_bounded("fd_to_file", lambda budget: _fd_to_file(fd, path, ctx, mode, overwrite, budget))


def _fd_to_file(fd: str, path: str, ctx: FDContext, mode: str, overwrite: bool, budget: Budget) -> str:
    table = table_of(ctx)
    try:
        descriptor = table.get(fd)
    except FDError as err:
        raise ToolError(str(err)) from None
    target = resolve_inside(path, ctx)  # the file may not exist yet: its resolved path is checked
    shown = display_path(target, ctx)
    if target.is_dir():
        raise ToolError(f"{path!r} is a directory; give a file path")
    existed = target.exists()
    if mode == "write" and existed and not overwrite:
        raise ToolError(f"{shown} already exists; call again with overwrite=true to replace it, "
                        'or with mode="append" to add to it')
    how = os.O_APPEND if mode == "append" else (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _write(target, os.O_WRONLY | os.O_CREAT | how, descriptor, budget, shown)
    except FileExistsError:
        raise ToolError(f"{shown} was created meanwhile; call again with overwrite=true to replace it") \
            from None
    except OSError as err:
        raise ToolError(f"cannot write {shown}: {err.strerror or err}") from None
    lines = "1 line" if descriptor.line_count == 1 else f"{descriptor.line_count:,} lines"
    size = f"{descriptor.length:,} characters, {lines}"
    if mode == "append":
        done = "appended to" if existed else "written to the new file"
        return f"{descriptor.id} {done} {shown} ({size}); the file is now {target.stat().st_size:,} bytes."
    if existed:
        return f"{shown} replaced with {descriptor.id} ({size})."
    return f"{descriptor.id} written to {shown} ({size})."


def _write(target: Path, flags: int, descriptor: FileDescriptor, budget: Budget, shown: str) -> None:
    """Write to a regular file only (a FIFO or device is refused, never waited on); stop between
    chunks when the call timed out or was cancelled."""
    content = descriptor.content
    with open(open_regular(target, flags, shown=shown), "w", encoding="utf-8", newline="") as f:
        for start in range(0, len(content), WRITE_CHUNK_CHARS):
            if budget.spent():
                raise ToolError(f"writing {shown} took more than {budget.seconds:.0f} s; stopped with "
                                f"{start:,} of {len(content):,} characters written")
            f.write(content[start:start + WRITE_CHUNK_CHARS])


FD_TOOLS: Mapping[str, Tool] = MappingProxyType({t.name: t for t in (read_fd, fd_to_file)})

__all__ = ["FDContext", "FDView", "FD_TOOLS", "fd_to_file", "read_fd", "table_of"]
