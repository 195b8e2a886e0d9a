"""glob and grep: patterns, caps, and no way out of the allowed roots."""

from __future__ import annotations

import pytest

from llmproc.tools.builtin.walk import glob_regex


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*.py", True, "src/main.py"),
        ("**/*.py", True, "main.py"),  # ** matches zero directories too
        ("**/*.py", True, "a/b/c/d.py"),
        ("*.py", False, "src/main.py"),
        ("src/*", True, "src/main.py"),
        ("src/*", False, "src/pkg/util.py"),
        ("src/**", True, "src/pkg/util.py"),
        ("src/**/util.py", True, "src/util.py"),
        ("?.txt", True, "a.txt"),
        ("?.txt", False, "ab.txt"),
        ("[ab].txt", True, "b.txt"),
        ("[!ab].txt", False, "b.txt"),
        ("*.txt", False, ".hidden/a.txt"),
        ("a+b.txt", True, "a+b.txt"),
    ],
)
def test_glob_regex(pattern, path, matches):
    assert bool(glob_regex(pattern).fullmatch(matches)) is path


async def test_glob_recursive(tools, ctx):
    out = await tools.call("glob", {"pattern": "**/*.py"}, ctx)
    assert out.content.splitlines() == ["link_in.py", "src/main.py", "src/pkg/util.py"]
    # link_out/code.py is outside the roots; link_dir_in/ is not descended (no duplicates, no loops)


async def test_glob_top_level_and_dirs(tools, ctx):
    out = await tools.call("glob", {"pattern": "*"}, ctx)
    assert out.content.splitlines() == [
        "a.txt", "big.txt", "data.bin", "empty/", "link_dir_in/", "link_in.py", "src/",
    ]
    out = await tools.call("glob", {"pattern": "./src/*"}, ctx)
    assert out.content.splitlines() == ["src/main.py", "src/notes.md", "src/pkg/"]


async def test_glob_in_a_subdirectory(tools, ctx):
    out = await tools.call("glob", {"pattern": "**/*.py", "path": "src"}, ctx)
    assert out.content.splitlines() == ["[paths relative to src]", "main.py", "pkg/util.py"]
    out = await tools.call("glob", {"pattern": "*.rs"}, ctx)
    assert (out.content, out.is_error) == ("no paths match '*.rs' in .", False)


async def test_glob_never_shows_outside_files(tools, ctx):
    out = await tools.call("glob", {"pattern": "**"}, ctx)
    assert "secret" not in out.content and "code.py" not in out.content and "link_out" not in out.content


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"pattern": "../*"}, "must be relative to the search path"),
        ({"pattern": "/etc/*"}, "must be relative to the search path"),
        ({"pattern": "*", "path": ".."}, "access denied"),
        ({"pattern": "*", "path": "link_out"}, "access denied"),
        ({"pattern": "*", "path": "a.txt"}, "is a file"),
        ({"pattern": "*", "path": "nope"}, "no such file or directory"),
    ],
)
async def test_glob_errors(tools, ctx, args, message):
    out = await tools.call("glob", args, ctx)
    assert out.is_error and message in out.content


async def test_glob_cap(tools, ctx, tree):
    (tree / "many").mkdir()
    for i in range(510):
        (tree / "many" / f"{i:04}.log").write_text("")
    out = await tools.call("glob", {"pattern": "many/*.log"}, ctx)
    lines = out.content.splitlines()
    assert len(lines) == 501 and lines[0] == "many/0000.log"
    assert lines[-1] == "[showing 500 of 510 matches; use a narrower pattern]"


async def test_grep(tools, ctx):
    out = await tools.call("grep", {"pattern": r"def \w+\("}, ctx)
    assert out.content.splitlines() == [
        "link_in.py:1: def main():",
        "src/main.py:1: def main():",
        "src/pkg/util.py:1: def helper(x):",
    ]  # link_out/code.py (outside) is not searched


async def test_grep_options(tools, ctx):
    out = await tools.call("grep", {"pattern": "todo", "ignore_case": True}, ctx)
    assert out.content.splitlines() == ["src/notes.md:1: Todo list", "src/pkg/util.py:2:     # TODO: more"]
    out = await tools.call("grep", {"pattern": "todo", "ignore_case": True, "glob": "**/*.md"}, ctx)
    assert out.content == "src/notes.md:1: Todo list"
    out = await tools.call("grep", {"pattern": "return", "path": "src/pkg/util.py"}, ctx)
    assert out.content == "src/pkg/util.py:3:     return x"
    out = await tools.call("grep", {"pattern": "return", "path": "src", "glob": "*.py"}, ctx)
    assert out.content == "src/main.py:2:     return 1"


async def test_grep_skips_binary_and_outside(tools, ctx):
    out = await tools.call("grep", {"pattern": "password"}, ctx)
    assert not out.is_error
    assert out.content.startswith("no matches for 'password' in '.'")
    assert "[skipped: 1 binary]" in out.content
    assert "hunter2" not in out.content


async def test_grep_max_results(tools, ctx):
    out = await tools.call("grep", {"pattern": "line", "path": "big.txt", "max_results": 3}, ctx)
    assert out.content.splitlines() == [
        "big.txt:1: line 1", "big.txt:2: line 2", "big.txt:3: line 3",
        "[stopped at 3 matches; narrow the pattern, path or glob, or raise max_results (up to 1000)]",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"pattern": "("}, "invalid regular expression '(': missing ), unterminated subpattern"),
        ({"pattern": "x", "path": "../outside"}, "access denied"),
        ({"pattern": "x", "path": "link_secret.txt"}, "access denied"),
        ({"pattern": "x", "path": "nope"}, "no such file or directory"),
        ({"pattern": "x", "glob": "../**"}, "must be relative"),
        ({"pattern": "x", "max_results": 0}, "max_results: input should be greater than or equal to 1"),
    ],
)
async def test_grep_errors(tools, ctx, args, message):
    out = await tools.call("grep", args, ctx)
    assert out.is_error and message in out.content
