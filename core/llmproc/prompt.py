"""System prompt enrichment: the program's prompt plus what the process should know.

Sections are appended in a fixed order, each in a clearly delimited tag, so the text is
byte-stable from turn to turn (provider prompt caches key on the prefix):

    <system prompt as written>
    <env>            working directory, platform, date, chosen environment variables
    <preload>        the preloaded files, one <file path=...> each
    <linked_programs> what `spawn` can start, with descriptions
    <file_descriptors> how to page long outputs (when enabled)

A preload file that is missing is a warning (the prompt is still built), never a crash.

Text the program does not control (environment values, preloaded files, link descriptions)
cannot close a section early: a closing tag of one of these sections inside it (`</env>`,
`</preload>`, `</file>`, ...) is escaped as `&lt;/env>`; other text is kept byte for byte.
"""

from __future__ import annotations

import datetime
import getpass
import os
import platform
import re
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from llmproc.config.loader import read_prompt_file
from llmproc.config.schema import ENV_INFO_VARIABLES, ToolEntry
from llmproc.errors import ProgramConfigError

if TYPE_CHECKING:
    from llmproc.program import LLMProgram


_SECTION_TAGS = ("env", "preload", "file", "linked_programs", "file_descriptors")
_CLOSING = re.compile(r"<(\s*/\s*(?:" + "|".join(_SECTION_TAGS) + r")\b)", re.IGNORECASE)


def escape_markup(text: str) -> str:
    """`text` with every closing tag of a prompt section neutralised (`</env>` -> `&lt;/env>`)."""
    return _CLOSING.sub(r"&lt;\1", text)


@dataclass(frozen=True)
class EnrichedPrompt:
    text: str
    warnings: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return self.text


def _env_value(name: str) -> str:
    if name == "working_directory":
        return os.getcwd()
    if name == "platform":
        return f"{sys.platform} ({platform.platform(terse=True)})"
    if name == "date":
        return datetime.date.today().isoformat()
    if name == "python_version":
        return platform.python_version()
    if name == "hostname":
        return socket.gethostname()
    if name == "username":
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "unknown"
    raise ValueError(name)


def env_section(program: LLMProgram) -> str:
    info = program.config.env_info
    names = ENV_INFO_VARIABLES if info.variables == "all" else info.variables
    lines = [f"{name}: {escape_markup(_env_value(name))}" for name in names]
    lines += [f"{escape_markup(label)}: {escape_markup(os.environ[var])}"
              for label, var in info.env_vars.items() if var in os.environ]
    return "<env>\n" + "\n".join(lines) + "\n</env>" if lines else ""


def preload_section(program: LLMProgram, warnings: list[str]) -> str:
    blocks = []
    for path in program.preload_files:
        try:
            content = read_prompt_file(path, key="preload.files", where=None)
        except ProgramConfigError as exc:
            warnings.append(f"preload file not readable, skipped: {path} ({exc.detail})")
            continue
        shown = escape_markup(_display_path(path, program.base_dir)).replace('"', "&quot;")
        blocks.append(f'<file path="{shown}">\n{escape_markup(content.rstrip())}\n</file>')
    return "<preload>\n" + "\n".join(blocks) + "\n</preload>" if blocks else ""


def _display_path(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def enabled_tool_names(program: LLMProgram) -> list[str]:
    return [e.name if isinstance(e, ToolEntry) else e for e in program.config.tools.enabled]


def visible_tool_name(program: LLMProgram, name: str) -> str:
    """The name the model sees for the tool `name`: its alias in `[tools] enabled`, if any."""
    for entry in program.config.tools.enabled:
        if isinstance(entry, ToolEntry) and entry.name == name and entry.alias:
            return entry.alias
    return name


def linked_section(program: LLMProgram) -> str:
    if "spawn" not in enabled_tool_names(program) or not program.linked_programs:
        return ""
    lines = [f"You can delegate work with the {visible_tool_name(program, 'spawn')} tool to these programs:"]
    for name, link in program.linked_programs.items():
        lines.append(f"- {name}: {escape_markup(link.description)}" if link.description else f"- {name}")
    return "<linked_programs>\n" + "\n".join(lines) + "\n</linked_programs>"


def fd_section(program: LLMProgram) -> str:
    fd = program.config.file_descriptor
    if not fd.enabled:
        return ""
    read, write = visible_tool_name(program, "read_fd"), visible_tool_name(program, "fd_to_file")
    lines = [
        f"Tool outputs longer than {fd.max_direct_output_chars} characters are stored in file descriptors: "
        "you see the first page, an id like fd:1, the size, and how to read on.",
        f"Use {read} to read by page (at most {fd.default_page_size} characters, ending on a line break "
        "where possible; the result says 'page x of y'), by lines (start_line/end_line, from 1, inclusive) "
        "or by characters (start_char/end_char, from 0, end exclusive).",
        f"With extract_to_new_fd=true, {read} stores the selection as a new fd instead of showing it.",
    ]
    if "fd_to_file" in enabled_tool_names(program):
        lines.append(f"Use {write} to write a file descriptor's whole content to a file (mode write or append).")
    if fd.page_user_input:
        lines.append(f"User messages longer than {fd.max_input_chars} characters also arrive as file descriptors.")
    if fd.enable_references:
        lines.append('Mark reusable parts of your answer as <ref id="name">...</ref> (name: letters, digits, _ - .): '
                     f"each becomes the file descriptor fd:ref:name, which tools such as {write} accept.")
    return "<file_descriptors>\n" + "\n".join(lines) + "\n</file_descriptors>"


def build_system_prompt(program: LLMProgram, *, include_env: bool = True) -> EnrichedPrompt:
    warnings: list[str] = []
    sections = [
        program.system_prompt.rstrip(),
        env_section(program) if include_env else "",
        preload_section(program, warnings),
        linked_section(program),
        fd_section(program),
    ]
    return EnrichedPrompt("\n\n".join(s for s in sections if s), tuple(warnings))
