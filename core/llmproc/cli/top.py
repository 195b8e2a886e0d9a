"""`llmproc top`: a live view of llmproc-mcp's process table (proctable.py), redrawn in place.

Plain ANSI, no curses: it works over SSH and in any terminal. Each frame moves the cursor home
and rewrites the lines, clearing only what each line leaves (no full-screen clear, so no
flicker), on the alternate screen so the shell's scrollback is left as it was. The store is
read in a worker thread: a slow store (a busy PostgreSQL) leaves the last frame up and `q`
still quits at once.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import sys
import threading
import time
import unicodedata
from concurrent.futures import Future
from contextlib import closing, suppress
from typing import TYPE_CHECKING, TextIO

import click

from llmproc.cli import tree
from llmproc.cli.proctable import TABLE_HELP, missing_file, read_from, read_rows, table_location
from llmproc.cli.saved import describe, open_store, store_option_with

if TYPE_CHECKING:
    from llmproc.store import ProcessStore

ENTER, LEAVE = "\x1b[?1049h\x1b[?25l", "\x1b[?25h\x1b[?1049l"  # alternate screen, cursor hidden/shown
HOME, CLEAR_LINE, CLEAR_BELOW = "\x1b[H", "\x1b[K", "\x1b[J"
_COLUMNS = ("PID", "PROGRAM", "STATUS", "TURNS", "TOKENS", "COST", "AGE", "IDLE", "ACTIVITY")
_RIGHT = {"TURNS", "TOKENS", "COST", "AGE", "IDLE"}


def duration(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _cells(node: tree.Node, now: float) -> tuple[str, ...]:
    """One row; a parent's TOKENS and COST add its subtree's totals in parentheses."""
    row, sub = node.row, node.subtree
    tokens, cost = f"{row.tokens:,}", tree.money(row.cost_usd).replace("cost unknown", "?")
    if sub.below:
        tokens += f" ({sub.tokens:,})"
        cost += f" ({tree.money(sub.cost_usd).replace('cost unknown', '?')})"
    age = duration(now - row.created) if row.created else "-"
    idle = duration(now - row.updated) if row.updated else "-"
    activity = " ".join(row.activity.split())
    return (f"{node.prefix}{row.pid}", row.program, row.status, str(row.turns), tokens, cost, age, idle,
            activity if activity != row.status else "")


def frame(rows: list[tree.Row], *, where: str, now: float, width: int | None, height: int | None,
          show_all: bool = False, note: str = "") -> list[str]:
    """The lines of one screen: a title, the totals, the table (each line cut to `width`)."""
    order = tree.build(rows)
    shown = order
    if not show_all:  # whole trees where something runs: a running fork is seen with its parent
        live_roots: set[int] = set()
        root = 0
        for node in order:
            root = node.row.pid if node.depth == 0 else root
            if node.row.active or node.subtree.active_below:
                live_roots.add(root)
        root, shown = 0, []
        for node in order:
            root = node.row.pid if node.depth == 0 else root
            if root in live_roots:
                shown.append(node)
    title = f"llmproc top · {where} · {time.strftime('%H:%M:%S', time.localtime(now))} · q quits"
    lines = [title, (tree.summary(order) if order else "no processes yet") + (f" · {note}" if note else "")]
    if order and not shown:
        lines.append(f"nothing running ({len(order)} finished; --all shows them)")
    if shown:
        table = [_COLUMNS, *(_cells(node, now) for node in shown)]
        widths = [max(columns(r[i]) for r in table) for i in range(len(_COLUMNS) - 1)]
        lines.append("")
        for r in table:
            cells = [pad(c, w, right=name in _RIGHT) for c, w, name in zip(r, widths, _COLUMNS, strict=False)]
            lines.append("  ".join([*cells, r[-1]]).rstrip())
    if height is not None and len(lines) > height:
        hidden = len(lines) - height + 1
        lines = [*lines[: height - 1], f"… {hidden} more line{'s' if hidden != 1 else ''} (a taller terminal shows them)"]
    if width is not None:
        lines = [cut(ln, width) for ln in lines]
    return lines


# A terminal gives East Asian wide characters (CJK, most emoji) two columns and combining marks
# none: a line measured in characters would wrap and push the frame down, breaking the redraw.
def _char_columns(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def columns(text: str) -> int:
    """The terminal columns `text` takes."""
    return sum(_char_columns(ch) for ch in text) if not text.isascii() else len(text)


def pad(text: str, width: int, *, right: bool = False) -> str:
    fill = " " * max(0, width - columns(text))
    return fill + text if right else text + fill


def cut(text: str, width: int) -> str:
    """`text` if it fits in `width` columns, else its start and "…" in exactly that many or fewer."""
    if columns(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        n = _char_columns(ch)
        if used + n > width - 1:
            break
        out.append(ch)
        used += n
    return "".join(out) + "…" if width >= 1 else ""


class Reader:
    """Reads the table in a worker thread; `latest()` waits at most `timeout` for a fresh read."""

    def __init__(self, location: str):
        self.location = location
        self.pending: Future[tuple[list[tree.Row], str]] | None = None
        self.rows: list[tree.Row] = []
        self.store: ProcessStore | None = None
        self.where, self.note = location, "reading the store…"

    def _read(self) -> tuple[list[tree.Row], str]:
        """In the worker: the store stays open between frames (a PostgreSQL pool is not made
        every second); a store that does not exist yet is looked for again at every frame."""
        missing = missing_file(self.location)
        if missing is not None:
            return [], str(missing)
        if self.store is None:
            self.store = open_store(self.location)
        try:
            return read_from(self.store), describe(self.store)
        except Exception:
            self._close_store()  # opened anew at the next frame
            raise

    def _close_store(self) -> None:
        store, self.store = self.store, None
        if store is not None:
            with suppress(Exception):
                store.close()

    def latest(self, timeout: float) -> None:
        if self.pending is None:  # a daemon thread: a read stuck in the store never holds up the exit
            self.pending = Future()
            threading.Thread(target=self._run, args=(self.pending,), name="llmproc-top", daemon=True).start()
        try:
            self.rows, self.where = self.pending.result(timeout=timeout)
            self.note = ""
        except TimeoutError:
            if self.note != "reading the store…":  # before the first read there is no last one
                self.note = "the store is slow to answer; showing the last read"
            return
        except Exception as exc:  # shown in the frame: a store that comes back is shown again
            self.note = f"cannot read the store: {' '.join(str(exc).split())[:200]}"
        self.pending = None

    def _run(self, future: Future[tuple[list[tree.Row], str]]) -> None:
        try:
            future.set_result(self._read())
        except BaseException as exc:
            future.set_exception(exc)

    def close(self) -> None:
        if self.pending is None or self.pending.done():  # a read stuck in the store keeps it open
            self._close_store()


def _size(out: TextIO) -> tuple[int | None, int | None]:
    if out.isatty() or "COLUMNS" in os.environ:
        size = shutil.get_terminal_size()
        return size.columns, size.lines if out.isatty() else None
    return None, None  # a pipe: whole lines, for scripts


def _draw(out: TextIO, lines: list[str]) -> None:
    """Cursor home, each line then clear-to-end-of-line, clear what is below: no blank frame."""
    out.write(HOME + "".join(f"{ln}{CLEAR_LINE}\r\n" for ln in lines[:-1]) + lines[-1] + CLEAR_LINE + CLEAR_BELOW)
    out.flush()


def _quit_pressed(fd: int | None, timeout: float) -> bool:
    """Wait up to `timeout` for a key; True on q (or the end of the input)."""
    if fd is None:
        time.sleep(timeout)
        return False
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            data = os.read(fd, 64)
            if not data or b"q" in data.lower():
                return True
    return False


def _live(reader: Reader, interval: float, show_all: bool) -> None:
    import termios
    import tty

    out = sys.stdout
    fd: int | None = sys.stdin.fileno() if sys.stdin.isatty() else None
    saved = termios.tcgetattr(fd) if fd is not None else None
    previous_term = signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `finally` restores the terminal
    try:
        if fd is not None:
            tty.setcbreak(fd)  # keys arrive one by one, unechoed; Ctrl-C still interrupts
        out.write(ENTER)
        while True:
            started = time.monotonic()
            reader.latest(timeout=min(interval, 0.5))
            width, height = _size(out)
            _draw(out, frame(reader.rows, where=reader.where, now=time.time(), width=width, height=height,
                             show_all=show_all, note=reader.note))
            if _quit_pressed(fd, max(interval - (time.monotonic() - started), 0.01)):
                return
    except KeyboardInterrupt:
        return
    finally:
        out.write(LEAVE)
        out.flush()
        if fd is not None and saved is not None:
            with suppress(termios.error):
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGTERM, previous_term)


@click.command("top", short_help="Live view of llmproc-mcp's processes as a tree (q quits).",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between frames.")
@click.option("--once", is_flag=True, help="Print one frame and exit (for scripts; the default without a terminal).")
@click.option("--all", "show_all", is_flag=True, help="Also the trees where nothing runs or waits.")
@store_option_with(TABLE_HELP)
def top_command(interval: float, once: bool, show_all: bool, store_location: str | None) -> int:
    """Watch llmproc-mcp's processes: what each does now, status, turns, tokens, cost, time since
    it started (AGE) and since its row last changed (IDLE), as a tree with subtree totals in
    parentheses. Redrawn every --interval seconds; q or Ctrl-C quits."""
    location = table_location(store_location)
    if once or not sys.stdout.isatty():
        rows, where = read_rows(location)
        width, _ = _size(sys.stdout)
        click.echo("\n".join(frame(rows, where=where, now=time.time(), width=width, height=None,
                                   show_all=show_all)))
        return 0
    with closing(Reader(location)) as reader:
        _live(reader, interval, show_all)
    return 0


__all__ = ["duration", "frame", "top_command"]
