"""A span per `run_program`, `spawn`, `fork` and `send` call, continuing the host's trace.

The MCP SDK wraps every request in a SERVER span of its own, parented on the W3C `traceparent`
(and `tracestate`) of the request's `_meta`; our span nests under it. Without that span (the
SDK's middleware removed) the `_meta` carrier is read here. The runs a call starts are tasks
started from inside the span, so their `llmproc.run` spans are its children (process/tracing.py).
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

from mcp.server.mcpserver import Context

# llmproc.process.otel is imported in the functions: the handshake loads no engine package
# (tests/mcp_front/test_loop_stalls.py); it is small and imports OpenTelemetry only when on.


class Note:
    """Adds attributes to the call's span (pids once they are known); a no-op when off."""

    def __init__(self, span: Any = None):
        self.span = span

    def __call__(self, **attributes: Any) -> None:
        if self.span is not None:
            self.span.set_attributes(attributes)


@contextmanager
def call_span(ctx: Context, tool: str, **attributes: Any) -> Generator[Note]:
    from llmproc.process import otel

    tracer = otel.tracer()
    if tracer is None:
        yield Note()
        return
    from opentelemetry import propagate, trace

    parent = None
    if not trace.get_current_span().get_span_context().is_valid:
        meta: Any = ctx.request_context.meta
        if meta and "traceparent" in meta:
            parent = propagate.extract({k: v for k, v in meta.items() if isinstance(v, str)})
    with tracer.start_as_current_span(f"llmproc-mcp {tool}", context=parent,
                                      attributes={"llmproc.mcp.tool": tool, **attributes}) as span:
        yield Note(span)


def start() -> None:
    """Install the tracer provider (when tracing is on) before the first request, so the SDK's
    span of that request records too."""
    from llmproc.process import otel

    otel.tracer()


def pids(entries: Any) -> list[int]:
    return [e.pid for e in entries]


__all__ = ["Note", "call_span", "pids", "start"]
