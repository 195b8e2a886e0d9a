"""Front-end bounds of llmproc-mcp: --max-queued refuses runs past it, a program symlink leading
outside the folders is refused, hostile program names get a reason, and the Authorization
scheme is case-insensitive."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx2
import pytest
from llmproc.testing import FakeLLMServer, Reply
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from llmproc_mcp.settings import ServerSettings, SettingsError, parse_args

from .conftest import STEP_S, HttpServer, in_memory, program_toml, text_of


def test_max_queued_defaults_to_1000_and_has_a_flag() -> None:
    assert ServerSettings().max_queued == 1000
    assert parse_args(["--max-queued", "7"]).max_queued == 7
    with pytest.raises(SettingsError, match="--max-queued"):
        ServerSettings(max_queued=-1)


async def test_runs_past_max_queued_are_refused_with_one_line(programs: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.add(*[Reply(text="slow", delay=30) for _ in range(3)])
    with anyio.fail_after(STEP_S):
        async with in_memory(programs, max_processes=1, max_queued=1, state_dir=None) as client:
            started = await client.call_tool("spawn", {"tasks": [{"program": "helper", "prompt": "a"},
                                                                 {"program": "helper", "prompt": "b"}]})
            refused_spawn = await client.call_tool("spawn", {"tasks": [{"program": "helper", "prompt": "c"}]})
            refused_run = await client.call_tool("run_program", {"program": "helper", "prompt": "d"})
            for process in started.structured_content["processes"]:
                await client.call_tool("kill", {"pid": process["pid"]})
    assert not started.is_error
    for refused in (refused_spawn, refused_run):
        assert refused.is_error
        text = text_of(refused)
        assert "\n" not in text and "server busy: 1 run(s) already queued" in text and "--max-queued 1" in text


async def test_program_symlink_pointing_outside_the_folder_is_refused(programs: Path, tmp_path: Path,
                                                                       fake_llm: FakeLLMServer) -> None:
    outside = tmp_path / "elsewhere.toml"
    outside.write_text(program_toml(fake_llm))
    (programs / "escape.toml").symlink_to(outside)
    (programs / "alias.toml").symlink_to(programs / "helper.toml")  # a link inside the folder is fine
    fake_llm.add(Reply(text="inside"))
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            by_name = await client.call_tool("run_program", {"program": "escape", "prompt": "x"})
            by_path = await client.call_tool("run_program", {"program": "escape.toml", "prompt": "x"})
            inside = await client.call_tool("run_program", {"program": "alias", "prompt": "x"})
    assert by_name.is_error and "not inside the program folders" in text_of(by_name)
    assert by_path.is_error and "not inside the program folders" in text_of(by_path)
    assert not inside.is_error and "inside" in text_of(inside)


@pytest.mark.parametrize(("name", "reason"), [
    ("help\x00er", "NUL character"),
    ("help\x00er.toml", "NUL character"),
    ("x" * 5000, "5000 characters long"),
    ("x" * 4995 + ".toml", "5000 characters long"),
    ("x" * 300 + ".toml", "not inside the program folders"),  # longer than a file name may be
])
async def test_hostile_program_names_get_a_reason(programs: Path, name: str, reason: str) -> None:
    with anyio.fail_after(STEP_S):
        async with in_memory(programs) as client:
            run = await client.call_tool("run_program", {"program": name, "prompt": "x"})
            spawn = await client.call_tool("spawn", {"tasks": [{"program": name, "prompt": "x"}]})
    for result in (run, spawn):
        assert result.is_error and reason in text_of(result), text_of(result)


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
async def test_authorization_scheme_is_case_insensitive(programs: Path, fake_llm: FakeLLMServer, tmp_path: Path,
                                                        scheme: str) -> None:
    server = HttpServer(programs, tmp_path / "state", "--token", "s3cret", log=tmp_path / "server.log").start()
    fake_llm.add(Reply(text="authorized"))
    try:
        with anyio.fail_after(STEP_S):
            async with httpx2.AsyncClient(timeout=STEP_S) as http:
                wrong = await http.post(server.url, json={}, headers={"Authorization": f"{scheme} nope"})
                other = await http.post(server.url, json={}, headers={"Authorization": "Basic s3cret"})
            headers = {"Authorization": f"{scheme} s3cret"}
            async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(STEP_S)) as http:
                async with Client(streamable_http_client(server.url, http_client=http)) as client:
                    result = await client.call_tool("run_program", {"program": "helper", "prompt": "hi"})
    finally:
        server.stop()
    assert wrong.status_code == 401 and other.status_code == 401
    assert "authorized" in text_of(result)
