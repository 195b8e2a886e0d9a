#!/usr/bin/env bash
# Install the third-party MCP servers that tests/core/mcp runs against, into this folder:
#   node_modules/   @modelcontextprotocol/server-everything and server-filesystem, and the MCP
#                   Inspector CLI that tests/mcp_front drives llmproc-mcp with, and pyright, which
#                   tests/core/test_types.py runs on the packages (npm ci, pinned by package-lock.json;
#                   versions that run on Node 20: inspector 0.15.0 is the last)
#   .venv-time/     the PyPI mcp-server-time in a virtualenv of its own: it pins its own mcp, which
#                   must not replace the one llmproc is tested with
# Without npm the Node servers are skipped with a warning; their tests then skip and say why.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"
time_version="2026.10.19"

if command -v npm >/dev/null 2>&1; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "install.sh: npm not found; skipping server-everything, server-filesystem, the inspector and pyright" >&2
fi

if [ ! -x "$here/.venv-time/bin/mcp-server-time" ] || \
   ! "$here/.venv-time/bin/python" -m pip show mcp-server-time 2>/dev/null | grep -qx "Version: $time_version"; then
  "$python" -m venv --clear "$here/.venv-time"
  "$here/.venv-time/bin/python" -m pip install --quiet --disable-pip-version-check "mcp-server-time==$time_version"
fi
