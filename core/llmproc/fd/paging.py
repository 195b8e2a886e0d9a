"""Paging math: where pages start, which lines they hold. Pure functions of (text, page size).

A `PageTable` is built once per file descriptor in one pass over the content (done by
`str.rfind`/`str.count` in C, no copy of the text). After that, every question costs time in
proportion to one page, never to the whole content:

- page p covers `text[starts[p-1]:starts[p]]` (the last page runs to the end);
- a page ends just after the last line break found in the second half of its window of
  `page_size` characters; a window with no such break (a very long line) is cut hard at
  `page_size`. So pages are at most `page_size` long, and every page but the last is more than
  half full, which keeps "page x of y" stable and close to `len / page_size`;
- `newlines[p]` counts the line breaks before page p starts, so the line number of any offset
  is `newlines[p] + (breaks between the page start and the offset) + 1`.

Lines are separated by "\\n" only (a "\\r\\n" line ends after its "\\n"); lines are numbered from 1
and a line includes its line break. Characters are numbered from 0, ranges are half-open like
Python slices. Empty content has one empty page and no lines.

Out-of-range requests raise `ValueError` with a message that states the valid range; the fd
manager adds which fd it was.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

NEWLINE = "\n"
_SCAN_BREAKS = 32  # up to this many line breaks, finding them one by one beats bisecting


@dataclass(frozen=True, slots=True, eq=False)
class PageTable:
    length: int  # characters in the content
    page_size: int
    starts: array[int]  # array('q'): offset where each page starts; starts[0] == 0
    newlines: array[int]  # array('q'): line breaks before each page's start
    total_newlines: int
    ends_with_newline: bool

    @classmethod
    def build(cls, text: str, page_size: int) -> PageTable:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        length = len(text)
        starts, newlines = array("q", [0]), array("q", [0])
        pos = breaks = 0
        min_fill = page_size // 2  # a page ends on a line break only in its second half
        while length - pos > page_size:
            limit = pos + page_size
            cut = text.rfind(NEWLINE, pos + min_fill, limit)
            end = cut + 1 if cut >= 0 else limit
            breaks += text.count(NEWLINE, pos, end)
            starts.append(end)
            newlines.append(breaks)
            pos = end
        breaks += text.count(NEWLINE, pos, length)
        return cls(length, page_size, starts, newlines, breaks,
                   length > 0 and text[-1] == NEWLINE)

    # -- pages -------------------------------------------------------------------------------
    @property
    def page_count(self) -> int:
        return len(self.starts)

    def page_bounds(self, page: int) -> tuple[int, int]:
        """(start, end) offsets of page `page` (1-based)."""
        if not 1 <= page <= self.page_count:
            raise ValueError(f"page {page} does not exist: valid pages are 1-{self.page_count}"
                             if self.page_count > 1 else f"page {page} does not exist: there is only page 1")
        end = self.starts[page] if page < self.page_count else self.length
        return self.starts[page - 1], end

    def page_of(self, offset: int) -> int:
        """The 1-based page holding the character at `offset` (the last page for offset == length)."""
        return max(1, bisect_right(self.starts, offset))

    # -- lines -------------------------------------------------------------------------------
    @property
    def line_count(self) -> int:
        if self.length == 0:
            return 0
        return self.total_newlines + (0 if self.ends_with_newline else 1)

    def line_of(self, text: str, offset: int) -> int:
        """The 1-based line holding the character at `offset` (0 for empty content)."""
        if self.length == 0:
            return 0
        offset = min(max(offset, 0), self.length - 1)
        page = self.page_of(offset) - 1
        return self.newlines[page] + text.count(NEWLINE, self.starts[page], offset) + 1

    def line_start(self, text: str, line: int) -> int:
        """Offset of the first character of `line` (1-based, 1 <= line <= line_count)."""
        self._check_line(line)
        if line == 1:
            return 0
        wanted = line - 1  # the line starts after the (line-1)-th line break
        page = bisect_left(self.newlines, wanted) - 1  # last page starting before that break
        start = self.starts[page]
        need = wanted - self.newlines[page]  # that break is the need-th one of this page
        if need <= _SCAN_BREAKS:
            pos = start
            for _ in range(need):
                pos = text.find(NEWLINE, pos) + 1
            return pos
        # A page dense with line breaks: bisect for the break, counting only the half left of
        # the midpoint each step, so the counts add up to one page. Invariant: the break is in
        # [lo, hi) and `found` breaks lie in [start, lo).
        lo, hi = start, self.starts[page + 1] if page + 1 < self.page_count else self.length
        found = 0
        while hi - lo > 1:
            mid = (lo + hi) // 2
            left = text.count(NEWLINE, lo, mid)
            if found + left >= need:
                hi = mid
            else:
                found += left
                lo = mid
        return lo + 1

    def line_bounds(self, text: str, first: int, last: int) -> tuple[int, int]:
        """(start, end) offsets of lines first..last inclusive; `last` is clamped to the end."""
        self._check_line(first)
        if last < first:
            raise ValueError(f"end_line {last} is before start_line {first}")
        start = self.line_start(text, first)
        if last >= self.line_count:
            return start, self.length
        return start, self.line_start(text, last + 1)

    def _check_line(self, line: int) -> None:
        count = self.line_count
        if not 1 <= line <= count:
            raise ValueError(f"line {line} does not exist: valid lines are 1-{count}" if count
                             else f"line {line} does not exist: the content is empty")

    # -- characters --------------------------------------------------------------------------
    def char_bounds(self, start: int, end: int | None) -> tuple[int, int]:
        """Check a half-open character range; `end` (default: the end) is clamped to the length."""
        if start < 0 or (start >= self.length and not (start == 0 and self.length == 0)):
            raise ValueError(f"start_char {start} is out of range: valid starts are 0-{self.length - 1}"
                             if self.length else f"start_char {start} is out of range: the content is empty")
        stop = self.length if end is None else min(end, self.length)
        if stop <= start and self.length:
            raise ValueError(f"end_char {end} must be greater than start_char {start}")
        return start, stop


def cut_point(text: str, start: int, end: int, limit: int) -> int:
    """Where to stop reading `text[start:end]` to show at most `limit` characters: `end` if it
    fits, else just after the last line break in the second half of the limit, else a hard cut."""
    if end - start <= limit:
        return end
    window_end = start + limit
    cut = text.rfind(NEWLINE, start + limit // 2, window_end)
    return cut + 1 if cut >= 0 else window_end


__all__ = ["NEWLINE", "PageTable", "cut_point"]
