"""The tools through the SDK's in-memory client, with the fake provider server behind the programs:
answers with usage and cost, progress, the bounded wait, cancellation, paging, fan-out, fork,
continue, kill, the concurrency limit, and the errors a host gets for bad input."""

from __future__ import annotations

import itertools
import os
import re
import time
from pathlib import Path

import anyio
from llmproc.messages import Usage
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ToolUse

from llmproc_mcp import handlers
from llmproc_mcp.programs import ProgramRegistry

from .conftest import STEP_S, Progress, first, in_memory, text_of

SPAWN_HELPER = ToolUse("spawn", {"program_name": "helper", "prompt": "look it up"})


async def test_run_program_returns_answer_pid_usage_and_cost(programs: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.add(Reply(text="Paris.", usage=Usage(input_tokens=120, output_tokens=8)))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            result = await client.call_tool("run_program", {"program": "helper",
                                                            "prompt": "Capital of France?"})
    info = first(result)
    assert not result.is_error
    assert info["status"] == "done" and info["pid"] == 1 and info["turns"] == 1
    assert info["usage"]["input_tokens"] == 120 and info["usage"]["output_tokens"] == 8
    assert info["cost_usd"] > 0 and info["answer_chars"] == info["shown_chars"] == len("Paris.")
    text = text_of(result)
    assert '<answer pid="1">\nParis.\n</answer>' in text and "128 tokens" in text
    assert fake_llm.requests[0].body["messages"][-1]["content"][0]["text"] == "Capital of France?"


async def test_progress_says_what_the_process_is_doing(programs: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.add(Reply(tool_calls=[SPAWN_HELPER]), Reply(text="found it", delay=1.0),
                 Reply(text="Done.", delay=0.6))
    progress = Progress()
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, progress_interval_s=0.2) as client:
            started = time.monotonic()
            result = await client.call_tool("run_program", {"program": "boss", "prompt": "go"},
                                            progress_callback=progress)
            ended = time.monotonic()
    assert first(result)["status"] == "done"
    assert any(m == "pid 1 turn 1: spawn helper" for m in progress.messages), progress.messages
    assert any("turn 2: waiting for the model" in m for m in progress.messages)
    assert all(0 < len(m) < 200 for m in progress.messages)
    assert progress.values == sorted(set(progress.values))  # strictly increasing, as the spec asks
    marks = [started, *progress.times, ended]
    gaps = [b - a for a, b in itertools.pairwise(marks)]
    assert max(gaps) < 0.2 + 0.3, gaps  # never silent much longer than the interval


async def test_a_call_that_ends_within_the_first_interval_sends_no_progress(
        programs: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.add(Reply(text="warm-up"), Reply(text="quick", delay=0.1), Reply(text="quick again"))
    progress = Progress()
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, progress_interval_s=2.0) as client:
            await client.call_tool("run_program", {"program": "helper", "prompt": "load the SDK"})
            result = await client.call_tool("run_program", {"program": "helper", "prompt": "go"},
                                            progress_callback=progress)
            again = await client.call_tool("send", {"pid": 2, "prompt": "again"}, progress_callback=progress)
    assert first(result)["status"] == first(again)["status"] == "done"
    assert progress.messages == []  # nothing that could reach the host after its result


async def test_no_progress_races_the_result(programs: Path, fake_llm: FakeLLMServer) -> None:
    # Replies end just after a notification would go out: the result is held back instead.
    fake_llm.add(Reply(text="a", delay=0.21), Reply(text="b", delay=0.41), Reply(text="c", delay=0.62))
    progress = Progress()
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, progress_interval_s=0.2) as client:
            for pid_prompt in ("one", "two", "three"):
                before = len(progress.times)
                await client.call_tool("run_program", {"program": "helper", "prompt": pid_prompt},
                                       progress_callback=progress)
                ended = time.monotonic()
                if len(progress.times) > before:
                    assert ended - progress.times[-1] >= handlers.RESULT_GAP_S - 0.01
    assert progress.messages  # the slower runs did report progress


async def test_bounded_wait_returns_running_then_wait_collects(programs: Path,
                                                                fake_llm: FakeLLMServer) -> None:
    fake_llm.add(Reply(text="slow answer", delay=1.0))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, wait_s=0.3) as client:
            result = await client.call_tool("run_program", {"program": "helper", "prompt": "take your time"})
            info = first(result)
            assert info["status"] in ("running", "queued") and info["answer_chars"] == 0
            assert f"wait(pids=[{info['pid']}])" in text_of(result)
            early = await client.call_tool("wait", {"pids": [info["pid"]], "timeout_s": 0.05})
            assert first(early)["status"] == "running"
            calls = 0
            while True:  # what a host does: wait again while the answer is not there
                done = await client.call_tool("wait", {"pids": [info["pid"]]})
                calls += 1
                if first(done)["status"] != "running":
                    break
    assert first(done)["status"] == "done" and calls >= 2
    assert "slow answer" in text_of(done)


async def test_cancelling_a_call_stops_the_tree_and_keeps_partial_output(
        programs: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.add(Reply(text="Asking the helper first.", tool_calls=[SPAWN_HELPER]),
                 Reply(text="never seen", delay=30))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            with anyio.CancelScope() as scope:
                async def cancel_when_spawned(progress: float, total: float | None,
                                              message: str | None) -> None:
                    # The spawn shows in progress before the helper's request is sent: cancel
                    # once the fake has it (progress keeps coming while the helper waits).
                    if message and "spawn helper" in message and len(fake_llm.requests) == 2:
                        scope.cancel()

                await client.call_tool("run_program", {"program": "boss", "prompt": "go"},
                                       progress_callback=cancel_when_spawned)
            assert scope.cancelled_caught
            result = await client.call_tool("wait", {"pids": [1]})
            info = first(result)
            assert info["status"] == "cancelled"
            assert "Asking the helper first." in text_of(result)
            assert len(fake_llm.requests) == 2  # the boss never got a turn after its child was cancelled
            fake_llm.add(Reply(text="Resumed."))
            again = await client.call_tool("send", {"pid": 1, "prompt": "try again"})
    assert first(again)["status"] == "done" and "Resumed." in text_of(again)
    results = fake_llm.requests[-1].body["messages"][2]["content"]
    assert results[0]["type"] == "tool_result" and "cancelled" in str(results[0]["content"])


def _read_body(text: str) -> str:
    match = re.search(r"<fd_read [^>]*>\n(.*)</fd_read>", text, re.DOTALL)
    assert match, text
    return match.group(1)


async def test_a_long_answer_comes_back_as_a_preview_and_an_fd(programs: Path,
                                                                fake_llm: FakeLLMServer) -> None:
    answer = "".join(f"line {i:04d} of the long answer\n" for i in range(400))  # 11,600 characters
    fake_llm.add(Reply(text=answer))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, max_answer_chars=3000, preview_chars=1000, page_chars=2000) as client:
            result = await client.call_tool("run_program", {"program": "helper", "prompt": "long"})
            info = first(result)
            text = text_of(result)
            pages = []
            for page in range(1, 20):
                read = await client.call_tool("read_fd", {"fd": info["fd"], "page": page})
                pages.append(_read_body(text_of(read)))
                if "the end of" in text_of(read):
                    break
            lines = await client.call_tool("read_fd", {"fd": info["fd"], "start_line": 10, "end_line": 11})
    assert info["fd"] == "fd:1" and info["answer_chars"] == len(answer)
    assert 0 < info["shown_chars"] <= 1000
    assert f"(shown: {info['shown_chars']:,} of {len(answer):,} characters of the answer)" in text
    assert len(text) < 3000 and "read_fd" in text
    assert "".join(pages) == answer.rstrip("\n") + "\n" or "".join(pages) == answer
    assert _read_body(text_of(lines)) == "line 0009 of the long answer\nline 0010 of the long answer\n"


async def test_spawn_fans_out_and_wait_collects(programs: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.add(*(Reply(text="an answer", delay=0.2) for _ in range(3)))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            started = await client.call_tool("spawn", {"tasks": [
                {"program": "helper", "prompt": f"task {i}"} for i in range(3)]})
            pids = [p["pid"] for p in started.structured_content["processes"]]
            assert all(p["status"] in ("queued", "running") for p in started.structured_content["processes"])
            done = await client.call_tool("wait", {"pids": pids})
    assert pids == [1, 2, 3]
    assert [p["status"] for p in done.structured_content["processes"]] == ["done"] * 3
    assert sorted(r.body["messages"][0]["content"][0]["text"] for r in fake_llm.requests) == \
        ["task 0", "task 1", "task 2"]


async def test_fork_copies_the_history(programs: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.add(Reply(text="Noted: the code word is heron."), Reply(text="copy answer"),
                 Reply(text="copy answer"))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            await client.call_tool("run_program", {"program": "helper", "prompt": "Remember: heron."})
            result = await client.call_tool("fork", {"pid": 1, "prompts": ["in French", "in German"]})
            ps = await client.call_tool("ps", {})
    copies = result.structured_content["processes"]
    assert [(c["pid"], c["parent"], c["status"]) for c in copies] == [(2, 1, "done"), (3, 1, "done")]
    sent = sorted(r.body["messages"][-1]["content"][0]["text"] for r in fake_llm.requests[1:])
    assert sent == ["in French", "in German"]
    for request in fake_llm.requests[1:]:  # each copy starts with the whole history
        assert request.body["messages"][0]["content"][0]["text"] == "Remember: heron."
        assert request.body["messages"][1]["content"][0]["text"] == "Noted: the code word is heron."
    assert [p["parent"] for p in ps.structured_content["processes"]] == [None, 1, 1]


async def test_send_continues_and_kill_stops(programs: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.add(Reply(text="first"), Reply(text="second"), Reply(text="too late", delay=30))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, wait_s=0.2) as client:
            await client.call_tool("run_program", {"program": "helper", "prompt": "one"})
            await client.call_tool("wait", {"pids": [1]})
            second = await client.call_tool("send", {"pid": 1, "prompt": "two"})
            if first(second)["status"] != "done":
                second = await client.call_tool("wait", {"pids": [1]})
            assert "second" in text_of(second) and first(second)["runs"] == 2
            busy = await client.call_tool("send", {"pid": 1, "prompt": "three"})
            refused = await client.call_tool("send", {"pid": 1, "prompt": "four"})
            killed = await client.call_tool("kill", {"pid": 1})
            after = await client.call_tool("send", {"pid": 1, "prompt": "five"})
    assert first(busy)["status"] == "running"
    assert refused.is_error and "is running" in text_of(refused)
    assert first(killed)["status"] == "killed"
    assert after.is_error and "was killed" in text_of(after)
    assert [m["role"] for m in fake_llm.requests[1].body["messages"]] == ["user", "assistant", "user"]


async def test_the_process_limit_queues_runs(programs: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.add(Reply(text="a", delay=0.5), Reply(text="b", delay=0.5))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, max_processes=1) as client:
            await client.call_tool("spawn", {"tasks": [{"program": "helper", "prompt": "1"},
                                                       {"program": "helper", "prompt": "2"}]})
            await client.call_tool("wait", {"pids": [1, 2], "timeout_s": 0.2})
            ps = await client.call_tool("ps", {})
            done = await client.call_tool("wait", {"pids": [1, 2]})
    assert sorted(p["status"] for p in ps.structured_content["processes"]) == ["queued", "running"]
    assert [p["status"] for p in done.structured_content["processes"]] == ["done", "done"]


async def test_a_provider_failure_is_reported(programs: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.add(HTTPError(400, "bad request from the test"))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            result = await client.call_tool("run_program", {"program": "helper", "prompt": "x"})
    info = first(result)
    assert info["status"] == "failed" and "bad request from the test" in info["error"]
    assert "Error:" in text_of(result)


async def test_bad_input_gets_errors_that_say_what_to_do(programs: Path, fake_llm: FakeLLMServer,
                                                         tmp_path: Path) -> None:
    outside = tmp_path / "outside.toml"
    outside.write_text((programs / "helper.toml").read_text())
    fake_llm.add(Reply(text="by path"))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            unknown = await client.call_tool("run_program", {"program": "nope", "prompt": "x"})
            escaped = await client.call_tool("run_program", {"program": str(outside), "prompt": "x"})
            dotdot = await client.call_tool("run_program", {"program": "../outside.toml", "prompt": "x"})
            by_path = await client.call_tool("run_program", {"program": "helper.toml", "prompt": "x"})
            half = await client.call_tool("spawn", {"tasks": [{"program": "helper", "prompt": "x"},
                                                              {"program": "nope", "prompt": "x"}]})
            ps = await client.call_tool("ps", {})
            no_pid = await client.call_tool("wait", {"pids": [99]})
            no_fd = await client.call_tool("read_fd", {"fd": "fd:7"})
            two_ranges = await client.call_tool("read_fd", {"fd": "fd:1", "page": 1, "start_line": 2})
    assert unknown.is_error and "registered programs: boss, helper, reader" in text_of(unknown)
    assert escaped.is_error and "not inside the program folders" in text_of(escaped)
    assert dotdot.is_error and "not inside the program folders" in text_of(dotdot)
    assert first(by_path)["status"] == "done" and first(by_path)["program"] == "helper"
    assert half.is_error
    assert ps.structured_content["total"] == 1  # the spawn with a bad task started nothing
    assert no_pid.is_error and "no process 99" in text_of(no_pid)
    assert no_fd.is_error and "unknown file descriptor" in text_of(no_fd)
    assert two_ranges.is_error and "one kind of range" in text_of(two_ranges)


async def test_progress_tells_of_model_retries(programs: Path, fake_llm: FakeLLMServer) -> None:
    patient = (programs / "helper.toml").read_text().replace(
        "max_retries = 0", "max_retries = 2\nretry_initial_delay_s = 0.6\nretry_max_delay_s = 0.6")
    (programs / "patient.toml").write_text(patient)
    fake_llm.add(HTTPError(529, "Overloaded"), Reply(text="made it"))
    progress = Progress()
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, progress_interval_s=0.2) as client:
            result = await client.call_tool("run_program", {"program": "patient", "prompt": "go"},
                                            progress_callback=progress)
    assert first(result)["status"] == "done" and "made it" in text_of(result)
    assert any(m.startswith("pid 1 turn 1: model call failed (529), retry 1/2 in ") for m in progress.messages), \
        progress.messages


async def test_programs_added_or_removed_while_serving_are_seen(programs: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.add(Reply(text="from the new program"))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            before = await client.call_tool("run_program", {"program": "newcomer", "prompt": "x"})
            (programs / "newcomer.toml").write_text((programs / "helper.toml").read_text())
            after = await client.call_tool("run_program", {"program": "newcomer", "prompt": "x"})
            (programs / "newcomer.toml").unlink()
            gone = await client.call_tool("run_program", {"program": "newcomer", "prompt": "x"})
    assert before.is_error and "unknown program 'newcomer'" in text_of(before)
    assert first(after)["status"] == "done" and "from the new program" in text_of(after)
    assert gone.is_error and "unknown program 'newcomer'" in text_of(gone)


def test_a_program_added_in_the_same_timestamp_tick_is_seen(programs: Path) -> None:
    # On file systems with coarse timestamps, adding a file may leave the folder's time as it was.
    registry = ProgramRegistry([programs])
    tick = os.stat(programs).st_mtime_ns
    assert "late" not in registry.names()
    (programs / "late.toml").write_text((programs / "helper.toml").read_text())
    os.utime(programs, ns=(tick, tick))  # the same tick as the listing just made
    assert "late" in registry.names()
