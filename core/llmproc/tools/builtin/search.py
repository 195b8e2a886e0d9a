"""Read-only search tools: `glob` (find paths by pattern) and `grep` (find lines by regex).

Both walk with `walk.walk`, so they never follow a symlink out of the allowed roots and never
loop. Results are capped; a note says when a cap was reached.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field

from llmproc.errors import ToolError
from llmproc.tools.base import ToolContext, tool
from llmproc.tools.builtin.files import BINARY_SNIFF_BYTES
from llmproc.tools.builtin.walk import MAX_ENTRIES_VISITED, Entry, WalkStats, glob_depth, glob_regex, walk
from llmproc.tools.paths import display_path, resolve_inside

MAX_GLOB_RESULTS = 500
MAX_GREP_RESULTS = 1000
DEFAULT_GREP_RESULTS = 100
MAX_GREP_FILE_BYTES = 10_000_000  # larger files are skipped (and counted)
MAX_MATCH_LINE_CHARS = 300


def _search_root(path: str, ctx: ToolContext) -> Path:
    root = resolve_inside(path, ctx)
    if not root.exists():
        raise ToolError(f"no such file or directory: {path!r}")
    return root


def _pattern(pattern: str) -> str:
    """Normalize a glob pattern relative to the search root; refuse ones that leave it."""
    segments = [s for s in pattern.replace("\\", "/").split("/") if s not in ("", ".")]
    if pattern.startswith("/") or ".." in segments:
        raise ToolError(f"glob pattern {pattern!r} must be relative to the search path and stay inside "
                        "it; pass the directory as `path` instead")
    if not segments:
        raise ToolError("empty glob pattern; for example '*.py' or '**/*.md'")
    return "/".join(segments)


def _walk_note(stats: WalkStats) -> str | None:
    if stats.truncated:
        return f"[search stopped after {MAX_ENTRIES_VISITED} entries; search a smaller directory]"
    return None


@tool(read_only=True)
def glob(pattern: str, path: str = ".", *, ctx: ToolContext) -> str:
    """Find files and directories whose path matches a glob pattern, like "*.py" or
    "src/**/*.md". Results are sorted paths relative to the searched directory; directories end
    in "/".

    Args:
        pattern: The pattern: "*" and "?" match within one path segment, "**" matches any
            number of directories, "[abc]" matches one of the characters.
        path: The directory to search in, relative to the working directory or absolute.
    """
    norm = _pattern(pattern)
    root = _search_root(path, ctx)
    if not root.is_dir():
        raise ToolError(f"{path!r} is a file, not a directory")
    regex = glob_regex(norm)
    stats = WalkStats()
    results: list[str] = []
    total = 0
    for entry in walk(root, ctx.allowed_roots, max_depth=glob_depth(norm), stats=stats):
        if regex.fullmatch(entry.rel):
            total += 1
            if len(results) < MAX_GLOB_RESULTS:
                results.append(entry.rel + "/" if entry.is_dir else entry.rel)
    where = display_path(root, ctx)
    if not results:
        out = [f"no paths match {pattern!r} in {where}"]
    else:
        out = ([] if root == ctx.cwd else [f"[paths relative to {where}]"]) + results
        if total > len(results):
            out.append(f"[showing {len(results)} of {total} matches; use a narrower pattern]")
    note = _walk_note(stats)
    return "\n".join(out + ([note] if note else []))


def _grep_file(entry: Entry, shown: str, regex: re.Pattern[str], limit: int, out: list[str]) -> str:
    """Append matching lines of one file to `out` (up to `limit` in all); say how it went."""
    if entry.size is not None and entry.size > MAX_GREP_FILE_BYTES:
        return "large"
    try:
        with entry.path.open("rb") as f:
            if b"\0" in f.read(BINARY_SNIFF_BYTES):
                return "binary"
        with entry.path.open("r", encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, start=1):
                if regex.search(line):
                    text = line.rstrip("\r\n")
                    if len(text) > MAX_MATCH_LINE_CHARS:
                        text = text[:MAX_MATCH_LINE_CHARS] + " [...]"
                    out.append(f"{shown}:{number}: {text}")
                    if len(out) >= limit:
                        return "full"
    except OSError:
        return "unreadable"
    return "ok"


@tool(read_only=True)
def grep(
    pattern: str,
    path: str = ".",
    glob: str = "**/*",
    ignore_case: bool = False,
    max_results: Annotated[int, Field(ge=1, le=MAX_GREP_RESULTS)] = DEFAULT_GREP_RESULTS,
    *,
    ctx: ToolContext,
) -> str:
    """Search text files for lines matching a regular expression. Each result is
    "file:line: text", with the file relative to the working directory. Binary files are
    skipped.

    Args:
        pattern: A Python regular expression, for example "def \\w+\\(" or "TODO|FIXME".
        path: A directory to search (recursively) or a single file.
        glob: Only search files whose path below `path` matches this glob, for example "**/*.py".
        ignore_case: Match letters regardless of case.
        max_results: Stop after this many matching lines.
    """
    try:
        regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as err:
        raise ToolError(f"invalid regular expression {pattern!r}: {err}") from None
    root = _search_root(path, ctx)
    stats = WalkStats()
    if root.is_dir():
        norm = _pattern(glob)
        file_glob = glob_regex(norm)
        entries = (e for e in walk(root, ctx.allowed_roots, max_depth=glob_depth(norm), stats=stats)
                   if not e.is_dir and file_glob.fullmatch(e.rel))
    else:
        entries = iter([Entry(root.name, root, False, root.stat().st_size)])
        root = root.parent

    results: list[str] = []
    searched = 0
    skipped: dict[str, int] = {}
    full = False
    for entry in entries:
        searched += 1
        outcome = _grep_file(entry, display_path(root / entry.rel, ctx), regex, max_results, results)
        if outcome == "full":
            full = True
            break
        if outcome != "ok":
            skipped[outcome] = skipped.get(outcome, 0) + 1

    out = results or [f"no matches for {pattern!r} in {path!r} ({searched} files searched)"]
    if full:
        out.append(f"[stopped at {max_results} matches; narrow the pattern, path or glob, or raise "
                   f"max_results (up to {MAX_GREP_RESULTS})]")
    if skipped and not results:
        out.append("[skipped: " + ", ".join(f"{n} {kind}" for kind, n in sorted(skipped.items())) + "]")
    note = _walk_note(stats)
    return "\n".join(out + ([note] if note else []))
