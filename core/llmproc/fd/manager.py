"""The file descriptor table of one process.

A `FileDescriptor` is immutable: an id, the content (a `str`, kept by reference, never copied)
and its `PageTable`, computed once when the fd is created. That makes the lifecycle cheap:

- `copy()` (fork) makes a new table that shares every descriptor object; the two tables then
  evolve independently (new fds, replaced references) without touching each other;
- `adopt()` (spawn) puts chosen descriptors of another table into this one, keeping their ids;
- `to_dict()` / `from_dict()` (saved process state) keep ids, content and sources; page tables
  are rebuilt on load (one pass over the content).

Ids: `fd:1`, `fd:2`, ... in order of creation (tool outputs, paged user messages, extractions);
`fd:ref:NAME` for a reference the model marked in its answer (a newer reference of the same name
replaces the older one). `normalize_id` also accepts what models tend to write instead: `1`,
`fd1`, `ref:NAME`.

Reads return a `Selection` (offsets into the content plus line numbers); the text is sliced only
when asked for. Errors are `FDError`s whose message names the fd and the valid range.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmproc.errors import FDError
from llmproc.fd.paging import NEWLINE, PageTable, cut_point

if TYPE_CHECKING:
    from llmproc.config.schema import FileDescriptorSection

FORMAT_VERSION = 1
REF_PREFIX = "fd:ref:"
_NUMERIC = re.compile(r"^(?:fd)?\s*[:#]?\s*(\d+)$", re.IGNORECASE)
_MAX_IDS_LISTED = 20


def normalize_id(raw: str | int) -> str:
    """The canonical id for what a model wrote: 3, "3", "fd3", "fd:3" -> "fd:3";
    "ref:x", "fd:ref:x" -> "fd:ref:x". Anything else is returned stripped."""
    text = str(raw).strip().strip("\"'`")
    match = _NUMERIC.match(text)
    if match:
        return f"fd:{int(match.group(1))}"
    if text.lower().startswith("ref:"):
        return REF_PREFIX + text[4:]
    return text


@dataclass(frozen=True, slots=True, eq=False)
class FileDescriptor:
    id: str
    content: str = field(repr=False)
    source: str  # where the content came from, for people and for the model ("tool read_file")
    pages: PageTable = field(repr=False)

    @property
    def length(self) -> int:
        return self.pages.length

    @property
    def line_count(self) -> int:
        return self.pages.line_count

    @property
    def page_count(self) -> int:
        return self.pages.page_count


@dataclass(frozen=True, slots=True)
class Selection:
    """A part of an fd: `content[start:end]`. `page` is set when it was read by page;
    `truncated` when a line/character range was cut to the read limit."""

    fd: FileDescriptor
    start: int
    end: int
    page: int | None = None
    truncated: bool = False

    @property
    def text(self) -> str:
        return self.fd.content[self.start:self.end]

    @property
    def first_line(self) -> int:
        return self.fd.pages.line_of(self.fd.content, self.start)

    @property
    def last_line(self) -> int:
        return self.fd.pages.line_of(self.fd.content, max(self.start, self.end - 1))

    @property
    def ends_mid_line(self) -> bool:
        """True if the selection stops inside a line that continues after it."""
        return 0 < self.end < self.fd.length and self.fd.content[self.end - 1] != NEWLINE


class FDTable:
    """The fds of one process. `page_size` applies to fds created here; `max_direct_chars` is
    the longest output shown whole (longer ones become fds), and with the page size it bounds
    what one line or character read returns (`max_read_chars`)."""

    def __init__(self, *, page_size: int = 4000, max_direct_chars: int = 8000):
        if page_size < 1 or max_direct_chars < 1:
            raise ValueError("page_size and max_direct_chars must be at least 1")
        self.page_size = page_size
        self.max_direct_chars = max_direct_chars
        self._fds: dict[str, FileDescriptor] = {}
        self._next = 1
        # What the model calls read_fd and fd_to_file (a program may alias them); hints use these.
        self.read_tool, self.write_tool = "read_fd", "fd_to_file"

    @classmethod
    def from_config(cls, section: FileDescriptorSection) -> FDTable:
        return cls(page_size=section.default_page_size, max_direct_chars=section.max_direct_output_chars)

    @property
    def max_read_chars(self) -> int:
        return max(self.page_size, self.max_direct_chars)

    # -- the table ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._fds)

    def __iter__(self) -> Iterator[FileDescriptor]:
        return iter(list(self._fds.values()))

    def __contains__(self, fd_id: object) -> bool:
        return isinstance(fd_id, (str, int)) and normalize_id(fd_id) in self._fds

    @property
    def ids(self) -> list[str]:
        return list(self._fds)

    def get(self, fd_id: str | int) -> FileDescriptor:
        key = normalize_id(fd_id)
        found = self._fds.get(key)
        if found is None:
            raise FDError(f"unknown file descriptor {str(fd_id)!r}; {self._known()}")
        return found

    def select(self, fd_ids: Iterable[str | int]) -> list[FileDescriptor]:
        """The descriptors named, in order; one FDError naming every unknown id."""
        ids = list(fd_ids)
        unknown = [str(i) for i in ids if i not in self]
        if unknown:
            raise FDError(f"unknown file descriptor(s) {', '.join(map(repr, unknown))}; {self._known()}")
        return [self.get(i) for i in ids]

    def _known(self) -> str:
        if not self._fds:
            return "this process has no file descriptors yet"
        ids = list(self._fds)
        shown = ", ".join(ids[:_MAX_IDS_LISTED])
        more = f" and {len(ids) - _MAX_IDS_LISTED} more" if len(ids) > _MAX_IDS_LISTED else ""
        return f"this process has {shown}{more}"

    def create(self, content: str, *, source: str = "", fd_id: str | None = None) -> FileDescriptor:
        """Store `content` (by reference) as a new fd: `fd:N`, or `fd_id` when given (a
        reference name replaces an earlier fd of the same id)."""
        if not isinstance(content, str):
            raise TypeError(f"fd content must be str, not {type(content).__name__}")
        if fd_id is None:
            fd_id = f"fd:{self._next}"
        else:
            fd_id = normalize_id(fd_id)
        self._bump(fd_id)
        fd = FileDescriptor(fd_id, content, source, PageTable.build(content, self.page_size))
        self._fds[fd_id] = fd
        return fd

    def create_reference(self, name: str, content: str, *, source: str = "") -> FileDescriptor:
        return self.create(content, source=source, fd_id=REF_PREFIX + name)

    def _bump(self, fd_id: str) -> None:
        # Numbers are never reused, so `fd:N` always means the same content within a table.
        match = _NUMERIC.match(fd_id)
        if match:
            self._next = max(self._next, int(match.group(1)) + 1)

    # -- reading -----------------------------------------------------------------------------
    def read_page(self, fd_id: str | int, page: int) -> Selection:
        fd = self.get(fd_id)
        start, end = self._bounds(fd, lambda: fd.pages.page_bounds(page))
        return Selection(fd, start, end, page=page)

    def read_lines(self, fd_id: str | int, start_line: int, end_line: int | None = None, *,
                   limit: int | None = None) -> Selection:
        """Lines start_line..end_line inclusive (default: as many as `limit` allows)."""
        fd = self.get(fd_id)
        last = fd.line_count if end_line is None else end_line
        start, end = self._bounds(fd, lambda: fd.pages.line_bounds(fd.content, start_line, last))
        return self._limited(fd, start, end, limit)

    def read_chars(self, fd_id: str | int, start_char: int, end_char: int | None = None, *,
                   limit: int | None = None) -> Selection:
        """Characters start_char..end_char, half-open (default: as many as `limit` allows)."""
        fd = self.get(fd_id)
        start, end = self._bounds(fd, lambda: fd.pages.char_bounds(start_char, end_char))
        return self._limited(fd, start, end, limit)

    def extract(self, selection: Selection, *, source: str | None = None) -> FileDescriptor:
        """A new fd holding the selected text (its own pages, lines counted from 1)."""
        what = (f"page {selection.page}" if selection.page is not None
                else f"lines {selection.first_line}-{selection.last_line}")
        return self.create(selection.text, source=source or f"extract of {selection.fd.id} ({what})")

    @staticmethod
    def _bounds(fd: FileDescriptor, compute: Any) -> tuple[int, int]:
        try:
            return compute()
        except ValueError as err:
            raise FDError(f"{fd.id}: {err}") from None

    @staticmethod
    def _limited(fd: FileDescriptor, start: int, end: int, limit: int | None) -> Selection:
        if limit is None:
            return Selection(fd, start, end)
        stop = cut_point(fd.content, start, end, limit)
        return Selection(fd, start, stop, truncated=stop < end)

    # -- lifecycle ---------------------------------------------------------------------------
    def copy(self) -> FDTable:
        """An independent table sharing the (immutable) descriptors: O(number of fds)."""
        twin = FDTable(page_size=self.page_size, max_direct_chars=self.max_direct_chars)
        twin._fds = dict(self._fds)
        twin._next = self._next
        twin.read_tool, twin.write_tool = self.read_tool, self.write_tool
        return twin

    def adopt(self, fds: Iterable[FileDescriptor]) -> dict[str, str]:
        """Add descriptors from another table (e.g. a parent's, for a spawned child), keeping
        their ids where free. An id already used here for other content gets a new `fd:N`.
        Returns {original id: id here}."""
        mapping: dict[str, str] = {}
        for fd in fds:
            mine = self._fds.get(fd.id)
            if mine is not None and (mine is fd or mine.content == fd.content):
                mapping[fd.id] = fd.id
                continue
            new_id = fd.id if mine is None else f"fd:{self._next}"
            self._bump(new_id)
            pages = fd.pages if fd.pages.page_size == self.page_size else \
                PageTable.build(fd.content, self.page_size)
            self._fds[new_id] = FileDescriptor(new_id, fd.content, fd.source, pages)
            mapping[fd.id] = new_id
        return mapping

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "page_size": self.page_size,
            "max_direct_chars": self.max_direct_chars,
            "next": self._next,
            "fds": [{"id": fd.id, "source": fd.source, "content": fd.content} for fd in self._fds.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FDTable:
        version = data.get("version")
        if version != FORMAT_VERSION:
            raise FDError(f"cannot load an fd table of format version {version!r}; "
                          f"this llmproc reads version {FORMAT_VERSION}")
        table = cls(page_size=int(data["page_size"]), max_direct_chars=int(data["max_direct_chars"]))
        for item in data["fds"]:
            table.create(item["content"], source=item.get("source", ""), fd_id=item["id"])
        table._next = max(table._next, int(data.get("next", 1)))
        return table

    def __repr__(self) -> str:
        return f"<FDTable {len(self)} fds page_size={self.page_size}>"


__all__ = ["FDTable", "FileDescriptor", "REF_PREFIX", "Selection", "normalize_id"]
