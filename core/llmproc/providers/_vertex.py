"""Where the Vertex AI providers find their Google Cloud project and region.

One table for the registry (which refuses a program that has neither, as a configuration error
naming the key, before any client is built) and for the adapters (which build the client from
the same values), so the two can never disagree about which variable counts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

# provider -> (project variables, region variables), first set wins. The variables are the
# SDKs' own: AnthropicVertex reads ANTHROPIC_VERTEX_PROJECT_ID and CLOUD_ML_REGION; genai reads
# GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION. The original LLMProc also took CLOUD_ML_REGION
# for Gemini, so programs written for it keep working.
VERTEX_ENV: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "anthropic_vertex": (("ANTHROPIC_VERTEX_PROJECT_ID",), ("CLOUD_ML_REGION",)),
    "gemini_vertex": (("GOOGLE_CLOUD_PROJECT",), ("GOOGLE_CLOUD_LOCATION", "CLOUD_ML_REGION")),
}
EXAMPLE_REGION = {"anthropic_vertex": "us-east5", "gemini_vertex": "us-central1"}


def _first(names: tuple[str, ...]) -> str | None:
    return next((value for name in names if (value := os.environ.get(name))), None)


def locate(provider: str, options: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(project, region) from the provider options ([model] project_id/region), else the environment."""
    project_vars, region_vars = VERTEX_ENV[provider]
    return (options.get("project_id") or _first(project_vars), options.get("region") or _first(region_vars))


def missing(provider: str, options: Mapping[str, Any]) -> tuple[str, str] | None:
    """(key, what to do) for the first of region and project that cannot be found, else None."""
    project, region = locate(provider, options)
    project_vars, region_vars = VERTEX_ENV[provider]
    if not region:
        return "region", (f"no Google Cloud region for {provider}: set [model] region or the environment "
                          f"variable {' or '.join(region_vars)} (e.g. {EXAMPLE_REGION[provider]})")
    if not project:
        return "project_id", (f"no Google Cloud project for {provider}: set [model] project_id or the "
                              f"environment variable {' or '.join(project_vars)}")
    return None
