"""OpenTelemetry spans of a run: the run, each model call, each tool call.

    llmproc.run <program>      one per run (gen_ai.operation.name "invoke_agent")
      chat <model>             one per model call (GenAI semantic conventions), retries as events
      execute_tool <name>      one per tool call; spawn/fork children's runs are its children

`start_run(process)` gives the run's `RunTrace`, or `OFF` (every method a no-op) when tracing
is off (`otel.tracer()` is None): then opentelemetry is never imported. Spans are made current
with the OTel context (contextvars), so a child started inside a tool call, and an MCP request
the engine sends, nest under that call without being passed anything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmproc.process import otel

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from llmproc.messages import Message, ToolCall
    from llmproc.process.process import LLMProcess
    from llmproc.providers.base import ModelRequest, ModelResponse
    from llmproc.providers.retry import RetryNotice
    from llmproc.tools.base import ToolOutput

# gen_ai.provider.name values of the semantic conventions, by our provider names.
PROVIDER_NAMES = {"anthropic": "anthropic", "anthropic_vertex": "gcp.vertex_ai", "openai": "openai",
                  "openai_chat": "openai", "gemini": "gcp.gemini"}


def start_run(process: LLMProcess, prompt: str | None) -> RunTrace | Off:
    tracer = otel.tracer()
    if tracer is None:
        return OFF
    return RunTrace(tracer, process, prompt)


class Off:
    """Tracing off: the same calls, doing nothing."""

    def __enter__(self) -> Off:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def model_call(self, request: ModelRequest) -> Off:
        return self

    def response(self, response: ModelResponse) -> None:
        return None

    def retry(self, notice: RetryNotice) -> None:
        return None

    def tool_call(self, call: ToolCall) -> Off:
        return self

    def finish(self, output: ToolOutput, stored: ToolOutput) -> None:
        return None


OFF = Off()


def _messages_json(messages: Sequence[Message]) -> str:
    """Messages in the GenAI conventions' shape (role, parts of type text, reasoning, tool_call,
    tool_call_response), which backends such as Phoenix render; not llmproc's own to_dict()."""
    from llmproc.messages import TextPart, ThinkingPart, ToolCall, ToolResult

    def part(p: object) -> dict[str, Any]:
        if isinstance(p, TextPart):
            return {"type": "text", "content": p.text}
        if isinstance(p, ThinkingPart):
            return {"type": "reasoning", "content": p.thinking}
        if isinstance(p, ToolCall):
            return {"type": "tool_call", "id": p.id, "name": p.name, "arguments": p.arguments}
        if isinstance(p, ToolResult):
            return {"type": "tool_call_response", "id": p.call_id, "response": p.content}
        return {"type": type(p).__name__}

    shaped = [{"role": "tool" if m.parts and all(isinstance(p, ToolResult) for p in m.parts) else m.role,
               "parts": [part(p) for p in m.parts]} for m in messages]
    return json.dumps(shaped, ensure_ascii=False, default=str)


def _error(span: Span, exc: BaseException) -> None:
    from opentelemetry.trace import StatusCode

    span.set_attribute("error.type", type(exc).__qualname__)
    span.set_status(StatusCode.ERROR, str(exc)[:500] or type(exc).__qualname__)
    if isinstance(exc, Exception):
        span.record_exception(exc)


class RunTrace:
    """The span of one run, current while it lasts, and the spans of its calls."""

    def __init__(self, tracer: Tracer, process: LLMProcess, prompt: str | None):
        self.tracer, self.process, self.prompt = tracer, process, prompt
        self.content = otel.capture_content()
        program = process.program
        self.provider = PROVIDER_NAMES.get(program.provider, program.provider)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": program.name,
            "gen_ai.provider.name": self.provider, "gen_ai.request.model": program.model_name,
            "llmproc.pid": process.pid, "llmproc.program": program.name, "llmproc.depth": process.depth,
        }
        if process.parent is not None:
            attributes["llmproc.parent_pid"] = process.parent.pid
        if self.content and prompt is not None:
            attributes["gen_ai.input.messages"] = json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": prompt}]}], ensure_ascii=False)
        self.span = tracer.start_span(f"llmproc.run {program.name}", attributes=attributes)
        self._use: Any = None
        self.chat: Span | None = None
        self.turns = 0
        self._start_usage, self._start_cost = process.usage, process.cost_usd  # the run's share = the change

    def __enter__(self) -> RunTrace:
        from opentelemetry.trace import use_span

        self._use = use_span(self.span, end_on_exit=True, record_exception=False, set_status_on_exception=False)
        self._use.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        process = self.process
        self.span.set_attribute("llmproc.turns", self.turns)
        usage = process.usage - self._start_usage
        self.span.set_attributes({"llmproc.usage.input_tokens": usage.total_input_tokens,
                                  "llmproc.usage.output_tokens": usage.output_tokens})
        if process.cost_usd is not None and self._start_cost is not None:
            self.span.set_attribute("llmproc.cost_usd", process.cost_usd - self._start_cost)
        if exc is not None:
            _error(self.span, exc)
        elif self.content:
            self.span.set_attribute("gen_ai.output.messages", json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": process.get_last_message()}]}],
                ensure_ascii=False))
        self._use.__exit__(exc_type, exc, tb)

    # -- model calls -----------------------------------------------------------------------------
    def model_call(self, request: ModelRequest) -> ModelCall:
        self.turns += 1
        return ModelCall(self, request)

    def retry(self, notice: RetryNotice) -> None:
        if self.chat is None:
            return
        attributes: dict[str, Any] = {"llmproc.retry.attempt": notice.attempt,
                                      "llmproc.retry.max_retries": notice.max_retries,
                                      "llmproc.retry.delay_s": notice.delay_s, "error.type": notice.error[:200]}
        if notice.status is not None:
            attributes["http.response.status_code"] = notice.status
        self.chat.add_event("retry", attributes)

    # -- tool calls ------------------------------------------------------------------------------
    def tool_call(self, call: ToolCall) -> ToolSpan:
        return ToolSpan(self, call)


class ModelCall:
    """The `chat <model>` span around one `provider.complete()`, retries included."""

    def __init__(self, run: RunTrace, request: ModelRequest):
        self.run = run
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": run.provider,
            "gen_ai.system": run.provider, "gen_ai.request.model": request.model,
            "llmproc.pid": run.process.pid, "llmproc.turn": run.turns,
        }
        for key, value in (("gen_ai.request.max_tokens", request.max_tokens),
                           ("gen_ai.request.temperature", request.temperature),
                           ("gen_ai.request.top_p", request.top_p)):
            if value is not None:
                attributes[key] = value
        if run.content:
            attributes["gen_ai.system_instructions"] = json.dumps(
                [{"type": "text", "content": request.system}], ensure_ascii=False)
            attributes["gen_ai.input.messages"] = _messages_json(request.messages)
        from opentelemetry.trace import SpanKind

        self.span = run.tracer.start_span(f"chat {request.model}", kind=SpanKind.CLIENT, attributes=attributes)
        self._use: Any = None

    def __enter__(self) -> ModelCall:
        from opentelemetry.trace import use_span

        self.run.chat = self.span
        self._use = use_span(self.span, end_on_exit=True, record_exception=False, set_status_on_exception=False)
        self._use.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self.run.chat = None
        if exc is not None:
            _error(self.span, exc)
            status = getattr(exc, "status", None)
            if isinstance(status, int):
                self.span.set_attribute("http.response.status_code", status)
        self._use.__exit__(exc_type, exc, tb)

    def response(self, response: ModelResponse) -> None:
        from llmproc.pricing import cost_usd

        usage = response.usage
        program = self.run.process.program
        cost = cost_usd(program.model_name, usage, program.provider)
        attributes: dict[str, Any] = {
            "gen_ai.usage.input_tokens": usage.total_input_tokens,  # cached tokens included, as the conventions say
            "gen_ai.usage.output_tokens": usage.output_tokens,
            "gen_ai.usage.cache_read.input_tokens": usage.cache_read_tokens,
            "gen_ai.usage.cache_creation.input_tokens": usage.cache_write_tokens,
            "gen_ai.response.finish_reasons": [response.raw_stop_reason or response.stop_reason],
            "llmproc.stop_reason": response.stop_reason,
        }
        if usage.reasoning_tokens:
            attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
        if response.model:
            attributes["gen_ai.response.model"] = response.model
        if response.response_id:
            attributes["gen_ai.response.id"] = response.response_id
        if response.request_id:  # what the provider's support asks for
            attributes["llmproc.request_id"] = response.request_id
        if cost is not None:
            attributes["llmproc.cost_usd"] = cost
        if self.run.content:
            attributes["gen_ai.output.messages"] = _messages_json([response.message])
        self.span.set_attributes(attributes)


class ToolSpan:
    """`execute_tool <name>`: current while the tool runs; ended by `finish()` once its output is
    stored (an fd made of it is known then), with the time the tool itself ended."""

    def __init__(self, run: RunTrace, call: ToolCall):
        self.run, self.call = run, call
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.id, "gen_ai.tool.type": "function", "llmproc.pid": run.process.pid,
        }
        if run.content:
            attributes["gen_ai.tool.call.arguments"] = json.dumps(call.arguments, ensure_ascii=False, default=str)
        self.span = run.tracer.start_span(f"execute_tool {call.name}", attributes=attributes)
        self._use: Any = None
        table = run.process.fd_table
        self._fds = len(table) if table is not None else 0  # fds made since are this call's if it names them
        self._started = time.perf_counter()
        self._ended_ns: int | None = None

    def __enter__(self) -> ToolSpan:
        from opentelemetry.trace import use_span

        self._use = use_span(self.span, end_on_exit=False, record_exception=False, set_status_on_exception=False)
        self._use.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self._ended_ns = time.time_ns()
        self._duration = time.perf_counter() - self._started
        self._use.__exit__(exc_type, exc, tb)
        if exc is not None:  # cancelled or failed outside the tool's own error handling: no finish()
            _error(self.span, exc)
            self.span.end(self._ended_ns)

    def finish(self, output: ToolOutput, stored: ToolOutput) -> None:
        from opentelemetry.trace import StatusCode

        span = self.span
        span.set_attribute("llmproc.tool.duration_s", round(self._duration, 6))
        if output.is_error:
            span.set_attribute("error.type", "tool_error")
            span.set_status(StatusCode.ERROR, output.content[:200])
        table = self.run.process.fd_table
        if table is not None and len(table) > self._fds:
            made = [fd for fd in table.ids[self._fds:] if fd in stored.content]
            if made:
                span.set_attribute("llmproc.fd", made[-1])
        if self.run.content:
            span.set_attribute("gen_ai.tool.call.result", stored.content)
        span.end(self._ended_ns)


__all__ = ["OFF", "Off", "RunTrace", "start_run"]
