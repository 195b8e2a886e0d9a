"""One read of a file descriptor, as the reader sees it: by page, by line range or by character
range, with where it is in the fd and how to read on.

Both readers of fds call `read_text`: the `read_fd` tool of a process and the `read_fd` tool of
the MCP server, so a read cut to the limit says "continue with ..." in the unit the reader used
(lines stay lines) whichever of them it was.
"""

from __future__ import annotations

from llmproc.errors import FDError
from llmproc.fd import render
from llmproc.fd.manager import FDTable, Selection


def read_text(table: FDTable, fd: str, *, page: int | None = None, start_line: int | None = None,
              end_line: int | None = None, start_char: int | None = None, end_char: int | None = None,
              extract_to_new_fd: bool = False) -> str:
    """The text one read returns: page 1 when no range is given; one kind of range only.
    With `extract_to_new_fd` the selection (no size limit) becomes a new fd and the text says
    which. Raises FDError (unknown fd, a range out of bounds, two kinds of range)."""
    lines = start_line is not None or end_line is not None
    chars = start_char is not None or end_char is not None
    if (page is not None) + lines + chars > 1:
        raise FDError("give one kind of range: page, or start_line/end_line, or start_char/end_char")
    limit = None if extract_to_new_fd else table.max_read_chars
    if lines:
        sel = table.read_lines(fd, start_line or 1, end_line, limit=limit)
    elif chars:
        sel = table.read_chars(fd, start_char or 0, end_char, limit=limit)
    else:
        sel = table.read_page(fd, 1 if page is None else page)
    if extract_to_new_fd:
        return render.extracted(table.extract(sel), sel, read_tool=table.read_tool, write_tool=table.write_tool)
    return render.selection(sel, continue_with=_continuation(sel, lines, end_line, end_char),
                            read_tool=table.read_tool)


def _continuation(sel: Selection, by_lines: bool, end_line: int | None,
                  end_char: int | None) -> dict[str, int] | None:
    """The arguments that read on after a read cut to the limit, in the unit the reader used."""
    if not sel.truncated:
        return None
    if by_lines and not sel.ends_mid_line:
        args = {"start_line": sel.last_line + 1}
        if end_line is not None:
            args["end_line"] = end_line
        return args
    args = {"start_char": sel.end}
    if end_char is not None:
        args["end_char"] = end_char
    return args


__all__ = ["read_text"]
