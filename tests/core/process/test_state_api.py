"""The snapshot/restore cycle through the process's public, typed surface: message ids continue
(`next_message_id`), children a restored process had started are closed stand-ins that remember
their pid (`add_stand_in`, `saved_pid`), and the imports go one way: the process saves and
restores without the store, and opening a store does not load the engine."""

from __future__ import annotations

import subprocess
import sys

from llmproc import LLMProcess, LLMProgram
from llmproc.process.process import ProcessState
from llmproc.store import state as store_state


def program(**limits: int) -> LLMProgram:
    return LLMProgram.from_dict({"model": {"name": "echo", "provider": "scripted"}, "limits": limits})


async def test_message_ids_continue_after_a_restore() -> None:
    process = await program().start()
    await process.run("one")
    assert process.next_message_id == 3 and [m.id for m in process.history] == ["m1", "m2"]
    restored = await LLMProcess.restore(process.snapshot())
    assert restored.next_message_id == 3
    await restored.run("two")
    assert [m.id for m in restored.history] == ["m1", "m2", "m3", "m4"]
    await process.aclose()
    await restored.aclose()


async def test_stand_ins_are_closed_children_that_remember_their_pid() -> None:
    process = await program(max_children=2).start()
    stand_in = process.add_stand_in(41)
    assert stand_in.state is ProcessState.CLOSED and stand_in.saved_pid == 41 and stand_in.parent is process
    assert process.saved_pid is None and process.children == [stand_in]
    state = process.snapshot()
    assert state["children"] == [41] and state["limits"]["children_started"] == 1
    restored = await LLMProcess.restore(state)
    assert [c.saved_pid for c in restored.children] == [41]
    await restored.fork()  # the one child left of max_children=2
    assert [c.saved_pid or c.pid for c in restored.children][0] == 41
    await process.aclose()
    await restored.aclose()


async def test_restore_builds_the_class_it_is_called_on() -> None:
    class Mine(LLMProcess):
        pass

    process = await program().start()
    restored = await Mine.restore(process.snapshot())
    assert type(restored) is Mine
    await process.aclose()
    await restored.aclose()


async def test_the_store_keeps_its_older_names() -> None:
    process = await program().start()
    await process.run("hi")
    state = store_state.snapshot(process)
    restored = await store_state.restore(state)
    assert list(restored.history) == list(process.history)
    assert store_state.INTERRUPTED_RESULT.startswith("interrupted")
    await process.aclose()
    await restored.aclose()


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, timeout=60, check=True)
    return set(out.stdout.split())


def test_saving_and_restoring_loads_no_store() -> None:
    modules = _modules_after(
        "import anyio\nfrom llmproc import LLMProgram, LLMProcess\n"
        "async def main():\n"
        "    p = await LLMProgram.from_dict({'model': {'name': 'e', 'provider': 'scripted'}}).start()\n"
        "    await p.run('hi')\n"
        "    r = await LLMProcess.restore(p.snapshot())\n"
        "    await p.aclose(); await r.aclose()\n"
        "anyio.run(main)")
    assert not {m for m in modules if m.startswith("llmproc.store")}


def test_opening_a_store_loads_no_engine() -> None:
    modules = _modules_after("import llmproc.store, llmproc.store.migrations")
    assert "llmproc.process.process" not in modules and "llmproc.tools" not in modules
