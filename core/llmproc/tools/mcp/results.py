"""MCP shapes into llmproc shapes: tool results into `ToolOutput`, input schemas into tool schemas.

A tool result becomes text plus images. Text blocks are kept as they are; structured content
is added as JSON unless the text blocks already carry the same value (the spec asks servers to
send both); images travel as `ImageData` and each provider adapter passes them on or describes
them; audio, binary resources and resource links, which no model API takes in a tool result,
are described in a line of text.
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types

from llmproc.messages import ImageData
from llmproc.tools.base import ToolOutput

EMPTY_RESULT = "(no output)"


def to_output(result: types.CallToolResult) -> ToolOutput:
    texts: list[str] = []
    images: list[ImageData] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            texts.append(block.text)
        elif isinstance(block, types.ImageContent):
            images.append(ImageData(block.mime_type, block.data))
        elif isinstance(block, types.AudioContent):
            texts.append(f"[{block.mime_type} audio, about {_size(block.data)} bytes: not shown]")
        elif isinstance(block, types.ResourceLink):
            texts.append(_link(block))
        elif isinstance(block, types.EmbeddedResource):
            resource = block.resource
            if isinstance(resource, types.TextResourceContents):
                texts.append(f"[resource {resource.uri}]\n{resource.text}")
            elif (resource.mime_type or "").startswith("image/"):
                images.append(ImageData(resource.mime_type or "", resource.blob))
            else:
                texts.append(f"[resource {resource.uri}: {resource.mime_type or 'binary'}, "
                             f"about {_size(resource.blob)} bytes: not shown]")
    structured = result.structured_content
    if structured is not None and not _redundant(texts, structured):
        texts.append(json.dumps(structured, ensure_ascii=False))
    content = "\n".join(texts)
    if not content and not images:
        content = EMPTY_RESULT
    return ToolOutput(content, is_error=result.is_error, images=tuple(images))


def _link(link: types.ResourceLink) -> str:
    line = f"[resource link {link.name}: {link.uri}"
    if link.mime_type:
        line += f" ({link.mime_type})"
    line += "]"
    return f"{line} {link.description}" if link.description else line


def _size(b64: str) -> int:
    return len(b64) * 3 // 4


def _redundant(texts: list[str], structured: Any) -> bool:
    """Whether the text blocks already say what the structured content says: the same JSON, or,
    for an object of one field (the SDKs wrap a plain return value as `{"result": value}`), that
    field's value (a list's items may come as one text block each)."""
    values = [structured]
    if isinstance(structured, dict) and len(structured) == 1:
        values.extend(structured.values())
    for value in values:
        if any(_same(text, value) for text in texts):
            return True
        if isinstance(value, list) and len(value) == len(texts) and all(map(_same, texts, value)):
            return True
    return False


def _same(text: str, value: Any) -> bool:
    if isinstance(value, str):
        return text == value
    try:
        return bool(json.loads(text) == value)
    except ValueError:
        return False


def input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A tool's input schema as every provider takes it: an object schema with properties.

    `$schema` is dropped: it says which JSON Schema draft a server used, which models do not
    need and some tool APIs reject.
    """
    out = {k: v for k, v in schema.items() if k != "$schema"}
    out["type"] = "object"
    out.setdefault("properties", {})
    return out
