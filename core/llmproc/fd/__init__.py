"""File descriptors: long content stored once and read by page, line range or character range.

- `paging`: the pure paging math (`PageTable`, built once per fd)
- `manager`: `FDTable` (one per process), `FileDescriptor`, `Selection`, id normalization
- `render`: what the model reads: previews, pages, listings
- `read`: one read by page, line range or character range (`read_text`), for both `read_fd`s
- `references`: `<ref id="name">...</ref>` extraction from answers
- `hooks`: the three places the engine hands content to the table

The tools `read_fd` and `fd_to_file` are in `llmproc.tools.builtin.fd_tools`; the MCP server's
`read_fd` is in `llmproc_mcp.handlers`.
See docs/file-descriptor-system.md.
"""

from __future__ import annotations

from llmproc.errors import FDError
from llmproc.fd.hooks import capture_references, offload_output, page_user_input
from llmproc.fd.manager import REF_PREFIX, FDTable, FileDescriptor, Selection, normalize_id
from llmproc.fd.paging import PageTable
from llmproc.fd.references import Reference, extract_references

__all__ = [
    "FDError",
    "FDTable",
    "FileDescriptor",
    "PageTable",
    "REF_PREFIX",
    "Reference",
    "Selection",
    "capture_references",
    "extract_references",
    "normalize_id",
    "offload_output",
    "page_user_input",
]
