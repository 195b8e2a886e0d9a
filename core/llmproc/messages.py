"""Provider-neutral conversation model.

A conversation is a list of `Message`s; each has a role ("user" or "assistant") and parts.
Tool results travel in a user message (as the Anthropic API does); adapters for other APIs
reshape them. Everything here is immutable and round-trips through JSON with
`to_dict()` / `from_dict()` without loss (thinking signatures included), which is what
forking, saving and restoring processes rely on.

Usage convention (the same for every provider):
- `input_tokens`: input tokens billed at the normal rate (not read from or written to a cache)
- `cache_write_tokens` / `cache_read_tokens`: input tokens written to / read from a prompt cache
- `output_tokens`: all output tokens, reasoning included; `reasoning_tokens` is the reasoning share
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal, Union

Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ThinkingPart:
    """Model reasoning. `signature` must be sent back verbatim (Anthropic) ; `redacted` holds the
    opaque data of a redacted block; `provider`/`id` say who made it, since only that provider
    can take it back (OpenAI reasoning items: `id` and encrypted content in `signature`)."""

    thinking: str
    signature: str | None = None
    redacted: str | None = None
    provider: str | None = None
    id: str | None = None
    type: Literal["thinking"] = "thinking"


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    type: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class ImageData:
    """An image a tool returned: base64 `data` of type `media_type` ("image/png", ...)."""

    media_type: str
    data: str

    def describe(self) -> str:
        """A text stand-in for APIs that take no image here."""
        size = len(self.data) * 3 // 4  # decoded size, near enough
        return f"[{self.media_type} image, about {size} bytes: not shown, this model API takes no image here]"


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    content: str
    is_error: bool = False
    name: str | None = None  # the tool's name; Gemini needs it to match results to calls
    images: tuple[ImageData, ...] = ()  # after the text; adapters pass or describe them
    type: Literal["tool_result"] = "tool_result"


Part = Union[TextPart, ThinkingPart, ToolCall, ToolResult]
_PART_TYPES: dict[str, type] = {
    "text": TextPart, "thinking": ThinkingPart, "tool_call": ToolCall, "tool_result": ToolResult,
}


# Field names per part type, computed once: `fields()` per call was half the cost of saving a history.
_FIELD_NAMES: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls)) for cls in _PART_TYPES.values()
}


def part_to_dict(part: Part) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _FIELD_NAMES[type(part)]:
        value = getattr(part, name)
        if name == "images":
            if value:
                out["images"] = [{"media_type": i.media_type, "data": i.data} for i in value]
        elif value is not None and not (name == "is_error" and value is False):
            out[name] = value
    return out


def part_from_dict(data: dict[str, Any]) -> Part:
    cls = _PART_TYPES.get(data.get("type", ""))
    if cls is None:
        raise ValueError(f"unknown message part type {data.get('type')!r}")
    if "images" in data:
        data = {**data, "images": tuple(ImageData(**i) for i in data["images"])}
    return cls(**data)


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    parts: tuple[Part, ...]
    id: str | None = None  # stable id in a process history (goto targets it)

    @classmethod
    def user(cls, text: str, id: str | None = None) -> Message:
        return cls("user", (TextPart(text),), id)

    @classmethod
    def assistant(cls, text: str, id: str | None = None) -> Message:
        return cls("assistant", (TextPart(text),), id)

    @property
    def text(self) -> str:
        """The concatenated text parts (no thinking, no tool calls)."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [p for p in self.parts if isinstance(p, ToolCall)]

    @property
    def tool_results(self) -> list[ToolResult]:
        return [p for p in self.parts if isinstance(p, ToolResult)]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "parts": [part_to_dict(p) for p in self.parts]}
        if self.id is not None:
            out["id"] = self.id
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(data["role"], tuple(part_from_dict(p) for p in data["parts"]), data.get("id"))


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: Usage) -> Usage:
        return Usage(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens

    @property
    def total_tokens(self) -> int:
        return self.total_input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> Usage:
        return cls(**data)


def messages_to_json(messages: list[Message]) -> list[dict[str, Any]]:
    return [m.to_dict() for m in messages]


def messages_from_json(data: list[dict[str, Any]]) -> list[Message]:
    return [Message.from_dict(d) for d in data]


__all__ = [
    "Role", "TextPart", "ThinkingPart", "ToolCall", "ToolResult", "ImageData", "Part", "Message", "Usage",
    "part_to_dict", "part_from_dict", "messages_to_json", "messages_from_json",
]
