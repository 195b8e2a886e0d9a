#!/usr/bin/env bash
# Install the third-party MCP servers that tests/core/mcp runs against, into this folder:
#   node_modules/   @modelcontextprotocol/server-everything and server-filesystem, and the MCP
#                   Inspector CLI that tests/mcp_front drives llmproc-mcp with, and pyright, which
#                   tests/core/test_types.py runs on the packages (npm ci, pinned by package-lock.json;
#                   versions that run on Node 20: inspector 0.15.0 is the last)
#   .venv-pypi/     the PyPI servers mcp-server-time and mcp-server-git in a virtualenv of their
#                   own: they pin their own mcp, which must not replace the one llmproc is tested with;
#                   and Arize Phoenix, the trace backend of tests/core/process/test_tracing_phoenix.py
# Without npm the Node servers are skipped with a warning; their tests then skip and say why.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"
pypi_servers=("mcp-server-time==2026.10.19" "mcp-server-git==2026.10.19" "arize-phoenix==20.26.1")

if command -v npm >/dev/null 2>&1; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "install.sh: npm not found; skipping server-everything, server-filesystem, the inspector and pyright" >&2
fi

venv="$here/.venv-pypi"
installed="$("$venv/bin/python" -m pip freeze 2>/dev/null || true)"
for pin in "${pypi_servers[@]}"; do
  if ! grep -qx "$pin" <<<"$installed"; then
    "$python" -m venv --clear "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pypi_servers[@]}"
    break
  fi
done
