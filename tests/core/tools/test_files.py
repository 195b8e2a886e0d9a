"""read_file, list_dir and the confinement to allowed roots."""

from __future__ import annotations

import pytest

from llmproc.errors import ToolError
from llmproc.tools import SimpleToolContext, resolve_inside


def test_resolve_inside_accepts_paths_in_the_roots(tree, ctx):
    assert resolve_inside("a.txt", ctx) == tree / "a.txt"
    assert resolve_inside("src/../a.txt", ctx) == tree / "a.txt"
    assert resolve_inside(str(tree / "src"), ctx) == tree / "src"
    assert resolve_inside(".", ctx) == tree
    assert resolve_inside("link_in.py", ctx) == tree / "src" / "main.py"
    assert resolve_inside("not/yet/there.txt", ctx) == tree / "not" / "yet" / "there.txt"


@pytest.mark.parametrize("path", ["../outside/secret.txt", "..", "link_secret.txt", "link_out/code.py", "/etc"])
def test_resolve_inside_refuses_escapes(tree, ctx, path):
    with pytest.raises(ToolError) as info:
        resolve_inside(path, ctx)
    msg = str(info.value)
    assert msg.startswith("access denied:") and str(tree) in msg and "outside the allowed directories" in msg


def test_relative_paths_use_cwd(tree):
    ctx = SimpleToolContext(allowed_roots=[tree], cwd=tree / "src")
    assert resolve_inside("main.py", ctx) == tree / "src" / "main.py"
    assert resolve_inside("../a.txt", ctx) == tree / "a.txt"  # `..` is fine while it stays inside


def test_several_roots(tree):
    outside = tree.parent / "outside"
    ctx = SimpleToolContext(allowed_roots=[tree, outside], cwd=tree)
    assert resolve_inside("link_secret.txt", ctx) == outside / "secret.txt"


async def test_read_file(tools, ctx):
    out = await tools.call("read_file", {"path": "a.txt"}, ctx)
    assert (out.content, out.is_error) == ("alpha\nbeta\ngamma\n", False)
    out = await tools.call("read_file", {"path": "link_in.py"}, ctx)
    assert out.content.startswith("def main():")


async def test_read_file_parts(tools, ctx):
    out = await tools.call("read_file", {"path": "big.txt"}, ctx)
    lines = out.content.splitlines()
    assert lines[0] == "line 1" and lines[499] == "line 500"
    assert lines[-1] == ("[showing lines 1-500; the file continues: call read_file with offset_line=501 "
                         "to read more]")
    out = await tools.call("read_file", {"path": "big.txt", "offset_line": 1195, "max_lines": 100}, ctx)
    assert out.content.splitlines() == [f"line {i}" for i in range(1195, 1201)] + ["[showing lines 1195-1200 of 1200]"]
    out = await tools.call("read_file", {"path": "a.txt", "offset_line": 2, "max_lines": 1}, ctx)
    assert out.content == "beta\n[showing lines 2-2; the file continues: call read_file with offset_line=3 to read more]"


async def test_read_file_caps_long_lines_and_total_size(tools, ctx, tree):
    (tree / "wide.txt").write_text(("x" * 5000 + "\n") * 60)
    out = await tools.call("read_file", {"path": "wide.txt", "max_lines": 2000}, ctx)
    assert "[... line cut at 2000 characters]" in out.content
    assert len(out.content) < 110_000
    assert "the file continues" in out.content


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"path": "data.bin"}, "'data.bin' is a binary file (110 B); read_file only reads text"),
        ({"path": "src"}, "'src' is a directory; use list_dir"),
        ({"path": "nope.txt"}, "no such file: 'nope.txt'"),
        ({"path": "a.txt", "offset_line": 10}, "offset_line 10 is past the end of 'a.txt' (it has 3 lines)"),
        ({"path": "a.txt", "offset_line": 0}, "offset_line: input should be greater than or equal to 1"),
        ({"path": "a.txt", "max_lines": 5000}, "max_lines: input should be less than or equal to 2000"),
        ({"path": "../outside/secret.txt"}, "access denied"),
        ({"path": "link_secret.txt"}, "access denied"),
    ],
)
async def test_read_file_errors(tools, ctx, args, message):
    out = await tools.call("read_file", args, ctx)
    assert out.is_error
    assert message in out.content
    assert "hunter2" not in out.content


async def test_read_empty_file(tools, ctx, tree):
    (tree / "empty.txt").write_text("")
    out = await tools.call("read_file", {"path": "empty.txt"}, ctx)
    assert out == out.__class__("(empty.txt is empty)")


async def test_list_dir(tools, ctx):
    out = await tools.call("list_dir", {}, ctx)
    assert not out.is_error
    assert out.content.splitlines() == [
        "a.txt  17 B",
        "big.txt  10.6 KB",
        "data.bin  110 B",
        "empty/",
        "link_dir_in/ (symlink)",
        "link_in.py  25 B (symlink)",
        "src/",
    ]  # link_out and link_secret.txt point outside the roots: not shown
    out = await tools.call("list_dir", {"path": "src"}, ctx)
    assert out.content.splitlines() == ["main.py  25 B", "notes.md  10 B", "pkg/"]
    out = await tools.call("list_dir", {"path": "empty"}, ctx)
    assert out.content == "(empty is empty)"


async def test_list_dir_errors_and_cap(tools, ctx, tree):
    for path, message in [("a.txt", "is a file"), ("nope", "no such directory"), ("..", "access denied"),
                          ("link_out", "access denied")]:
        out = await tools.call("list_dir", {"path": path}, ctx)
        assert out.is_error and message in out.content
    many = tree / "many"
    many.mkdir()
    for i in range(520):
        (many / f"f{i:04}.txt").write_text("")
    out = await tools.call("list_dir", {"path": "many"}, ctx)
    lines = out.content.splitlines()
    assert len(lines) == 501 and lines[0] == "f0000.txt  0 B"
    assert lines[-1] == "[showing 500 of 520 entries; use glob to find specific names]"
