"""A process using real third-party MCP servers (server-everything, server-filesystem) completes a
tool conversation through each provider adapter, its real SDK and the fake provider server: the
requests carry the translated tool schemas and the results (images where the API takes them),
progress reaches the event stream, and closing the process leaves no server process behind."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from llmproc import LLMProgram
from llmproc.errors import MCPServerError, ProgramConfigError
from llmproc.process.events import ToolEnd, ToolProgress
from llmproc.testing import FakeLLMServer, Reply, ToolUse

from .conftest import EVERYTHING_JS, FILESYSTEM_JS, NODE, OUR_SERVER, alive, children, needs_node_servers

MODELS = {"anthropic": "claude-sonnet-5-5", "openai": "gpt-5", "openai_chat": "llama3.2",
          "gemini": "gemini-3-flash"}
EXPECTED_TOOLS = ["everything__echo", "tiny_image", "everything__trigger-long-running-operation",
                  "filesystem__read_text_file", "filesystem__list_directory"]


def base_url(fake: FakeLLMServer, provider: str) -> str:
    return {"anthropic": fake.anthropic_base_url, "openai": fake.openai_base_url,
            "openai_chat": fake.openai_base_url, "gemini": fake.gemini_base_url}[provider]


def sent_tools(body: dict[str, Any], provider: str) -> dict[str, dict[str, Any]]:
    """name -> JSON Schema of the arguments, read from the provider's own request shape."""
    if provider == "anthropic":
        return {t["name"]: t["input_schema"] for t in body["tools"]}
    if provider == "openai":
        return {t["name"]: t["parameters"] for t in body["tools"]}
    if provider == "openai_chat":
        return {t["function"]["name"]: t["function"]["parameters"] for t in body["tools"]}
    declarations = body["tools"][0].get("functionDeclarations") or body["tools"][0]["function_declarations"]
    return {d["name"]: d.get("parametersJsonSchema") or d.get("parameters_json_schema") for d in declarations}


def sent_results(body: dict[str, Any], provider: str) -> dict[str, Any]:
    """call id -> the tool result as the provider received it."""
    if provider == "anthropic":
        blocks = body["messages"][-1]["content"]
        return {b["tool_use_id"]: b["content"] for b in blocks if b["type"] == "tool_result"}
    if provider == "openai":
        return {i["call_id"]: i["output"] for i in body["input"] if i.get("type") == "function_call_output"}
    if provider == "openai_chat":
        return {m["tool_call_id"]: m["content"] for m in body["messages"] if m["role"] == "tool"}
    parts = [p.get("functionResponse") or p.get("function_response") for p in body["contents"][-1]["parts"]]
    return {p["id"]: p["response"] for p in parts if p}


def program(provider: str, fake: FakeLLMServer, root: Path) -> LLMProgram:
    return LLMProgram.from_dict({
        "model": {"name": MODELS[provider], "provider": provider, "base_url": base_url(fake, provider)},
        "prompt": {"system_prompt": "Use the tools."},
        "mcp": {"servers": {
            "everything": {"command": NODE or "node", "args": [str(EVERYTHING_JS), "stdio"]},
            "filesystem": {"command": NODE or "node", "args": [str(FILESYSTEM_JS), str(root)]}}},
        "tools": {"mcp": {
            "everything": ["echo", {"name": "get-tiny-image", "alias": "tiny_image",
                                    "description": "A small picture."}, "trigger-long-running-operation"],
            "filesystem": ["read_text_file", "list_directory"]}},
    }, base_dir=root)


@needs_node_servers
@pytest.mark.parametrize("provider", list(MODELS))
async def test_a_tool_conversation_with_third_party_servers(
        provider: str, fake_llm: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setenv(var, "k")
    (tmp_path / "notes.txt").write_text("buy milk\n")
    before = children()
    fake_llm.add(Reply(tool_calls=[
        ToolUse("everything__echo", {"message": "hello"}, id="call_echo"),
        ToolUse("filesystem__read_text_file", {"path": str(tmp_path / "notes.txt")}, id="call_read"),
        ToolUse("filesystem__read_text_file", {"path": "/etc/hostname"}, id="call_denied"),
        ToolUse("tiny_image", {}, id="call_image"),
        ToolUse("everything__trigger-long-running-operation", {"duration": 0.2, "steps": 2}, id="call_slow"),
    ]), Reply(text="Done."))
    events: list[Any] = []
    with anyio.fail_after(30):
        process = await program(provider, fake_llm, tmp_path).start(cwd=tmp_path)
        pids = [c.pid for c in process.mcp_servers.connections.values()]
        process.subscribe(events.append)
        try:
            result = await process.run("Go.")
        finally:
            await process.aclose()
    assert result.answer == "Done." and result.turns == 2

    # The tools went out in the provider's format, named for the model, schemas translated.
    tools = sent_tools(fake_llm.requests[0].body, provider)
    assert list(tools) == EXPECTED_TOOLS
    echo = tools["everything__echo"]
    assert echo["type"] == "object" and "message" in echo["properties"]
    assert all("$schema" not in schema for schema in tools.values())

    # The results came back: text, an error, an image (or its description).
    results = sent_results(fake_llm.requests[1].body, provider)
    dump = json.dumps(results)
    assert "Echo: hello" in dump and "buy milk" in dump
    assert "Access denied" in dump
    assert "Long running operation completed" in dump
    if provider == "anthropic":
        image = next(b for b in results["call_image"] if b["type"] == "image")
        assert image["source"]["media_type"] == "image/png" and len(image["source"]["data"]) > 100
        assert "is_error" not in json.dumps(results["call_read"])
    elif provider == "openai":
        image = next(i for i in results["call_image"] if i["type"] == "input_image")
        assert image["image_url"].startswith("data:image/png;base64,")
    else:
        assert "image/png image" in dump and "not shown" in dump

    # Progress notifications reached the event stream, tied to their call.
    progress = [e for e in events if isinstance(e, ToolProgress)]
    assert [(e.call.id, e.progress, e.total) for e in progress] == [("call_slow", 1, 2), ("call_slow", 2, 2)]
    ends = {e.call.id: e for e in events if isinstance(e, ToolEnd)}
    assert ends["call_denied"].is_error and not ends["call_read"].is_error

    # Closing the process stopped both servers.
    assert all(pid is not None for pid in pids) and not any(alive(pid) for pid in pids)
    assert children() <= before


async def test_a_program_whose_server_fails_does_not_start(fake_llm: FakeLLMServer, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    (tmp_path / "mcp.json").write_text(json.dumps({"mcpServers": {
        "ok": {"command": sys.executable, "args": [str(OUR_SERVER)]},
        "broken": {"command": sys.executable, "args": [str(OUR_SERVER), "--fail-start"]}}}))
    (tmp_path / "program.toml").write_text(
        '[model]\nname = "claude-sonnet-5-5"\nprovider = "anthropic"\n'
        f'base_url = "{fake_llm.anthropic_base_url}"\n'
        '[mcp]\nconfig_path = "mcp.json"\n[tools.mcp]\nok = ["echo"]\nbroken = "all"\n')
    before = children()
    with anyio.fail_after(30), pytest.raises(MCPServerError) as caught:
        await LLMProgram.from_toml(tmp_path / "program.toml").start()
    assert caught.value.server == "broken" and "cannot open the database" in str(caught.value)
    assert f"{tmp_path / 'mcp.json'}: mcpServers.broken" in str(caught.value)
    assert children() <= before


async def test_an_allow_list_naming_a_tool_the_server_lacks_is_an_error(tmp_path: Path) -> None:
    program = LLMProgram.from_dict({
        "model": {"name": "m", "provider": "scripted"},
        "mcp": {"servers": {"our": {"command": sys.executable, "args": [str(OUR_SERVER)]}}},
        "tools": {"mcp": {"our": ["echo", "ecko"]}},
    }, base_dir=tmp_path)
    before = children()
    with anyio.fail_after(30), \
            pytest.raises(Exception, match="has no tool 'ecko'; its tools: echo, add") as caught:
        await program.start()
    assert getattr(caught.value, "key", None) == "tools.mcp.our[1]"
    assert children() <= before


async def test_an_alias_that_collides_with_a_builtin_tool_is_an_error(tmp_path: Path) -> None:
    # Refused when the program loads (ProgramConfigError naming the key), before any server starts.
    with pytest.raises(ProgramConfigError, match=r"tools\.mcp\.our\[0\]: tool name 'calculator' is already used"):
        LLMProgram.from_dict({
            "model": {"name": "m", "provider": "scripted"},
            "tools": {"enabled": ["calculator"],
                      "mcp": {"our": [{"name": "add", "alias": "calculator"}]}},
            "mcp": {"servers": {"our": {"command": sys.executable, "args": [str(OUR_SERVER)]}}},
        }, base_dir=tmp_path)


async def test_the_scripted_provider_calls_mcp_tools_and_results_keep_their_images(tmp_path: Path) -> None:
    program = LLMProgram.from_dict({
        "model": {"name": "m", "provider": "scripted", "replies": [
            {"tool_calls": [{"name": "our__picture"}, {"name": "our__add", "arguments": {"a": 1, "b": 2}}]},
            "ok"]},
        "mcp": {"servers": {"our": {"command": sys.executable, "args": [str(OUR_SERVER)]}}},
        "tools": {"mcp": {"our": ["picture", "add"]}},
    }, base_dir=tmp_path)
    with anyio.fail_after(30):
        async with await program.start() as process:
            result = await process.run("go")
    from llmproc.messages import Message

    results = process.history[-2].tool_results
    assert [r.content for r in results] == ["", "3"]
    assert results[0].images[0].media_type == "image/png"
    # The history (images included) survives a JSON round trip, as saving and forking need.
    again = [Message.from_dict(json.loads(json.dumps(m.to_dict()))) for m in process.history]
    assert again == process.history
    assert result.answer == "ok"


async def test_a_long_mcp_result_goes_into_a_file_descriptor(tmp_path: Path) -> None:
    long_text = "line of output\n" * 200
    program = LLMProgram.from_dict({
        "model": {"name": "m", "provider": "scripted", "replies": [
            {"tool_calls": [{"name": "our__echo", "arguments": {"text": long_text}}]}, "ok"]},
        "mcp": {"servers": {"our": {"command": sys.executable, "args": [str(OUR_SERVER)]}}},
        "tools": {"mcp": {"our": ["echo"]}},
        "file_descriptor": {"enabled": True, "max_direct_output_chars": 500},
    }, base_dir=tmp_path)
    with anyio.fail_after(30):
        async with await program.start() as process:
            await process.run("go")
    [result] = process.history[-2].tool_results
    assert len(result.content) < len(long_text)
    [fd] = list(process.fd_table)
    assert fd.id in result.content and fd.content == long_text
