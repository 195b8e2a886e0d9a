"""End to end through the real SDKs and the fake provider server: the model reads a long file,
gets an fd preview, pages through it with read_fd, and writes it to a file with fd_to_file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmproc import LLMProgram
from llmproc.fd import PageTable
from llmproc.testing import FakeLLMServer, Reply, ToolUse

PAGE = 4000
CONTENT = "".join(f"{i:04d} the quick brown fox jumps over the lazy dog; record {i * 7919 % 10007}\n"
                  for i in range(1, 401))  # 400 lines, about 29,000 characters


def tool_outputs(body: dict[str, Any], provider: str) -> list[str]:
    """The tool results a request carried, in the provider's own wire shape."""
    if provider == "anthropic":
        blocks = [b for m in body["messages"] if m["role"] == "user" and isinstance(m["content"], list)
                  for b in m["content"] if b.get("type") == "tool_result"]
        return [b["content"] if isinstance(b["content"], str) else "".join(c["text"] for c in b["content"])
                for b in blocks]
    return [item["output"] for item in body["input"] if item.get("type") == "function_call_output"]


def page_text(result: str) -> str:
    """The content between the <fd_read ...> tags of a read_fd result."""
    return result.split(">\n", 1)[1].rsplit("</fd_read>", 1)[0]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_model_pages_a_long_file_and_writes_it(provider: str, stream: bool, fake_llm: FakeLLMServer,
                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    (tmp_path / "big.log").write_text(CONTENT)
    pages = PageTable.build(CONTENT, PAGE).page_count
    assert pages >= 7
    fake_llm.add(Reply(tool_calls=[ToolUse("read_file", {"path": "big.log"})]))
    for page in range(2, pages + 1):
        fake_llm.add(Reply(tool_calls=[ToolUse("read_fd", {"fd": "fd:1", "page": page})]))
    fake_llm.add(Reply(tool_calls=[ToolUse("fd_to_file", {"fd": "fd:1", "path": "out/copy.log"})]),
                 Reply(text="Copied big.log to out/copy.log."))
    base_url = fake_llm.anthropic_base_url if provider == "anthropic" else fake_llm.openai_base_url
    model = "claude-sonnet-5-5" if provider == "anthropic" else "gpt-5"
    program = LLMProgram.from_dict({
        "model": {"name": model, "provider": provider, "base_url": base_url},
        "prompt": {"system_prompt": "Copy files."},
        "parameters": {"stream": stream, "max_retries": 0},
        "tools": {"enabled": ["read_file", "read_fd", "fd_to_file"]},
        "file_descriptor": {"enabled": True, "max_direct_output_chars": 8000, "default_page_size": PAGE},
    }, base_dir=tmp_path)
    process = await program.start(cwd=tmp_path)
    try:
        result = await process.run("Copy big.log to out/copy.log.")
    finally:
        await process.aclose()

    assert result.answer == "Copied big.log to out/copy.log."
    fake_llm.assert_all_consumed()
    bodies = [r.body for r in fake_llm.requests]
    assert len(bodies) == pages + 2
    # The system prompt explained fds; the model got tool specs for all three tools.
    assert "read_fd" in json.dumps(bodies[0]) and "<file_descriptors>" in json.dumps(bodies[0])
    # Request 2 carried the preview (page 1 and how to read on), never the whole content.
    preview = tool_outputs(bodies[1], provider)[-1]
    first_page = CONTENT[slice(*PageTable.build(CONTENT, PAGE).page_bounds(1))]
    assert first_page in preview and f'pages="{pages}"' in preview and "stored as fd:1" in preview
    assert CONTENT[-200:] not in preview and len(preview) < 8000
    assert all(CONTENT not in json.dumps(body) for body in bodies)
    # Each later request carried the next page; together the pages are the file, exactly.
    walked = [first_page]
    for page in range(2, pages + 1):
        result_text = tool_outputs(bodies[page], provider)[-1]
        assert f'page="{page} of {pages}"' in result_text
        walked.append(page_text(result_text))
    assert "".join(walked) == CONTENT
    written = tool_outputs(bodies[-1], provider)[-1]
    assert written == f"fd:1 written to out/copy.log ({len(CONTENT):,} characters, 400 lines)."
    assert (tmp_path / "out" / "copy.log").read_text() == CONTENT
