"""Restart persistence: the process table lives in the state store. After a restart `ps` lists the
earlier processes, finished answers and their fds can be read, and runs that were cut off are
`interrupted` after a clean shutdown and continue with `send`; a run cut off by SIGKILL is taken up
by the next start on its own (durable.py)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
from llmproc.testing import FakeLLMServer, Reply, ToolUse
from mcp import Client

from .conftest import STEP_S, HttpServer, first, in_memory, text_of


async def test_a_restart_keeps_answers_fds_and_interrupted_runs(
        programs: Path, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    state = tmp_path / "state"
    long_answer = "x" * 5000
    fake_llm.add(Reply(text=long_answer), Reply(text="never finished", delay=30))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, state_dir=state, max_answer_chars=1000, preview_chars=500) as client:
            done = await client.call_tool("run_program", {"program": "helper", "prompt": "write a lot"})
            cut = await client.call_tool("spawn", {"tasks": [{"program": "helper",
                                                               "prompt": "think slowly"}]})
            await client.call_tool("wait", {"pids": [2], "timeout_s": 0.3})  # its request reached the model
            assert first(done)["fd"] == "fd:1" and first(cut)["status"] in ("queued", "running")
        # the server stopped (the client closed stdio): the slow run was interrupted
        fake_llm.add(Reply(text="Picked up again."), Reply(text="new one"))
        async with in_memory(programs, state_dir=state, wait_s=5, max_answer_chars=1000,
                             preview_chars=500) as client:
            ps = await client.call_tool("ps", {})
            old = await client.call_tool("wait", {"pids": [1]})
            page = await client.call_tool("read_fd", {"fd": "fd:1", "start_char": 4990})
            resumed = await client.call_tool("send", {"pid": 2, "prompt": "please continue"})
            fresh = await client.call_tool("run_program", {"program": "helper", "prompt": "hello"})
    rows = {p["pid"]: p for p in ps.structured_content["processes"]}
    assert rows[1]["status"] == "done" and rows[2]["status"] == "interrupted"
    assert "interrupted" in text_of(ps)
    assert first(old)["answer_chars"] == 5000 and "fd:1" in text_of(old)
    assert "x" * 10 in text_of(page) and "the end of fd:1" in text_of(page)
    assert first(resumed)["status"] == "done" and "Picked up again." in text_of(resumed)
    messages = fake_llm.requests[-2].body["messages"]  # the continued run: its earlier prompt kept
    texts = [part["text"] for m in messages for part in m["content"] if part.get("type") == "text"]
    assert "think slowly" in texts and "please continue" in texts
    assert first(fresh)["pid"] == 3  # pids are never reused


async def test_a_killed_server_loses_no_finished_result(
        programs: Path, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    state = tmp_path / "state"
    fake_llm.add(Reply(text="kept across SIGKILL"), Reply(text="cut off", delay=30))
    server = HttpServer(programs, state, log=tmp_path / "server.log").start()
    try:
        with anyio.fail_after(STEP_S):
            async with Client(server.url) as client:
                one = await client.call_tool("run_program", {"program": "helper", "prompt": "one"})
                await client.call_tool("spawn", {"tasks": [{"program": "helper", "prompt": "two"}]})
                running = await client.call_tool("wait", {"pids": [2], "timeout_s": 0.5})
                assert first(one)["status"] == "done" and first(running)["status"] == "running"
    finally:
        assert server.process is not None
        server.process.kill()  # SIGKILL: no shutdown code runs
        server.process.wait(timeout=STEP_S)
    fake_llm.add(Reply(text="finished after the crash"), Reply(text="continued later"))
    server = HttpServer(programs, state, log=tmp_path / "server.log").start()
    try:
        with anyio.fail_after(STEP_S):
            async with Client(server.url) as client:
                kept = await client.call_tool("wait", {"pids": [1]})
                # the run cut off by the crash was taken up by the restarted server on its own
                finished = await client.call_tool("wait", {"pids": [2]})
                again = await client.call_tool("send", {"pid": 2, "prompt": "go on"})
    finally:
        server.stop()
    assert "kept across SIGKILL" in text_of(kept)
    assert first(finished)["status"] == "done" and "finished after the crash" in text_of(finished)
    assert first(again)["status"] == "done" and "continued later" in text_of(again)
    sent = fake_llm.requests[-1].body["messages"]  # its history: "two" once, its answer, "go on"
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert "two" in str(sent[0]) and "finished after the crash" in str(sent[1])


async def test_state_dir_from_the_environment(programs: Path, fake_llm: FakeLLMServer, tmp_path: Path,
                                              monkeypatch) -> None:
    from llmproc_mcp.settings import parse_args

    monkeypatch.setenv("LLMPROC_MCP_STATE_DIR", str(tmp_path / "from-env"))
    assert parse_args([]).state_dir == tmp_path / "from-env"
    monkeypatch.delenv("LLMPROC_MCP_STATE_DIR")
    monkeypatch.setenv("LLMPROC_STATE_DIR", str(tmp_path / "llmproc"))
    assert parse_args([]).state_dir == tmp_path / "llmproc" / "mcp"
    assert parse_args(["--no-state"]).state_dir is None



async def test_a_cut_off_run_keeps_its_turns_and_continues_with_its_whole_history(
        programs: Path, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    """The review's case: a run stopped in its third turn showed "0 turns, 0 tokens" and `send`
    continued with an empty history. Its finished turns and tool results are kept now."""
    state = tmp_path / "state"
    look = ToolUse("read_file", {"path": "pyproject.toml"})
    fake_llm.add(Reply(text="Reading.", tool_calls=[look]), Reply(text="Once more.", tool_calls=[look]),
                 Reply(text="never finished", delay=30))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, state_dir=state, wait_s=0.5) as client:
            started = await client.call_tool("run_program", {"program": "reader", "prompt": "FIRST-PROMPT"})
            while len(fake_llm.requests) < 3:  # the third model call is under way
                await anyio.sleep(0.02)
        # the server stopped with the run in its third turn
        fake_llm.add(Reply(text="Continued."))
        async with in_memory(programs, state_dir=state) as client:
            cut = await client.call_tool("wait", {"pids": [first(started)["pid"]]})
            again = await client.call_tool("send", {"pid": first(started)["pid"], "prompt": "go on"})
    row = first(cut)
    assert row["status"] == "interrupted" and row["turns"] == 3  # two finished, the third cut off
    assert row["usage"]["input_tokens"] > 0
    assert "Once more." in text_of(cut)
    assert first(again)["status"] == "done" and "Continued." in text_of(again)
    sent = json.dumps(fake_llm.requests[-1].body["messages"])
    assert "FIRST-PROMPT" in sent and "Once more." in sent and "go on" in sent
    assert sent.count("tool_result") == 2 and "[project]" in sent  # both file reads, with their content
