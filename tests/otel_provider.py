"""A tracer provider of its own per test: the OpenTelemetry API allows one global provider per
process, set once; tests of tracing each need theirs (and must give the previous one back)."""

from typing import Any

from opentelemetry import trace
from opentelemetry.util._once import Once


def install(provider: Any) -> Any:
    """Make `provider` the global tracer provider (None: none) and return the one it replaced."""
    saved = trace._TRACER_PROVIDER  # pyright: ignore[reportPrivateUsage]
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # pyright: ignore[reportPrivateUsage]
    trace._TRACER_PROVIDER = None  # pyright: ignore[reportPrivateUsage]
    if provider is not None:
        trace.set_tracer_provider(provider)
    return saved
