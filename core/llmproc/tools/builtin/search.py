"""Read-only search tools: `glob` (find paths by pattern) and `grep` (find lines by regex).

Both walk with `walk.walk`, so they never follow a symlink out of the allowed roots and never
loop. Results are capped; a note says when a cap was reached. Patterns match with RE2 (linear
time, see `bounds`), the walk stops at its step and time budget, and grep opens regular files
only (a FIFO in the tree is skipped, never waited on).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field

from llmproc.errors import ToolError
from llmproc.tools.base import ToolContext, tool
from llmproc.tools.builtin.files import BINARY_SNIFF_BYTES
from llmproc.tools.builtin.bounds import Budget, Matcher, compile_regex, run_bounded
from llmproc.tools.builtin.walk import MAX_ENTRIES_VISITED, Entry, WalkStats, glob_depth, glob_regex, walk
from llmproc.tools.paths import display_path, open_regular, resolve_inside

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


def _walk_note(stats: WalkStats, budget: Budget) -> str | None:
    if not stats.truncated:
        return None
    if stats.reason == "entries":
        return f"[search stopped after {MAX_ENTRIES_VISITED} entries; search a smaller directory]"
    return (f"[search stopped after {budget.seconds:.0f} s ({stats.visited} entries visited); "
            "search a smaller directory or use a narrower pattern]")


@tool(read_only=True)
async def glob(pattern: str, path: str = ".", *, ctx: ToolContext) -> str:
    """Find files and directories whose path matches a glob pattern, like "*.py" or
    "src/**/*.md". Results are sorted paths relative to the searched directory; directories end
    in "/".

    Args:
        pattern: The pattern: "*" and "?" match within one path segment, "**" matches any
            number of directories, "[abc]" matches one of the characters.
        path: The directory to search in, relative to the working directory or absolute.
    """
    return await run_bounded("glob", lambda budget: _glob(pattern, path, ctx, budget))


def _glob(pattern: str, path: str, ctx: ToolContext, budget: Budget) -> str:
    norm = _pattern(pattern)
    root = _search_root(path, ctx)
    if not root.is_dir():
        raise ToolError(f"{path!r} is a file, not a directory")
    regex = glob_regex(norm)
    stats = WalkStats()
    results: list[str] = []
    total = 0
    for entry in walk(root, ctx.allowed_roots, max_depth=glob_depth(norm), stats=stats, budget=budget):
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
    note = _walk_note(stats, budget)
    return "\n".join(out + ([note] if note else []))


def _grep_file(entry: Entry, shown: str, regex: Matcher, limit: int, out: list[str], budget: Budget) -> str:
    """Append matching lines of one file to `out` (up to `limit` in all); say how it went."""
    if entry.size is not None and entry.size > MAX_GREP_FILE_BYTES:
        return "large"
    try:
        with os.fdopen(open_regular(entry.path, shown=shown), "rb") as f:
            if b"\0" in f.read(BINARY_SNIFF_BYTES):
                return "binary"
            f.seek(0)
            for number, raw in enumerate(f, start=1):
                if number % 4096 == 0 and budget.spent():
                    return "stopped"
                line = raw.rstrip(b"\r\n")  # RE2's $ matches at the very end only
                if regex.search(line):
                    text = line.decode("utf-8", errors="replace")
                    if len(text) > MAX_MATCH_LINE_CHARS:
                        text = text[:MAX_MATCH_LINE_CHARS] + " [...]"
                    out.append(f"{shown}:{number}: {text}")
                    if len(out) >= limit:
                        return "full"
    except ToolError:  # a FIFO, device or socket: never opened for reading
        return "special"
    except OSError:
        return "unreadable"
    return "ok"


@tool(read_only=True)
async def grep(
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
        pattern: A regular expression (RE2 syntax: Python's without backreferences or
            lookaround), for example "def \\w+\\(" or "TODO|FIXME".
        path: A directory to search (recursively) or a single file.
        glob: Only search files whose path below `path` matches this glob, for example "**/*.py".
        ignore_case: Match letters regardless of case.
        max_results: Stop after this many matching lines.
    """
    regex = compile_regex(pattern, ignore_case=ignore_case)
    return await run_bounded(
        "grep", lambda budget: _grep(pattern, regex, path, glob, max_results, ctx, budget))


def _grep(pattern: str, regex: Matcher, path: str, glob: str, max_results: int, ctx: ToolContext,
          budget: Budget) -> str:
    root = _search_root(path, ctx)
    stats = WalkStats()
    if root.is_dir():
        norm = _pattern(glob)
        file_glob = glob_regex(norm)
        entries = (e for e in walk(root, ctx.allowed_roots, max_depth=glob_depth(norm), stats=stats,
                                   budget=budget)
                   if not e.is_dir and file_glob.fullmatch(e.rel))
    else:
        with os.fdopen(open_regular(root, shown=repr(path)), "rb"):
            pass  # a single file that is a FIFO, device or socket: refused with one line
        entries = iter([Entry(root.name, root, False, root.stat().st_size)])
        root = root.parent

    results: list[str] = []
    searched = 0
    skipped: dict[str, int] = {}
    full = False
    for entry in entries:
        searched += 1
        outcome = _grep_file(entry, display_path(root / entry.rel, ctx), regex, max_results, results, budget)
        if outcome == "full":
            full = True
            break
        if outcome == "stopped" or budget.spent():
            stats.truncated, stats.reason = True, budget.reason or "stopped"
            break
        if outcome != "ok":
            skipped[outcome] = skipped.get(outcome, 0) + 1

    out = results or [f"no matches for {pattern!r} in {path!r} ({searched} files searched)"]
    if full:
        out.append(f"[stopped at {max_results} matches; narrow the pattern, path or glob, or raise "
                   f"max_results (up to {MAX_GREP_RESULTS})]")
    if skipped and not results:
        out.append("[skipped: " + ", ".join(f"{n} {kind}" for kind, n in sorted(skipped.items())) + "]")
    note = _walk_note(stats, budget)
    return "\n".join(out + ([note] if note else []))
