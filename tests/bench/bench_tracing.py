"""Cost of OpenTelemetry traces, measured side by side on the 50-turn tool loop of bench_engine.py.

Traces on: the SDK's TracerProvider with a BatchSpanProcessor (as llmproc installs it) whose
exporter encodes every batch with the OTLP protobuf encoder, as the OTLP exporters do, and counts
the bytes instead of sending them. Traces off: no provider (llmproc's spans are no-ops). Rounds
alternate on/off; the ratio of medians is the overhead (target <= 1.05). Also: spans per run
and OTLP bytes per model call, without and with content capture.

    python tests/bench/bench_tracing.py [--rounds 7] [--turns 50]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
from collections import Counter
from collections.abc import Sequence

from bench_engine import llmproc_loop
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.util._once import Once


class CountingExporter(SpanExporter):
    """Encodes like OTLPSpanExporter, then counts instead of posting."""

    def __init__(self) -> None:
        self.bytes = 0
        self.names: Counter[str] = Counter()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.bytes += len(encode_spans(spans).SerializeToString())
        self.names.update(s.name.split(" ")[0] for s in spans)
        return SpanExportResult.SUCCESS


def use(provider: TracerProvider | None) -> None:
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # the API allows one provider per process; a bench swaps
    trace._TRACER_PROVIDER = None
    if provider is not None:
        trace.set_tracer_provider(provider)


async def traced(turns: int) -> tuple[float, CountingExporter]:
    exporter = CountingExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    use(provider)
    try:
        elapsed = await llmproc_loop("anthropic", "claude-sonnet-5-5", turns)
    finally:
        provider.shutdown()  # exports what is left: counted, not timed
        use(None)
    return elapsed, exporter


async def main(rounds: int, turns: int) -> None:
    logging.getLogger("llmproc.pricing").setLevel(logging.ERROR)
    os.environ["ANTHROPIC_API_KEY"] = "bench-key"
    for name in ("LLMPROC_TRACE_CONTENT", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"):
        os.environ.pop(name, None)
    await llmproc_loop("anthropic", "claude-sonnet-5-5", 2)  # warm imports and the client pool
    await traced(2)
    on, off = [], []
    exporter = CountingExporter()
    for i in range(rounds):
        for tracing in ((True, False) if i % 2 == 0 else (False, True)):
            if tracing:
                elapsed, exporter = await traced(turns)
                on.append(elapsed)
            else:
                off.append(await llmproc_loop("anthropic", "claude-sonnet-5-5", turns))
    a, b = statistics.median(on), statistics.median(off)
    ours = sum(n for name, n in exporter.names.items() if name in ("llmproc.run", "chat", "execute_tool"))
    print(f"anthropic {turns}-turn tool loop, {rounds} alternating rounds: traces on {a * 1000:7.1f} ms, "
          f"off {b * 1000:7.1f} ms, ratio {a / b:.3f} (target <= 1.05)")
    print(f"spans per run: {ours} of llmproc ({dict(exporter.names)} in all, the Anthropic SDK's own included); "
          f"OTLP bytes per model call: {exporter.bytes / turns:.0f}")
    os.environ["LLMPROC_TRACE_CONTENT"] = "1"
    _, content = await traced(turns)
    del os.environ["LLMPROC_TRACE_CONTENT"]
    print(f"with LLMPROC_TRACE_CONTENT=1 (each chat span holds its whole input history): "
          f"{content.bytes / turns:.0f} OTLP bytes per model call")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--turns", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.turns))
