"""File descriptors inside a process (scripted provider): automatic fds, user input paging,
references, the tool set, and the lifecycle methods fork/spawn/state saving build on."""

from __future__ import annotations

import json
from pathlib import Path

import anyio

import pytest

from llmproc import LLMProgram
from llmproc.errors import ProgramConfigError
from llmproc.fd import FDTable
from llmproc.messages import ToolResult
from llmproc.process import LLMProcess
from llmproc.providers.scripted import ScriptedProvider
from llmproc.testing.script import Reply, ToolUse
from llmproc.tools import tool

BIG = "".join(f"entry {i:05d} {'z' * 60}\n" for i in range(1, 2001))  # 2000 lines, 146,000 chars


@tool
def dump() -> str:
    """Return a long text."""
    return BIG


@tool
def small() -> str:
    """Return a short text."""
    return "short answer"


@tool
def failing_loudly() -> str:
    """Fail with a long message."""
    raise RuntimeError("E" * 9000)


def program(**fd: object) -> LLMProgram:
    return LLMProgram.from_dict({
        "model": {"name": "scripted", "provider": "scripted"},
        "tools": {"enabled": ["read_fd", "fd_to_file"]},
        "file_descriptor": {"enabled": True, **fd},
    })


async def start(replies: list[Reply], tmp_path: Path, **fd: object) -> tuple[LLMProcess, ScriptedProvider]:
    provider = ScriptedProvider(replies)
    process = await program(**fd).start(provider=provider, tools=[dump, small, failing_loudly], cwd=tmp_path)
    return process, provider


def results(provider: ScriptedProvider, request: int) -> list[ToolResult]:
    return provider.requests[request].messages[-1].tool_results


async def test_long_tool_output_becomes_an_fd_and_the_model_sees_a_preview(tmp_path: Path) -> None:
    process, provider = await start([
        Reply(tool_calls=[ToolUse("dump", id="a"), ToolUse("small", id="b")]),
        Reply(tool_calls=[ToolUse("read_fd", {"fd": "fd:1", "page": 38}, id="c")]),
        Reply(text="done"),
    ], tmp_path)
    result = await process.run("go")
    big, short = results(provider, 1)
    fd = process.fd_table.get("fd:1")
    assert fd.content is BIG and fd.source == "output of dump"
    assert short.content == "short answer"  # short outputs pass unchanged
    assert len(big.content) < 4500 and BIG[:3000] in big.content and BIG[-100:] not in big.content
    assert '<fd_preview fd="fd:1" chars="146000" lines="2000" pages="38">' in big.content
    assert "above is page 1 of 38" in big.content and 'read_fd(fd="fd:1", page=2)' in big.content
    # The last page is reachable, and read_fd's own output is not turned into another fd.
    (last,) = results(provider, 2)
    assert BIG[-146:] in last.content and "[page 38 of 38: the end of fd:1]" in last.content
    assert process.fd_table.ids == ["fd:1"]
    assert result.tool_calls[0].content == big.content  # records hold what the model saw


@tool
async def slow_dump(seconds: float) -> str:
    """Wait, then return a long text."""
    await anyio.sleep(seconds)
    return BIG.replace("entry", f"slow{seconds}")


async def test_concurrent_long_outputs_get_fds_in_call_order(tmp_path: Path) -> None:
    provider = ScriptedProvider([Reply(tool_calls=[ToolUse("slow_dump", {"seconds": 0.2}, id="a"),
                                                   ToolUse("slow_dump", {"seconds": 0}, id="b")]),
                                 Reply(text="ok")])
    process = await program().start(provider=provider, tools=[slow_dump], cwd=tmp_path)
    await process.run("go")
    assert process.fd_table.get("fd:1").content.startswith("slow0.2")  # the first call, though it ended last
    assert process.fd_table.get("fd:2").content.startswith("slow0.0 ")
    first, second = results(provider, 1)
    assert "fd:1" in first.content and "fd:2" in second.content


async def test_hints_name_the_fd_tools_by_their_aliases(tmp_path: Path) -> None:
    aliased = LLMProgram.from_dict({
        "model": {"name": "scripted", "provider": "scripted"},
        "tools": {"enabled": [{"name": "read_fd", "alias": "read_output"},
                              {"name": "fd_to_file", "alias": "save_output"}]},
        "file_descriptor": {"enabled": True},
    })
    provider = ScriptedProvider([
        Reply(tool_calls=[ToolUse("dump", id="a")]),
        Reply(tool_calls=[ToolUse("read_output", {"fd": "fd:1", "page": 2}, id="b"),
                          ToolUse("read_output", {"fd": "fd:1", "start_line": 1, "end_line": 3,
                                                  "extract_to_new_fd": True}, id="c")]),
        Reply(text="done"),
    ])
    process = await aliased.start(provider=provider, tools=[dump], cwd=tmp_path)
    await process.run("go")
    (preview,) = results(provider, 1)
    page, extracted = results(provider, 2)
    assert 'read_output(fd="fd:1", page=2)' in preview.content and "read_output also reads" in preview.content
    assert 'next: read_output(fd="fd:1", page=3)' in page.content
    assert "Use fd:2 with read_output or save_output" in extracted.content
    system = provider.requests[0].system
    assert "Use read_output to read by page" in system and "Use save_output to write" in system
    for text in (preview.content, page.content, extracted.content, system):
        assert "read_fd" not in text and "fd_to_file" not in text
    copy = await process.fork()  # the copy's table keeps the names
    assert copy.fd_table.read_tool == "read_output"
    await process.aclose()


async def test_a_long_error_result_is_stored_too_and_stays_an_error(tmp_path: Path) -> None:
    process, provider = await start([Reply(tool_calls=[ToolUse("failing_loudly", id="a")]), Reply(text="ok")],
                                    tmp_path, max_direct_output_chars=1000, default_page_size=500)
    await process.run("go")
    (res,) = results(provider, 1)
    assert res.is_error and "stored as fd:1" in res.content and len(res.content) < 1500
    assert process.fd_table.get("fd:1").content.startswith("tool failing_loudly failed: RuntimeError: EEE")


async def test_long_user_input_is_paged_when_enabled(tmp_path: Path) -> None:
    process, provider = await start([Reply(text="seen")], tmp_path,
                                    page_user_input=True, max_input_chars=5000)
    await process.run(BIG)
    sent = provider.requests[0].messages[0].text
    assert "The user's message is 146,000 characters" in sent and "stored as fd:1" in sent
    assert len(sent) < 5000 + 600 and process.fd_table.get("fd:1").content is BIG
    assert process.fd_table.get("fd:1").source == "user message"
    process2, provider2 = await start([Reply(text="seen")], tmp_path, max_input_chars=5000)
    await process2.run(BIG)  # page_user_input is off: sent whole
    assert provider2.requests[0].messages[0].text == BIG and len(process2.fd_table) == 0


async def test_references_become_fds_and_the_answer_stays_as_written(tmp_path: Path) -> None:
    answer = 'Saved it. <ref id="hello">\n```python\nprint("hello")\n```\n</ref>'
    process, _ = await start([
        Reply(text=answer),
        Reply(tool_calls=[ToolUse("fd_to_file", {"fd": "ref:hello", "path": "hello.py"})]),
        Reply(text="written"),
    ], tmp_path, enable_references=True)
    result = await process.run("write hello world")
    assert result.answer == answer == process.history[1].text
    assert process.fd_table.get("fd:ref:hello").source == "reference in message m2"
    await process.run("save it")
    assert (tmp_path / "hello.py").read_text() == 'print("hello")\n'


async def test_references_are_ignored_when_not_enabled(tmp_path: Path) -> None:
    process, _ = await start([Reply(text='<ref id="x">y</ref>')], tmp_path)
    await process.run("go")
    assert len(process.fd_table) == 0


async def test_fork_copy_and_serialized_state(tmp_path: Path) -> None:
    process, _ = await start([Reply(tool_calls=[ToolUse("dump")]), Reply(text="ok")], tmp_path)
    await process.run("go")
    forked = process.fd_table.copy()
    assert forked.get("fd:1").content is process.fd_table.get("fd:1").content
    restored = FDTable.from_dict(json.loads(json.dumps(process.fd_table.to_dict())))
    assert restored.get("fd:1").content == BIG and restored.page_size == 4000
    # A table handed to another process is the one its tools use.
    other, provider = await start([Reply(tool_calls=[ToolUse("read_fd", {"fd": "fd:1", "page": 2})]),
                                   Reply(text="ok")], tmp_path)
    other.fd_table = forked
    await other.run("read")
    assert "entry 00055" in results(provider, 1)[0].content and other.tool_context.fd_table is forked


async def test_read_fd_is_added_when_fds_are_enabled(tmp_path: Path) -> None:
    prog = LLMProgram.from_dict({"model": {"name": "scripted", "provider": "scripted"},
                                 "tools": {"enabled": ["calculator"]}, "file_descriptor": {"enabled": True}})
    process = await prog.start(provider=ScriptedProvider(), cwd=tmp_path)
    assert process.toolset.names == ["calculator", "read_fd"] and process.fd_table is not None
    plain = LLMProgram.from_dict({"model": {"name": "scripted", "provider": "scripted"}})
    process = await plain.start(provider=ScriptedProvider(), cwd=tmp_path)
    assert process.fd_table is None and "read_fd" not in process.toolset.names


@pytest.mark.parametrize("name", ["read_fd", "fd_to_file"])
async def test_fd_tools_without_fds_enabled_are_a_config_error(tmp_path: Path, name: str) -> None:
    prog = LLMProgram.from_dict({"model": {"name": "scripted", "provider": "scripted"},
                                 "tools": {"enabled": ["calculator", name]}})
    with pytest.raises(ProgramConfigError) as info:
        await prog.start(provider=ScriptedProvider(), cwd=tmp_path)
    assert info.value.key == "tools.enabled[1]" and "[file_descriptor]" in str(info.value)


async def test_without_fds_long_outputs_pass_unchanged(tmp_path: Path) -> None:
    prog = LLMProgram.from_dict({"model": {"name": "scripted", "provider": "scripted"}})
    provider = ScriptedProvider([Reply(tool_calls=[ToolUse("dump")]), Reply(text="ok")])
    process = await prog.start(provider=provider, tools=[dump], cwd=tmp_path)
    await process.run("go")
    assert results(provider, 1)[0].content == BIG
