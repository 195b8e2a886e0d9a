"""OpenTelemetry traces of runs (process/tracing.py, process/otel.py), recorded with the SDK's
in-memory exporter: the span tree of a run that spawns and forks, the GenAI attributes of model
and tool calls, retries, content capture on and off, and no opentelemetry import when off."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.otel_provider import install

from llmproc import LLMProgram
from llmproc.messages import Usage
from llmproc.testing import FakeLLMServer, HTTPError, Reply, ToolUse

ROOT = Path(__file__).resolve().parents[3]



@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    for name in ("LLMPROC_TRACE_CONTENT", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"):
        monkeypatch.delenv(name, raising=False)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    saved = install(provider)
    yield exporter
    install(saved)
    provider.shutdown()


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")


def toml(fake: FakeLLMServer, extra: str = "") -> str:
    return (f'[model]\nname = "claude-sonnet-5-5"\nprovider = "anthropic"\nbase_url = "{fake.anthropic_base_url}"\n'
            + extra)


def tree(tmp_path: Path, fake: FakeLLMServer) -> Path:
    (tmp_path / "expert.toml").write_text(toml(fake))
    main = tmp_path / "main.toml"
    main.write_text(toml(fake, '[tools]\nenabled = ["spawn", "fork"]\n'
                               '[linked_programs]\nexpert = "expert.toml"\n'))
    return main


def by_name(exported: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in exported if s.name == name]


def parent_of(span: ReadableSpan, exported: tuple[ReadableSpan, ...]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    return next((s for s in exported if s.context is not None and s.context.span_id == span.parent.span_id), None)


async def test_spawn_and_fork_children_are_children_of_their_tool_call(
        spans: InMemorySpanExporter, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.add(
        Reply(tool_calls=[ToolUse("spawn", {"program_name": "expert", "prompt": "look it up"})],
              usage=Usage(100, 10, cache_read_tokens=40, cache_write_tokens=7)),
        Reply(text="expert says 42", usage=Usage(20, 3)),
        Reply(tool_calls=[ToolUse("fork", {"prompts": ["check A"]})], usage=Usage(150, 8)),
        Reply(text="copy checked A", usage=Usage(160, 4)),
        Reply(text="All done: 42", usage=Usage(200, 5)),
    )
    process = await LLMProgram.from_toml(tree(tmp_path, fake_llm)).start(cwd=tmp_path)
    with anyio.fail_after(15):
        result = await process.run("Find the answer")
    await process.aclose()
    assert result.answer == "All done: 42"
    exported = spans.get_finished_spans()
    assert len({s.context.trace_id for s in exported if s.context}) == 1
    runs = by_name(exported, "llmproc.run main")
    top = next(s for s in runs if s.parent is None)
    assert top.attributes is not None
    assert top.attributes["llmproc.pid"] == process.pid and top.attributes["llmproc.program"] == "main"
    assert top.attributes["gen_ai.request.model"] == "claude-sonnet-5-5"
    assert top.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert top.attributes["llmproc.usage.output_tokens"] == 10 + 3 + 8 + 4 + 5  # the children's included
    assert top.attributes["llmproc.turns"] == 3
    chats = [s for s in by_name(exported, "chat claude-sonnet-5-5") if parent_of(s, exported) is top]
    assert len(chats) == 3
    (spawn,) = by_name(exported, "execute_tool spawn")
    (fork,) = by_name(exported, "execute_tool fork")
    assert parent_of(spawn, exported) is top and parent_of(fork, exported) is top
    (expert,) = by_name(exported, "llmproc.run expert")
    assert parent_of(expert, exported) is spawn
    copy = next(s for s in runs if s is not top)
    assert parent_of(copy, exported) is fork
    assert expert.attributes is not None and expert.attributes["llmproc.parent_pid"] == process.pid
    # the children's model calls are under their runs
    assert any(parent_of(s, exported) is expert for s in by_name(exported, "chat claude-sonnet-5-5"))
    assert any(parent_of(s, exported) is copy for s in by_name(exported, "chat claude-sonnet-5-5"))


async def test_model_call_attributes(spans: InMemorySpanExporter, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(toml(fake_llm, "[parameters]\nmax_tokens = 500\ntemperature = 0.5\n"))
    fake_llm.add(Reply(text="hi", usage=Usage(100, 10, cache_write_tokens=7, cache_read_tokens=40)))
    process = await LLMProgram.from_toml(tmp_path / "p.toml").start(cwd=tmp_path)
    await process.run("hello")
    await process.aclose()
    (chat,) = by_name(spans.get_finished_spans(), "chat claude-sonnet-5-5")
    a = dict(chat.attributes or {})
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "anthropic" and a["gen_ai.system"] == "anthropic"
    assert a["gen_ai.request.model"] == "claude-sonnet-5-5"
    assert a["gen_ai.request.max_tokens"] == 500 and a["gen_ai.request.temperature"] == 0.5
    assert a["gen_ai.response.model"] == "claude-sonnet-5-5"
    assert str(a["gen_ai.response.id"]).startswith("msg_")  # the answer's id, as Anthropic names it
    assert str(a["llmproc.request_id"]).startswith("req_")  # the HTTP request's, for support
    assert a["gen_ai.usage.input_tokens"] == 147  # cached tokens included, as the conventions say
    assert a["gen_ai.usage.output_tokens"] == 10
    assert a["gen_ai.usage.cache_read.input_tokens"] == 40
    assert a["gen_ai.usage.cache_creation.input_tokens"] == 7
    assert tuple(a["gen_ai.response.finish_reasons"]) == ("end_turn",)  # type: ignore[arg-type]
    assert chat.kind is trace.SpanKind.CLIENT


async def test_tool_call_attributes_errors_and_fd(spans: InMemorySpanExporter, fake_llm: FakeLLMServer,
                                                   tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("x" * 20000)
    (tmp_path / "p.toml").write_text(toml(fake_llm, '[tools]\nenabled = ["read_file"]\n'
                                                    "[file_descriptor]\nenabled = true\nmax_direct_output_chars = 1000\n"))
    fake_llm.add(Reply(tool_calls=[ToolUse("read_file", {"path": "big.txt"}, id="call_big"),
                                   ToolUse("read_file", {"path": "missing.txt"}, id="call_missing")]),
                 Reply(text="done"))
    process = await LLMProgram.from_toml(tmp_path / "p.toml").start(cwd=tmp_path)
    await process.run("read")
    await process.aclose()
    tools = {dict(s.attributes or {})["gen_ai.tool.call.id"]: s for s in by_name(spans.get_finished_spans(),
                                                                                 "execute_tool read_file")}
    big, missing = tools["call_big"], tools["call_missing"]
    assert big.attributes is not None and missing.attributes is not None
    assert big.attributes["gen_ai.tool.name"] == "read_file"
    assert big.attributes["gen_ai.operation.name"] == "execute_tool"
    assert str(big.attributes["llmproc.fd"]).startswith("fd")
    assert float(big.attributes["llmproc.tool.duration_s"]) >= 0  # type: ignore[arg-type]
    assert big.status.status_code is StatusCode.UNSET
    assert missing.status.status_code is StatusCode.ERROR and missing.attributes["error.type"] == "tool_error"
    assert "llmproc.fd" not in missing.attributes


async def test_retries_are_span_events(spans: InMemorySpanExporter, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(toml(fake_llm))
    fake_llm.add(HTTPError(529, headers={"retry-after": "0"}), Reply(text="ok"))
    process = await LLMProgram.from_toml(tmp_path / "p.toml").start(cwd=tmp_path)
    await process.run("hello")
    await process.aclose()
    (chat,) = by_name(spans.get_finished_spans(), "chat claude-sonnet-5-5")
    (event,) = [e for e in chat.events if e.name == "retry"]
    assert event.attributes is not None
    assert event.attributes["http.response.status_code"] == 529 and event.attributes["llmproc.retry.attempt"] == 1
    assert "llmproc.retry.delay_s" in event.attributes


async def test_content_is_off_by_default_and_on_with_the_setting(
        spans: InMemorySpanExporter, fake_llm: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "p.toml").write_text(toml(fake_llm, '[tools]\nenabled = ["calculator"]\n'))

    async def run() -> str:
        spans.clear()
        fake_llm.add(Reply(tool_calls=[ToolUse("calculator", {"expression": "6*7"})]), Reply(text="SECRET ANSWER"))
        process = await LLMProgram.from_toml(tmp_path / "p.toml").start(cwd=tmp_path)
        await process.run("SECRET PROMPT")
        await process.aclose()
        return json.dumps([dict(s.attributes or {}) for s in spans.get_finished_spans()])

    off = await run()
    assert "SECRET" not in off and "6*7" not in off
    for name in ("LLMPROC_TRACE_CONTENT", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"):
        monkeypatch.setenv(name, "true")
        on = await run()
        monkeypatch.delenv(name)
        assert "SECRET PROMPT" in on and "SECRET ANSWER" in on and "6*7" in on and '"42"' in on
        assert "gen_ai.input.messages" in on and "gen_ai.output.messages" in on
        assert "gen_ai.tool.call.arguments" in on and "gen_ai.tool.call.result" in on
    # the GenAI conventions' message shape, which backends render (Phoenix showed nothing of ours)
    chats = [dict(s.attributes or {}) for s in spans.get_finished_spans() if s.name.startswith("chat ")]
    last_input = json.loads(str(chats[-1]["gen_ai.input.messages"]))
    assert last_input[0] == {"role": "user", "parts": [{"type": "text", "content": "SECRET PROMPT"}]}
    assert last_input[1]["parts"][-1]["type"] == "tool_call" and last_input[1]["parts"][-1]["name"] == "calculator"
    assert last_input[2]["role"] == "tool" and last_input[2]["parts"][0]["type"] == "tool_call_response"
    output = json.loads(str(chats[-1]["gen_ai.output.messages"]))
    assert output == [{"role": "assistant", "parts": [{"type": "text", "content": "SECRET ANSWER"}]}]


def test_no_opentelemetry_import_when_tracing_is_off() -> None:
    """A scripted run in a fresh interpreter, no OTEL_* variables: the SDK is never imported, nor
    the trace API (which only an MCP client, when a program uses MCP servers, would bring)."""
    code = textwrap.dedent("""
        import sys, anyio
        from llmproc import LLMProgram
        from llmproc.testing import Reply, ScriptedProvider, ToolUse

        async def main():
            program = LLMProgram.from_dict({"model": {"name": "m", "provider": "scripted"},
                                            "tools": {"enabled": ["calculator"]}})
            provider = ScriptedProvider([Reply(tool_calls=[ToolUse("calculator", {"expression": "1+1"})]),
                                         Reply(text="2")])
            process = await program.start(provider=provider)
            assert (await process.run("1+1?")).answer == "2"
            await process.aclose()

        anyio.run(main)
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
    """)
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_environment_turns_tracing_on_with_the_sdk(tmp_path: Path) -> None:
    """OTEL_TRACES_EXPORTER=console: llmproc installs the SDK provider; spans go to stderr (stdout
    carries answers), flushed before the command exits."""
    code = textwrap.dedent("""
        import anyio
        from llmproc import LLMProgram
        from llmproc.testing import Reply, ScriptedProvider

        async def main():
            program = LLMProgram.from_dict({"model": {"name": "m", "provider": "scripted"}})
            process = await program.start(provider=ScriptedProvider([Reply(text="hi")]))
            print((await process.run("x")).answer)
            await process.aclose()

        anyio.run(main)
    """)
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
    env.update({"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "svc-test"})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hi"
    assert '"name": "llmproc.run' in out.stderr and '"name": "chat m"' in out.stderr
    assert '"service.name": "svc-test"' in out.stderr


async def test_a_failed_model_call_marks_its_span_and_the_run(spans: InMemorySpanExporter, fake_llm: FakeLLMServer,
                                                               tmp_path: Path) -> None:
    from llmproc.errors import ProviderError

    (tmp_path / "p.toml").write_text(toml(fake_llm))
    fake_llm.add(HTTPError(400, "bad request"))
    process = await LLMProgram.from_toml(tmp_path / "p.toml").start(cwd=tmp_path)
    with pytest.raises(ProviderError):
        await process.run("hello")
    await process.aclose()
    exported = spans.get_finished_spans()
    (chat,) = by_name(exported, "chat claude-sonnet-5-5")
    (run,) = by_name(exported, "llmproc.run p")
    assert chat.status.status_code is StatusCode.ERROR and run.status.status_code is StatusCode.ERROR
    assert chat.attributes is not None and chat.attributes["http.response.status_code"] == 400
    assert chat.attributes["error.type"] == "ProviderError"


def test_the_protocol_variable_picks_the_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    from llmproc.process import otel

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    assert isinstance(otel._exporter("otlp"), Http)  # pyright: ignore[reportPrivateUsage]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    assert isinstance(otel._exporter("otlp"), Grpc)  # pyright: ignore[reportPrivateUsage]
    assert isinstance(otel._exporter("console"), ConsoleSpanExporter)  # pyright: ignore[reportPrivateUsage]
    assert otel._exporter("none") is None  # pyright: ignore[reportPrivateUsage]


@pytest.mark.parametrize(("variables", "on"), [
    ({}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/v1/traces"}, True),
    ({"OTEL_TRACES_EXPORTER": "console"}, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "none"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"}, False),
])
def test_which_variables_turn_tracing_on(variables: dict[str, str], on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmproc.process import otel

    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER",
                 "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert otel._env_wants_export() is on  # pyright: ignore[reportPrivateUsage]


def test_a_provider_of_the_user_is_used_and_none_installed(spans: InMemorySpanExporter,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from llmproc.process import otel

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    tracer = otel.tracer()
    assert tracer is not None and otel._installed is None  # pyright: ignore[reportPrivateUsage]
    with tracer.start_as_current_span("probe"):
        pass
    assert [s.name for s in spans.get_finished_spans()] == ["probe"]
