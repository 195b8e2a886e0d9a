"""read_fd and fd_to_file as the model calls them (through a Toolset, errors as results)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmproc.fd import FDTable
from llmproc.tools import SimpleToolContext, Toolset
from llmproc.tools.builtin.fd_tools import FD_TOOLS, FDView

TEXT = "".join(f"row {i:03d} {'y' * 30}\n" for i in range(1, 201))  # 200 lines of 39 chars


@pytest.fixture
def table() -> FDTable:
    table = FDTable(page_size=400, max_direct_chars=800)
    table.create(TEXT, source="output of grep")
    return table


@pytest.fixture
def ctx(tmp_path: Path, table: FDTable) -> SimpleToolContext:
    (tmp_path / "root").mkdir()
    return SimpleToolContext(allowed_roots=[tmp_path / "root"], cwd=tmp_path / "root", fd_table=table)


@pytest.fixture
def tools() -> Toolset:
    return Toolset(FD_TOOLS.values())


async def test_read_fd_pages_through_everything(tools: Toolset, ctx: SimpleToolContext,
                                                table: FDTable) -> None:
    fd = table.get("fd:1")
    first = await tools.call("read_fd", {"fd": "fd:1"}, ctx)
    assert isinstance(first, FDView) and not first.is_error
    assert f'page="1 of {fd.page_count}"' in first.content and 'lines="1-10 of 200"' in first.content
    assert 'next: read_fd(fd="fd:1", page=2)' in first.content
    body = []
    for page in range(1, fd.page_count + 1):
        out = (await tools.call("read_fd", {"fd": "1", "page": page}, ctx)).content
        body.append(out.split(">\n", 1)[1].rsplit("</fd_read>", 1)[0])
    assert "".join(body) == TEXT
    assert out.endswith(f"[page {fd.page_count} of {fd.page_count}: the end of fd:1]")


async def test_read_fd_by_lines_and_chars(tools: Toolset, ctx: SimpleToolContext) -> None:
    out = (await tools.call("read_fd", {"fd": "fd:1", "start_line": 50, "end_line": 51}, ctx)).content
    assert "row 050" in out and "row 051" in out and "row 052" not in out
    assert 'lines="50-51 of 200"' in out and out.endswith("[fd:1 continues at line 52]")
    out = (await tools.call("read_fd", {"fd": "fd:1", "start_char": 4, "end_char": 7}, ctx)).content
    assert "\n001\n</fd_read>" in out and 'chars="4:7 of 7800"' in out and "continues at character 7" in out


async def test_long_line_reads_are_cut_and_say_how_to_continue(tools: Toolset,
                                                                ctx: SimpleToolContext) -> None:
    out = (await tools.call("read_fd", {"fd": "fd:1", "start_line": 1, "end_line": 150}, ctx)).content
    assert 'lines="1-20 of 200"' in out  # 800 characters: the read limit
    assert 'continue with read_fd(fd="fd:1", start_line=21, end_line=150)' in out
    out = (await tools.call("read_fd", {"fd": "fd:1", "start_char": 10}, ctx)).content
    assert 'continue with read_fd(fd="fd:1", start_char=' in out


async def test_extract_to_new_fd(tools: Toolset, ctx: SimpleToolContext, table: FDTable) -> None:
    out = await tools.call("read_fd", {"fd": "fd:1", "start_line": 101, "end_line": 200,
                                       "extract_to_new_fd": True}, ctx)
    assert not out.is_error and "into fd:2: 3,900 characters, 100 lines" in out.content
    assert table.get("fd:2").content == "".join(TEXT.splitlines(keepends=True)[100:])


@pytest.mark.parametrize("args, message", [
    ({"fd": "fd:9"}, "unknown file descriptor 'fd:9'; this process has fd:1"),
    ({"fd": "fd:1", "page": 99}, "fd:1: page 99 does not exist: valid pages are 1-20"),
    ({"fd": "fd:1", "page": 0}, "valid pages are 1-20"),
    ({"fd": "fd:1", "start_line": 201}, "valid lines are 1-200"),
    ({"fd": "fd:1", "page": 2, "start_line": 3}, "give one kind of range"),
    ({"fd": "fd:1", "start_char": 9, "end_char": 3}, "end_char 3 must be greater than start_char 9"),
])
async def test_read_fd_errors_are_results(tools: Toolset, ctx: SimpleToolContext, args: dict,
                                          message: str) -> None:
    out = await tools.call("read_fd", args, ctx)
    assert out.is_error and message in out.content


async def test_without_an_fd_table_the_tools_say_how_to_enable_it(tools: Toolset, tmp_path: Path) -> None:
    out = await tools.call("read_fd", {"fd": "fd:1"}, SimpleToolContext(cwd=tmp_path))
    assert out.is_error and "[file_descriptor]" in out.content


async def test_fd_to_file_writes_exactly_and_refuses_to_overwrite(tools: Toolset,
                                                                  ctx: SimpleToolContext) -> None:
    root = ctx.cwd
    out = await tools.call("fd_to_file", {"fd": "fd:1", "path": "out/all.txt"}, ctx)
    assert not out.is_error and out.content == "fd:1 written to out/all.txt (7,800 characters, 200 lines)."
    assert (root / "out" / "all.txt").read_text() == TEXT
    again = await tools.call("fd_to_file", {"fd": "fd:1", "path": "out/all.txt"}, ctx)
    assert again.is_error and "already exists" in again.content and "overwrite=true" in again.content
    replaced = await tools.call("fd_to_file", {"fd": "fd:1", "path": "out/all.txt", "overwrite": True}, ctx)
    assert not replaced.is_error and replaced.content.startswith("out/all.txt replaced with fd:1")
    appended = await tools.call("fd_to_file", {"fd": "fd:1", "path": "out/all.txt", "mode": "append"}, ctx)
    assert "appended to out/all.txt" in appended.content and "15,600 bytes" in appended.content
    assert (root / "out" / "all.txt").read_text() == TEXT + TEXT


async def test_fd_to_file_keeps_line_endings_and_unicode(tools: Toolset, ctx: SimpleToolContext,
                                                         table: FDTable) -> None:
    content = "crlf\r\nline ☃ é 😀\rlone cr\n"
    table.create(content)
    await tools.call("fd_to_file", {"fd": "fd:2", "path": "u.txt"}, ctx)
    assert (ctx.cwd / "u.txt").read_bytes() == content.encode("utf-8")


@pytest.mark.parametrize("path", ["../escape.txt", "/tmp/llmproc-fd-escape.txt", "link/x.txt"])
async def test_fd_to_file_is_confined_to_the_allowed_roots(tools: Toolset, ctx: SimpleToolContext,
                                                           tmp_path: Path, path: str) -> None:
    (ctx.cwd / "link").symlink_to(tmp_path, target_is_directory=True)  # a link out of the root
    out = await tools.call("fd_to_file", {"fd": "fd:1", "path": path}, ctx)
    assert out.is_error and out.content.startswith("access denied")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "x.txt").exists()
    assert not Path("/tmp/llmproc-fd-escape.txt").exists()


async def test_fd_to_file_errors(tools: Toolset, ctx: SimpleToolContext) -> None:
    (ctx.cwd / "dir").mkdir()
    out = await tools.call("fd_to_file", {"fd": "fd:1", "path": "dir"}, ctx)
    assert out.is_error and "is a directory" in out.content
    out = await tools.call("fd_to_file", {"fd": "fd:5", "path": "x.txt"}, ctx)
    assert out.is_error and "unknown file descriptor 'fd:5'" in out.content
    out = await tools.call("fd_to_file", {"fd": "fd:1", "path": "x.txt", "mode": "truncate"}, ctx)
    assert out.is_error and "mode" in out.content
