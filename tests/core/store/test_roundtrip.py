"""Property tests: any history (every part type), usage, cost and fd table survives
snapshot -> JSON -> SQLite store -> restore unchanged, and saving the restored process again
gives the same state."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmproc import LLMProcess, LLMProgram
from llmproc.fd import FDTable
from llmproc.messages import ImageData, Message, TextPart, ThinkingPart, ToolCall, ToolResult, Usage
from llmproc.process.history import History
from llmproc.store import SQLiteStore, open_store
from llmproc.store.state import INTERRUPTED_RESULT
from llmproc.testing import ScriptedProvider

text = st.text(max_size=60)
any_text = st.text(st.characters(codec=None), max_size=30)  # lone surrogates included
opt_text = st.none() | text
json_scalar = st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.floats(allow_nan=False) | text
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(text, inner, max_size=3), max_leaves=8)

parts = st.one_of(
    st.builds(TextPart, any_text),
    st.builds(ThinkingPart, text, signature=opt_text, redacted=opt_text, provider=opt_text, id=opt_text),
    st.builds(ToolCall, text, text, st.dictionaries(text, json_value, max_size=4)),
    st.builds(ToolResult, text, any_text, is_error=st.booleans(), name=opt_text,
              images=st.lists(st.builds(ImageData, st.sampled_from(["image/png", "image/jpeg"]), text),
                              max_size=2).map(tuple)),
)
messages = st.builds(Message, st.sampled_from(["user", "assistant"]),
                     st.lists(parts, min_size=1, max_size=4).map(tuple),
                     st.none() | st.from_regex(r"m[0-9]{1,4}", fullmatch=True))
counts = st.integers(0, 10**9)
usages = st.builds(Usage, counts, counts, counts, counts, counts)


@st.composite
def fd_tables(draw: st.DrawFn) -> FDTable | None:
    if draw(st.booleans()):
        return None
    table = FDTable(page_size=draw(st.integers(1, 500)), max_direct_chars=draw(st.integers(1, 5000)))
    for content, source, ref in draw(st.lists(st.tuples(st.text(max_size=300), text, st.none() | text.filter(
            lambda s: s.strip() == s and s)), max_size=4)):
        if ref:
            table.create_reference(ref, content, source=source)
        else:
            table.create(content, source=source)
    return table


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    with open_store(tmp_path_factory.mktemp("store")) as opened:
        yield opened


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> LLMProgram:
    return LLMProgram.from_dict({"model": {"name": "echo", "provider": "scripted"},
                                 "file_descriptor": {"enabled": True}},
                                base_dir=tmp_path_factory.mktemp("program"))


def comparable(state: dict[str, Any]) -> dict[str, Any]:
    """What must survive: everything but when and as which pid it was saved."""
    return {k: v for k, v in state.items() if k not in ("saved_at", "pid")}


@settings(max_examples=60, deadline=None)
@given(history=st.lists(messages, max_size=6), usage=usages, cost=st.none() | st.floats(0, 1e6),
       next_id=st.integers(1, 10**6), table=fd_tables())
def test_process_round_trips_through_json_and_the_store(store: SQLiteStore, program: LLMProgram,
                                                        history: list[Message], usage: Usage, cost: float | None,
                                                        next_id: int, table: FDTable | None) -> None:
    async def scenario() -> None:
        process = await program.start(provider=ScriptedProvider())
        process.history, process.usage, process.cost_usd, process.next_message_id = History(history), usage, cost, next_id
        process.fd_table = table
        state = process.snapshot()
        store.save("prop", state)
        loaded = store.load("prop")
        assert loaded == json.loads(json.dumps(state))
        restored = await LLMProcess.restore(loaded, provider=ScriptedProvider())
        try:
            expected = list(history)
            if history and history[-1].role == "assistant" and history[-1].tool_calls:
                # Saved with calls unanswered (mid-run): restore answers them, as a cancelled run does.
                expected.append(Message("user", tuple(ToolResult(c.id, INTERRUPTED_RESULT, True, c.name)
                                                      for c in history[-1].tool_calls), f"m{next_id}"))
                state["history"] = [m.to_dict() for m in expected]
                state["next_message_id"] = next_id + 1
                loaded = {**loaded, "history": state["history"], "next_message_id": next_id + 1}
            assert list(restored.history) == expected
            assert restored.usage == usage and restored.cost_usd == cost
            if table is None:
                assert restored.fd_table is not None and len(restored.fd_table) == 0  # the program's own, empty
            else:
                assert restored.fd_table is not None and restored.fd_table.to_dict() == table.to_dict()
                for fd in table:
                    assert restored.fd_table.get(fd.id).pages.page_count == fd.page_count
            again = restored.snapshot()
            if table is None:
                again["fd_table"] = None
            assert comparable(json.loads(json.dumps(again))) == comparable(loaded)
        finally:
            await restored.aclose()
            await process.aclose()

    asyncio.run(scenario())


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["mcp.process", "other"]), key=text.filter(bool),
       value=st.dictionaries(text, json_value, max_size=5))
def test_records_round_trip(store: SQLiteStore, kind: str, key: str, value: dict[str, Any]) -> None:
    store.put_record(kind, key, value)
    assert store.get_record(kind, key) == value
    assert store.list_records(kind)[key] == value
    assert store.delete_record(kind, key) is True
    assert key not in store.list_records(kind)


def test_lone_surrogates_are_stored_exactly(tmp_path: Path) -> None:
    state_like = {"kind": "llmproc.process", "history": [{"role": "user", "parts": [
        {"type": "text", "text": "bytes \udcff\udcfe and é"}]}]}
    with open_store(tmp_path) as store:
        store.save("odd", state_like)
        assert store.load("odd") == state_like
