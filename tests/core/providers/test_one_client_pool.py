"""The MCP server's clients come from the engine's pool (`llmproc.providers.shared`): processes of
one program share a few clients in slots, taken in turn; a process's handle closes nothing; a
child the engine starts with the same settings reuses a slot's client; the server's registry
closes the clients when it stops."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmproc.providers import shared
from llmproc.providers.registry import create_provider, settings_for
from llmproc.testing import FakeLLMServer
from llmproc_mcp.programs import CLIENTS_PER_PROGRAM, ProgramRegistry


def write_program(folder: Path, fake: FakeLLMServer, name: str = "claude") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f'[model]\nname = "claude-sonnet-5-5"\nprovider = "anthropic"\n'
                    f'base_url = "{fake.anthropic_base_url}"\n')
    return path


def adapter(provider):  # RetryingProvider -> Borrowed or Lease -> the adapter owning the SDK client
    return provider.inner.inner


async def test_processes_share_slots_of_the_engines_pool(fake_llm: FakeLLMServer, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    write_program(tmp_path, fake_llm)
    registry = ProgramRegistry([tmp_path])
    _, program = registry.load("claude")
    handles = [await registry.aprovider_for(program) for _ in range(CLIENTS_PER_PROGRAM * 2)]
    adapters = {id(adapter(h)) for h in handles}
    assert len(adapters) == CLIENTS_PER_PROGRAM  # taken in turn: each slot twice
    assert all(isinstance(h.inner, shared.Borrowed) for h in handles)
    first = adapter(handles[0])
    await handles[0].aclose()  # a process closing its handle closes nothing
    assert not first._client.is_closed()

    child = create_provider(settings_for(program))  # what a spawned child gets: slot 0 of the pool
    assert adapter(child) is first
    await child.aclose()
    assert not first._client.is_closed()  # the registry still holds it

    clients = [adapter(h)._client for h in handles]
    await registry.aclose()
    assert all(c.is_closed() for c in clients)


async def test_a_scripted_program_is_never_shared(tmp_path: Path) -> None:
    (tmp_path / "echo.toml").write_text('[model]\nname = "echo"\nprovider = "scripted"\n')
    registry = ProgramRegistry([tmp_path])
    _, program = registry.load("echo")
    one, two = await registry.aprovider_for(program), await registry.aprovider_for(program)
    assert one.inner is not two.inner  # RetryingProvider -> its own ScriptedProvider
    await registry.aclose()


async def test_programs_with_the_same_settings_share_clients(fake_llm: FakeLLMServer, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    write_program(tmp_path, fake_llm, "one")
    write_program(tmp_path, fake_llm, "two")
    registry = ProgramRegistry([tmp_path])
    one, two = registry.load("one")[1], registry.load("two")[1]
    a = await registry.aprovider_for(one)  # slot 0
    b = await registry.aprovider_for(two)  # slot 1
    c = await registry.aprovider_for(one)  # slot 2
    for _ in range(CLIENTS_PER_PROGRAM - 3):
        await registry.aprovider_for(two)
    d = await registry.aprovider_for(two)  # slot 0 again: the client "one" built there
    assert adapter(d) is adapter(a) and adapter(b) is not adapter(c)
    await registry.aclose()
    assert adapter(a)._client.is_closed()


async def test_a_burst_of_first_runs_loads_the_program_once_and_builds_a_client_per_slot(
        fake_llm: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A host's first fan-out: 100 runs at once on a fresh server. Each client costs tens of ms
    of CPU (its TLS context); built once per run, they took seconds before the first answer."""
    import anyio

    from llmproc_mcp import programs

    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    write_program(tmp_path, fake_llm)
    built = []
    real = programs._build_adapter
    monkeypatch.setattr(programs, "_build_adapter", lambda settings: built.append(1) or real(settings))
    registry = ProgramRegistry([tmp_path])
    loaded, handles = [], []

    async def first_run() -> None:
        _, program = await registry.aload("claude")
        loaded.append(program)
        handles.append(await registry.aprovider_for(program))

    async with anyio.create_task_group() as group:
        for _ in range(100):
            group.start_soon(first_run)
    assert len({id(p) for p in loaded}) == 1
    assert len(built) == CLIENTS_PER_PROGRAM == len({id(adapter(h)) for h in handles})
    await registry.aclose()
