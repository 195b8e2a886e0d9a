"""Whether traces are on, and the OpenTelemetry SDK set-up when llmproc installs it.

Tracing is on when either
- a global TracerProvider is already configured (a library user's own set-up): it is used as is;
- or the standard variables ask for an exporter (`OTEL_EXPORTER_OTLP_ENDPOINT`,
  `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_TRACES_EXPORTER` other than `none`) and the
  `otel` extra is installed: llmproc installs a TracerProvider with a BatchSpanProcessor per
  exporter (the SDK reads `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*` and the
  exporters' `OTEL_EXPORTER_OTLP_*` itself).

Nothing here imports opentelemetry unless one of these holds: a run without tracing costs a few
dictionary lookups. See docs/observability.md.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

log = logging.getLogger("llmproc.tracing")

INSTRUMENTATION = "llmproc"
CONTENT_VARS = ("LLMPROC_TRACE_CONTENT", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
FLUSH_TIMEOUT_S = 5.0  # a CLI exiting waits at most this long for its spans to leave

_installed: TracerProvider | None = None  # the provider llmproc installed (flushed by flush())
_cached: tuple[object, Tracer] | None = None  # (provider, its tracer)
_warned = False


def _env_wants_export() -> bool:
    env = os.environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def _global_provider() -> object | None:
    """The global TracerProvider when someone configured one (opentelemetry already imported)."""
    api = sys.modules.get("opentelemetry.trace")
    if api is None:
        return None
    provider: object = api.get_tracer_provider()
    if isinstance(provider, (api.ProxyTracerProvider, api.NoOpTracerProvider)):
        return None
    return provider


def tracer() -> Tracer | None:
    """The tracer to record spans with, or None when tracing is off."""
    global _cached
    provider = _global_provider()
    if provider is None:
        if not _env_wants_export() or not _install():
            return None
        provider = _global_provider()
        if provider is None:
            return None
    if _cached is None or _cached[0] is not provider:
        _cached = (provider, provider.get_tracer(INSTRUMENTATION, _version()))  # type: ignore[attr-defined]
    return _cached[1]


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llmproc")
    except PackageNotFoundError:
        return None


def capture_content() -> bool:
    """Prompts, answers and tool arguments/results go into spans only when asked for."""
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes") for name in CONTENT_VARS)


def _install() -> bool:
    """Install an SDK TracerProvider as the global one, from the environment. False when the SDK
    is not installed (said once) or configures no exporter."""
    global _installed, _warned
    if _installed is not None:
        return True
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        if not _warned:
            _warned = True
            log.warning("OpenTelemetry variables are set but the SDK is not installed: traces are off; "
                        "install them with: pip install \"llmproc[otel]\"")
        return False
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "llmproc"}))
    provider = TracerProvider(resource=resource)
    exporters = _exporters()
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if not exporters:
        return False
    trace.set_tracer_provider(provider)
    _installed = provider
    return True


def _exporters() -> list[SpanExporter]:
    names = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    out: list[SpanExporter] = []
    for name in (n.strip() for n in names.split(",")):
        try:
            exporter = _exporter(name)
        except ImportError as exc:
            log.warning("trace exporter %r is not installed (%s): pip install 'llmproc[otel]'", name, exc)
            continue
        if exporter is not None:
            out.append(exporter)
    return out


def _exporter(name: str) -> SpanExporter | None:
    if name == "otlp":
        env = os.environ
        protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                    or "http/protobuf").strip().lower()
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc

            return Grpc()
        if protocol != "http/protobuf":
            log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s is not supported; using http/protobuf", protocol)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

        return Http()
    if name == "console":  # stderr: stdout carries answers, --json and the stdio MCP protocol
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr)
    if name not in ("none", ""):
        log.warning("OTEL_TRACES_EXPORTER=%s: unknown exporter (otlp, console or none)", name)
    return None


def flush(timeout_s: float = FLUSH_TIMEOUT_S) -> None:
    """Send the spans still batched, before a command line exits. Only the provider llmproc
    installed: a library user's own provider is theirs to flush."""
    if _installed is not None:
        try:
            _installed.force_flush(int(timeout_s * 1000))
        except Exception:  # an unreachable collector must not fail the command
            log.debug("flushing traces failed", exc_info=True)


def shutdown(timeout_s: float = FLUSH_TIMEOUT_S) -> None:
    """Flush and stop the installed provider (servers that end with os._exit, where atexit never runs)."""
    flush(timeout_s)
    if _installed is not None:
        try:
            _installed.shutdown()
        except Exception:
            log.debug("stopping traces failed", exc_info=True)


__all__ = ["capture_content", "flush", "shutdown", "tracer"]
