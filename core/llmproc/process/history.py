"""A process's history: a list of messages whose prefix is shared, never copied, between forks.

Messages are immutable, so forked copies can share them. The history keeps a chain of frozen
segments (tuples shared by every copy that forked after them) plus its own tail list. `fork()`
freezes the tail into a new segment (cost: the messages added since the last fork) and gives
the copy the same chain, so forking costs nothing in proportion to the whole history.
`truncate()` (for goto) keeps a prefix without touching the shared segments.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import cast, overload

from llmproc.messages import Message


@dataclass(frozen=True, slots=True)
class _Segment:
    messages: tuple[Message, ...]
    prev: _Segment | None
    end: int  # number of messages in the chain up to and including this segment


class History(Sequence[Message]):
    __slots__ = ("_base", "_tail")

    def __init__(self, messages: Iterable[Message] = ()):
        self._base: _Segment | None = None
        self._tail: list[Message] = list(messages)

    @property
    def _base_len(self) -> int:
        return self._base.end if self._base else 0

    def __len__(self) -> int:
        return self._base_len + len(self._tail)

    def _segments(self) -> list[_Segment]:
        chain: list[_Segment] = []
        seg = self._base
        while seg is not None:
            chain.append(seg)
            seg = seg.prev
        chain.reverse()
        return chain

    def __iter__(self) -> Iterator[Message]:
        for seg in self._segments():
            yield from seg.messages
        yield from self._tail

    @overload
    def __getitem__(self, index: int) -> Message: ...
    @overload
    def __getitem__(self, index: slice) -> list[Message]: ...
    def __getitem__(self, index: int | slice) -> Message | list[Message]:
        if isinstance(index, slice):
            return list(self)[index]
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("history index out of range")
        base_len = self._base_len
        if index >= base_len:
            return self._tail[index - base_len]
        seg = self._base
        while seg is not None and index < seg.end - len(seg.messages):
            seg = seg.prev
        assert seg is not None
        return seg.messages[index - (seg.end - len(seg.messages))]

    def append(self, message: Message) -> None:
        self._tail.append(message)

    def replace_last(self, message: Message) -> None:
        if not self._tail:
            self.truncate(len(self) - 1)
        else:
            self._tail.pop()
        self._tail.append(message)

    def fork(self) -> History:
        """A copy that shares every message; appending to either leaves the other unchanged."""
        if self._tail:
            self._base = _Segment(tuple(self._tail), self._base, len(self))
            self._tail = []
        copy = History()
        copy._base = self._base
        return copy

    def truncate(self, length: int) -> None:
        """Keep the first `length` messages."""
        if length >= len(self):
            return
        base_len = self._base_len
        if length >= base_len:
            del self._tail[length - base_len:]
            return
        self._tail = []
        seg = self._base
        while seg is not None and seg.end - len(seg.messages) >= length:
            seg = seg.prev
        if seg is None:
            self._base = None
            return
        start = seg.end - len(seg.messages)
        self._base = seg if seg.end == length else _Segment(seg.messages[: length - start], seg.prev, length)

    def index_of(self, message_id: str) -> int:
        for i, message in enumerate(self):
            if message.id == message_id:
                return i
        raise KeyError(message_id)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, History):
            return list(self) == list(other)
        if isinstance(other, (list, tuple)):
            return list(self) == list(cast("list[Message] | tuple[Message, ...]", other))
        return NotImplemented

    def __repr__(self) -> str:
        return f"History({len(self)} messages)"


def as_history(messages: Sequence[Message] | History) -> History:
    return messages if isinstance(messages, History) else History(messages)
