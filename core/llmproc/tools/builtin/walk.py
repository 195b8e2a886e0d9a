"""Walking a directory tree without leaving the allowed roots, and glob matching.

The walker never descends through a symlinked directory (that is how trees loop and how they
leak out of the roots); a symlink is reported only if its target is inside an allowed root,
and then as what it points to. Entries come in sorted order so results are stable. A walk
stops after MAX_ENTRIES_VISITED entries, or when its `Budget` is spent (deadline, or the stop
flag set when the call timed out or was cancelled): the check is inside the loop, so an
abandoned walk does not keep running. Globs compile to RE2 regexes (linear time).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from itertools import islice
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from llmproc.tools.builtin.bounds import Budget, Matcher, compile_glob
from llmproc.tools.paths import is_inside

MAX_ENTRIES_VISITED = 200_000  # a walk stops here; callers say so


@dataclass(frozen=True, slots=True)
class Entry:
    rel: str  # posix path relative to the walk's root
    path: Path  # where to read it (the symlink target for links)
    is_dir: bool
    size: int | None  # bytes, for files


@dataclass
class WalkStats:
    visited: int = 0
    truncated: bool = False  # stopped early
    reason: str = "entries"  # why: "entries" (MAX_ENTRIES_VISITED), "time" or "stopped"


def entry_for(dirent: os.DirEntry[str], rel: str, roots: Sequence[Path]) -> Entry | None:
    """Describe one directory entry; None for links leaving the roots and vanished files."""
    try:
        if not dirent.is_symlink():  # the common case: DirEntry caches what it knows
            is_dir = dirent.is_dir()
            return Entry(rel, Path(dirent.path), is_dir, None if is_dir else dirent.stat().st_size)
        path = Path(dirent.path).resolve()
        if not is_inside(path, roots) or not path.exists():
            return None
        is_dir = path.is_dir()
        return Entry(rel, path, is_dir, None if is_dir else path.stat().st_size)
    except (OSError, RuntimeError):  # permission problems, races, symlink loops
        return None


def scan(directory: Path, roots: Sequence[Path]) -> list[tuple[os.DirEntry[str], bool]]:
    """Sorted entries of one directory, with "may descend" (a real directory, not a link)."""
    try:
        with os.scandir(directory) as it:  # a huge directory is cut: the walk stops there anyway
            entries = sorted(islice(it, MAX_ENTRIES_VISITED + 1), key=lambda d: d.name)
    except OSError:
        return []
    out = []
    for d in entries:
        try:
            out.append((d, d.is_dir(follow_symlinks=False)))
        except OSError:
            continue
    return out


def walk(root: Path, roots: Sequence[Path], *, max_depth: int | None = None,
         stats: WalkStats | None = None, budget: Budget | None = None) -> Iterator[Entry]:
    """Yield every entry below `root` (depth first, sorted), `max_depth` levels deep at most;
    stop early (stats.truncated) at MAX_ENTRIES_VISITED or when `budget` is spent."""
    stats = stats if stats is not None else WalkStats()
    stack: list[tuple[Path, str, int]] = [(root, "", 1)]
    while stack:
        directory, prefix, depth = stack.pop()
        children = []
        for dirent, descend in scan(directory, roots):
            stats.visited += 1
            if stats.visited > MAX_ENTRIES_VISITED:
                stats.truncated = True
                return
            if budget is not None and stats.visited % 64 == 0 and budget.spent():
                stats.truncated, stats.reason = True, budget.reason or "stopped"
                return
            entry = entry_for(dirent, prefix + dirent.name, roots)
            if entry is None:
                continue
            yield entry
            if descend and (max_depth is None or depth < max_depth):
                children.append((Path(dirent.path), entry.rel + "/", depth + 1))
        stack.extend(reversed(children))


@lru_cache(maxsize=128)
def glob_regex(pattern: str) -> Matcher:
    """Compile a glob: `*` and `?` stay within one path segment, `**` spans any number of
    segments (zero included), `[...]` is a character class. Repeated `**` segments are one."""
    parts: list[str | None] = []
    for segment in pattern.strip("/").split("/"):
        if segment == "**":
            if parts and parts[-1] is None:
                continue
            parts.append(None)
            continue
        out, i = "", 0
        while i < len(segment):
            c = segment[i]
            if c == "*":
                out += "[^/]*"
            elif c == "?":
                out += "[^/]"
            elif c == "[" and (end := segment.find("]", i + 2)) != -1:
                body = segment[i + 1:end]
                out += "[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]"
                i = end
            else:
                out += re.escape(c)
            i += 1
        parts.append(out)
    regex = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part is None:
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += part + ("" if last else "/")
    return compile_glob(regex)


def glob_depth(pattern: str) -> int | None:
    """How deep a walk has to go for `pattern` (None: unbounded, it has `**`)."""
    segments = pattern.strip("/").split("/")
    return None if "**" in segments else len(segments)
