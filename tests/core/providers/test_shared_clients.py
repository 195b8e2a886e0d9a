"""Processes with the same provider settings share one SDK client on one event loop."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmproc import LLMProgram
from llmproc.testing import FakeLLMServer, Reply


def adapter(process):  # RetryingProvider -> Lease -> the adapter that owns the SDK client
    return process.provider.inner.inner


def program(fake: FakeLLMServer, tmp_path: Path, name: str = "claude-sonnet-5-5", **parameters) -> LLMProgram:
    return LLMProgram.from_dict({"model": {"name": name, "provider": "anthropic", "base_url": fake.anthropic_base_url},
                                 "parameters": parameters}, base_dir=tmp_path)


async def test_same_settings_share_a_client_until_the_last_process_closes(
        fake_llm: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    first = await program(fake_llm, tmp_path).start()
    second = await program(fake_llm, tmp_path).start()
    assert adapter(first) is adapter(second)
    client = adapter(first)._client
    await first.aclose()
    await first.aclose()  # closing twice gives the lease back once
    assert not client.is_closed()
    fake_llm.add(Reply(text="still works"))
    assert (await second.run("hi")).answer == "still works"
    await second.aclose()
    assert client.is_closed()
    third = await program(fake_llm, tmp_path).start()
    assert adapter(third) is not adapter(first)  # a fresh client once the old one closed
    await third.aclose()


async def test_client_settings_and_environment_decide_sharing(
        fake_llm: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "key-one")
    one = await program(fake_llm, tmp_path).start()
    other_model = await program(fake_llm, tmp_path, "claude-haiku-5-5").start()  # the model is per request
    other_timeout = await program(fake_llm, tmp_path, request_timeout_s=5.0).start()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "key-two")  # the SDK reads it at construction
    other_key = await program(fake_llm, tmp_path).start()
    assert adapter(one) is adapter(other_model)
    assert adapter(one) is not adapter(other_timeout)
    assert adapter(one) is not adapter(other_key)
    fake_llm.add(Reply(text="a"))
    await other_key.run("hi")
    assert fake_llm.requests[-1].headers["authorization"] == "Bearer key-two"
    for process in (one, other_model, other_timeout, other_key):
        await process.aclose()


async def test_spawned_children_reuse_the_parents_client(fake_llm: FakeLLMServer, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    model = f'[model]\nname = "claude-sonnet-5-5"\nprovider = "anthropic"\nbase_url = "{fake_llm.anthropic_base_url}"\n'
    (tmp_path / "child.toml").write_text(model + '[prompt]\nsystem_prompt = "child"\n')
    (tmp_path / "main.toml").write_text(model + '[tools]\nenabled = ["spawn"]\n[linked_programs]\nchild = "child.toml"\n')
    parent = await LLMProgram.from_toml(tmp_path / "main.toml").start(cwd=tmp_path)
    child = await parent.new_child(parent.program.linked_programs["child"].program)
    assert adapter(child) is adapter(parent)
    await child.aclose()
    await parent.aclose()
