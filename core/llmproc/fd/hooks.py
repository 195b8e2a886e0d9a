"""Where the engine meets the fd table: three calls, one per path content takes into a context.

- `offload_output`: a tool result (built-in, MCP, a child's answer: all go through
  `LLMProcess.call_tool`) longer than the table's `max_direct_chars` becomes an fd; the model
  gets a preview instead.
- `page_user_input`: a user message longer than `max_input_chars` becomes an fd likewise.
- `capture_references`: the `<ref id=...>` parts of an assistant answer become `fd:ref:NAME`
  fds; the answer stays as written.
"""

from __future__ import annotations

import logging

from llmproc.fd import render
from llmproc.fd.manager import FDTable, FileDescriptor
from llmproc.fd.references import extract_references

log = logging.getLogger("llmproc.fd")


def offload_output(table: FDTable, content: str, *, source: str = "") -> str:
    """`content` itself if it is short enough, else a preview of the fd now holding it."""
    if len(content) <= table.max_direct_chars:
        return content
    fd = table.create(content, source=source)
    return render.preview(fd, limit=table.max_direct_chars, read_tool=table.read_tool)


def page_user_input(table: FDTable, text: str, *, limit: int) -> str:
    """`text` itself if at most `limit` characters, else a preview of the fd now holding it."""
    if len(text) <= limit:
        return text
    fd = table.create(text, source="user message")
    return render.preview(fd, limit=limit, what="The user's message", read_tool=table.read_tool)


def capture_references(table: FDTable, text: str, *, source: str = "") -> list[FileDescriptor]:
    """Store each reference marked in an assistant answer as `fd:ref:NAME`."""
    created: list[FileDescriptor] = []
    for ref in extract_references(text):
        created.append(table.create_reference(ref.name, ref.content, source=source or "reference"))
    if created:
        log.debug("references captured: %s", ", ".join(fd.id for fd in created))
    return created


__all__ = ["capture_references", "offload_output", "page_user_input"]
