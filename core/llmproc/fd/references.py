"""Response references: parts of an answer the model marked with `<ref id="name">...</ref>`.

    Here is the script:
    <ref id="backup_script">
    ```bash
    tar czf backup.tgz src/
    ```
    </ref>

becomes the reference `backup_script` with content "tar czf backup.tgz src/\\n". Rules:
- a name is 1-64 letters, digits, "_", "-" or "."; a tag with another name is skipped, as is
  an unclosed tag (a cut-off answer) and a stray `</ref>`;
- references nest: the outer one holds the inner one's text, without the inner tags;
- one line break right after the opening tag is dropped, and when the whole content is one
  fenced code block the fence lines are dropped too, so a reference saved with fd_to_file is
  the file the model meant, not its markdown;
- a name used twice in one answer: the later reference wins (as across answers).
The answer itself is never changed; only copies of the marked parts are taken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAG = re.compile(r"""<ref\s+id\s*=\s*(?:"([^"<>]*)"|'([^'<>]*)')\s*>|</ref\s*>""", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_FENCED = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n`]*\n(.*?)\n?[ \t]*\1[ \t]*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Reference:
    name: str
    content: str


def extract_references(text: str) -> list[Reference]:
    """The references in `text`, in the order they were opened."""
    if "<ref" not in text and "<REF" not in text.upper():
        return []
    found: list[tuple[int, Reference]] = []
    open_refs: list[tuple[int, str | None, list[str]]] = []  # (order, valid name or None, pieces)
    opened = 0
    pos = 0
    for match in _TAG.finditer(text):
        segment = text[pos:match.start()]
        for _, _, pieces in open_refs:
            pieces.append(segment)
        pos = match.end()
        if match.group(0).startswith("</"):
            if open_refs:
                order, name, pieces = open_refs.pop()
                if name is not None:
                    found.append((order, Reference(name, clean("".join(pieces)))))
            continue
        raw = match.group(1) if match.group(1) is not None else match.group(2)
        name = raw.strip()
        open_refs.append((opened, name if _NAME.match(name) else None, []))
        opened += 1
    return [ref for _, ref in sorted(found, key=lambda item: item[0])]


def clean(content: str) -> str:
    """Drop the layout around marked content: one leading line break, and the fence lines
    of a content that is one fenced code block."""
    if content.startswith("\r\n"):
        content = content[2:]
    elif content.startswith("\n"):
        content = content[1:]
    fenced = _FENCED.match(content.rstrip())
    if fenced:
        fence, body = fenced.group(1), fenced.group(2)
        # A bare fence line at least as long as the opening one would have closed the block
        # earlier: then this is more than one block, kept as written.
        closing = rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$"
        if not re.search(closing, body, re.MULTILINE):
            return body + "\n" if body else ""
    return content


__all__ = ["Reference", "clean", "extract_references"]
