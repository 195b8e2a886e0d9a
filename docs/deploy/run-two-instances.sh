#!/usr/bin/env bash
# docs/deploy.md on one machine: two llmproc-mcp instances sharing one PostgreSQL store, and Caddy
# in front of them with docs/deploy/Caddyfile. For a trial before the real machines; it is also
# what tests/mcp_front/test_deploy.py runs.
#
#   export LLMPROC_STORE=postgresql://llmproc:PASSWORD@127.0.0.1:5432/llmproc
#   export LLMPROC_MCP_TOKEN=$(openssl rand -hex 32)
#   docs/deploy/run-two-instances.sh examples/scripted     # the programs folder
#
# Clients then use http://localhost:8080/mcp with the header "Authorization: Bearer $LLMPROC_MCP_TOKEN".
# Optional: LLMPROC_SITE (what clients use; http://localhost:8080), LLMPROC_BIND (where Caddy
# listens; 127.0.0.1), INSTANCE_HOST (where the instances listen; 127.0.0.1), PORT_A and PORT_B
# (8765, 8766), CADDY_ADMIN (Caddy's admin API; off), RUN_DIR (the logs, the pid files and
# Caddy's own files; a new temporary folder).
# Ctrl-C or SIGTERM stops all three.
set -euo pipefail

programs=${1:?usage: run-two-instances.sh PROGRAMS_FOLDER}
: "${LLMPROC_STORE:?set LLMPROC_STORE to the postgresql:// URL of the database both instances share}"
: "${LLMPROC_MCP_TOKEN:?set LLMPROC_MCP_TOKEN to the bearer token clients will send}"
here=$(cd "$(dirname "$0")" && pwd)
site=${LLMPROC_SITE:-http://localhost:8080}
host=${site#*://}
host=${host%%/*}            # the Host header clients send: the site's name, and its port if it has one
instance_host=${INSTANCE_HOST:-127.0.0.1}
port_a=${PORT_A:-8765}
port_b=${PORT_B:-8766}
run=${RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/llmproc-deploy.XXXXXX")}
mkdir -p "$run"

children=()
stop() {
  trap - EXIT INT TERM
  kill "${children[@]}" 2>/dev/null || true
  wait || true
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() {  # start NAME COMMAND...: in the background, its output in RUN_DIR/NAME.log, its pid in NAME.pid
  local name=$1
  shift
  "$@" >"$run/$name.log" 2>&1 &
  children+=("$!")
  echo "$!" >"$run/$name.pid"
}

# The store comes from LLMPROC_STORE and the token from LLMPROC_MCP_TOKEN (the environment).
for name in a b; do
  if [ "$name" = a ]; then port=$port_a; else port=$port_b; fi
  start "instance-$name" llmproc-mcp --http --stateless --host "$instance_host" --port "$port" \
    --programs "$programs" --allowed-host "$host"
done

for name in a b; do  # Caddy's first health check runs at once: let both listen first
  if [ "$name" = a ]; then port=$port_a; else port=$port_b; fi
  for _ in $(seq 600); do
    if (exec 3<>"/dev/tcp/$instance_host/$port") 2>/dev/null; then continue 2; fi
    if ! kill -0 "$(cat "$run/instance-$name.pid")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "run-two-instances.sh: instance $name does not listen on $instance_host:$port;" \
    "its log, $run/instance-$name.log, ends with:" >&2
  tail -n 5 "$run/instance-$name.log" >&2
  exit 1
done

start caddy env LLMPROC_SITE="$site" LLMPROC_BIND="${LLMPROC_BIND:-127.0.0.1}" \
  LLMPROC_INSTANCE_A="$instance_host:$port_a" LLMPROC_INSTANCE_B="$instance_host:$port_b" \
  CADDY_ADMIN="${CADDY_ADMIN:-off}" XDG_DATA_HOME="$run/caddy" XDG_CONFIG_HOME="$run/caddy" \
  caddy run --config "$here/Caddyfile" --adapter caddyfile

echo "serving $site/mcp through Caddy; logs and pids in $run; Ctrl-C stops" >&2
wait
