"""Confinement of file tools to the process's allowed roots.

Every path a model gives goes through `resolve_inside`: relative paths are taken from the
context's working directory, then fully resolved (symlinks and `..` included) and accepted
only if the result lies inside one of `ctx.allowed_roots`. Checking the *resolved* path is
what stops both `../` escapes and symlinks pointing out of the roots. Tree walkers check each
symlink they meet with `is_inside` for the same reason.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from llmproc.errors import ToolError
from llmproc.tools.base import ToolContext


def is_inside(path: Path, roots: Sequence[Path]) -> bool:
    """True if the (already resolved) `path` is one of `roots` or below one of them."""
    return any(path == root or path.is_relative_to(root) for root in roots)


def roots_text(ctx: ToolContext) -> str:
    return ", ".join(str(root) for root in ctx.allowed_roots) or "(none)"


def resolve_inside(path: str | Path, ctx: ToolContext) -> Path:
    """Resolve `path` (relative to ctx.cwd) and return it if it is inside an allowed root;
    raise ToolError naming the allowed roots otherwise. The path need not exist."""
    raw = Path(path).expanduser()
    candidate = raw if raw.is_absolute() else Path(ctx.cwd) / raw
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as err:  # RuntimeError: symlink loop (Python < 3.13)
        raise ToolError(f"cannot resolve path {str(path)!r}: {err}") from None
    if not is_inside(resolved, ctx.allowed_roots):
        raise ToolError(
            f"access denied: {str(path)!r} resolves to {resolved}, which is outside the allowed "
            f"directories ({roots_text(ctx)}); use a path inside them")
    return resolved


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISDIR, "a directory"))


def special_kind(mode: int) -> str | None:
    """What a non-regular file is ("a named pipe (FIFO)", ...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def open_regular(path: Path, flags: int = os.O_RDONLY, shown: str | None = None) -> int:
    """Open `path` only if it is a regular file, without ever blocking on a FIFO or a device:
    stat before opening (no open at all for special files), then open with O_NONBLOCK and fstat
    the descriptor (the path may have been swapped meanwhile). Returns a blocking descriptor;
    OSError for the usual failures, ToolError (one line) for special files."""
    name = shown or str(path)
    try:
        kind = special_kind(os.stat(path).st_mode)
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise
        kind = None  # to be created
    if kind is not None:
        raise ToolError(f"{name} is {kind}; file tools only open regular files")
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY, 0o666)
    try:
        kind = special_kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise ToolError(f"{name} is {kind}; file tools only open regular files")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def display_path(path: Path, ctx: ToolContext) -> str:
    """How to show a path to the model: relative to the working directory when below it."""
    try:
        rel = path.relative_to(ctx.cwd)
    except ValueError:
        return str(path)
    return rel.as_posix() or "."
