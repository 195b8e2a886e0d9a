"""What the model reads about file descriptors: previews, pages, summaries.

Every text states what is shown and how much there is ("page 2 of 31", "lines 101-200 of
3,000"), and how to get the rest, so nothing is ever cut silently. Content goes between
`<fd_preview>` / `<fd_read>` tags so the model can tell it from these notes.
Character ranges are shown as half-open `start:end`, the way read_fd takes them.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmproc.fd.manager import FileDescriptor, Selection
from llmproc.fd.paging import cut_point

READ_TOOL = "read_fd"  # the tools' own names; a program may show them under aliases
WRITE_TOOL = "fd_to_file"


def n(value: int) -> str:
    return f"{value:,}"


def size_text(fd: FileDescriptor) -> str:
    """'123,456 characters, 3,000 lines, 31 pages'"""
    pages = "1 page" if fd.page_count == 1 else f"{n(fd.page_count)} pages"
    lines = "1 line" if fd.line_count == 1 else f"{n(fd.line_count)} lines"
    return f"{n(fd.length)} characters, {lines}, {pages}"


def describe(fd: FileDescriptor) -> str:
    """One line for listings: 'fd:1: 123,456 characters, 3,000 lines, 31 pages (tool read_file)'."""
    source = f" ({fd.source})" if fd.source else ""
    return f"{fd.id}: {size_text(fd)}{source}"


def _call(read_tool: str, fd_id: str, **args: int) -> str:
    rendered = ", ".join(f"{key}={value}" for key, value in args.items())
    return f'{read_tool}(fd="{fd_id}", {rendered})'


def _body(text: str) -> str:
    return text if text.endswith("\n") or not text else text + "\n"


def preview_end(fd: FileDescriptor, limit: int) -> int:
    """Where the preview of `fd` stops: it shows `content[:preview_end(fd, limit)]`, page 1 cut
    to `limit` characters (at a line break when one is in the second half of the limit)."""
    start, end = fd.pages.page_bounds(1)
    return cut_point(fd.content, start, end, limit)


def preview(fd: FileDescriptor, *, limit: int, what: str = "This output", read_tool: str = READ_TOOL) -> str:
    """The message shown instead of content that became `fd`: its first page (cut to `limit`
    characters if the page is longer), its size, and how to read the rest (with `read_tool`,
    the name the model knows read_fd by)."""
    stop, end = preview_end(fd, limit), fd.pages.page_bounds(1)[1]
    head = (f'<fd_preview fd="{fd.id}" chars="{fd.length}" lines="{fd.line_count}" '
            f'pages="{fd.page_count}">\n')
    shown = fd.content[:stop]
    lines = "1 line" if fd.line_count == 1 else f"{n(fd.line_count)} lines"
    note = (f"{what} is {n(fd.length)} characters ({lines}), too long to show whole, so it is "
            f"stored as {fd.id}")
    if stop < end:
        note += (f"; above are its characters 0:{stop} (part of page 1 of {fd.page_count}). "
                 f"Read on with {_call(read_tool, fd.id, start_char=stop)}")
    elif fd.page_count > 1:
        note += (f"; above is page 1 of {fd.page_count}. Read on with {_call(read_tool, fd.id, page=2)} "
                 f"(up to page={fd.page_count})")
    else:
        note += "; all of it is shown above"
    note += (f". {read_tool} also reads line ranges (start_line, end_line) and character ranges "
             "(start_char, end_char).")
    return head + _body(shown) + "</fd_preview>\n" + note


def selection(sel: Selection, *, continue_with: dict[str, int] | None = None,
              read_tool: str = READ_TOOL) -> str:
    """A read_fd result: the selected text with where it is in the fd, and what comes next.
    `continue_with` gives the arguments that read on after a truncated line/char read."""
    fd = sel.fd
    attrs = [f'fd="{fd.id}"']
    if sel.page is not None:
        attrs.append(f'page="{sel.page} of {fd.page_count}"')
    first, last = (sel.first_line, sel.last_line) if sel.end > sel.start else (0, 0)
    attrs.append(f'lines="{first}-{last} of {fd.line_count}"')
    attrs.append(f'chars="{sel.start}:{sel.end} of {fd.length}"')
    out = f"<fd_read {' '.join(attrs)}>\n{_body(sel.text)}</fd_read>\n"
    cont = " (the last line continues there)" if sel.ends_mid_line else ""
    if sel.page is not None:
        if sel.page < fd.page_count:
            following = _call(read_tool, fd.id, page=sel.page + 1)
            return out + f"[page {sel.page} of {fd.page_count}; next: {following}{cont}]"
        return out + f"[page {sel.page} of {fd.page_count}: the end of {fd.id}]"
    if sel.truncated:
        args = continue_with or {"start_char": sel.end}
        return out + (f"[cut at {n(sel.end - sel.start)} characters, the most one read returns; "
                      f"continue with {_call(read_tool, fd.id, **args)}{cont}]")
    if sel.end >= fd.length:
        return out + f"[the end of {fd.id}]"
    if sel.ends_mid_line:
        return out + f"[{fd.id} continues at character {sel.end}]"
    return out + f"[{fd.id} continues at line {sel.last_line + 1}]"


def extracted(new: FileDescriptor, sel: Selection, *, read_tool: str = READ_TOOL,
              write_tool: str = WRITE_TOOL) -> str:
    first, last = sel.first_line, sel.last_line
    return (f"Extracted lines {first}-{last} (characters {sel.start}:{sel.end}) of {sel.fd.id} into "
            f"{new.id}: {size_text(new)}. Use {new.id} with {read_tool} or {write_tool}.")


def listing(fds: Iterable[FileDescriptor]) -> str:
    """Lines describing fds, e.g. for a child process that starts with them preloaded."""
    return "\n".join(describe(fd) for fd in fds)


def preloaded_notice(fds: Iterable[FileDescriptor], *, read_tool: str = READ_TOOL) -> str:
    """A block to put into a spawned process's first message: which fds it already has."""
    body = listing(fds)
    if not body:
        return ""
    return (f"<preloaded_fds>\nThese file descriptors are available to you; read them with {read_tool}:\n"
            f"{body}\n</preloaded_fds>")


__all__ = ["describe", "extracted", "listing", "preloaded_notice", "preview", "preview_end", "selection",
           "size_text"]
