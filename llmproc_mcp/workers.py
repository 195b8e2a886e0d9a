"""`llmproc-mcp --http --workers N`: one port served by N server processes that share the store.

One Python process runs its event loop on one core; N workers use N. The supervisor binds the
port once and starts N copies of the same command (`--worker-fd` tells each the listening
socket it inherits); the kernel hands each new connection to one of them. The workers are
ordinary servers of one store (rows.py): pids are unique across them, any worker answers `ps`,
`wait` and `read_fd` for every process, continues or forks any process that is not running, and
kills a run on another worker through the store. They serve stateless HTTP: a host's requests
may reach different workers, so no MCP session may live in one of them. Instances on several
machines behind a load balancer work the same way (`--stateless`, one PostgreSQL `--store`).

The supervisor passes SIGINT and SIGTERM on to the workers and exits when they have; a worker
that dies is started again (its runs are marked interrupted by the others, as for any server).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

log = logging.getLogger("llmproc_mcp.workers")
RESTART_DELAY_S = 1.0  # a worker that keeps dying is not restarted in a tight loop
POLL_S = 0.2


def supervise(argv: Sequence[str], host: str, port: int, workers: int) -> int:
    """Bind `host:port`, run `workers` copies of `llmproc-mcp argv` on it; their exit code."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(2048)
    listener.set_inheritable(True)
    command = [sys.executable, "-m", "llmproc_mcp", *argv, "--worker-fd", str(listener.fileno())]
    stopping: list[int] = []

    def start() -> subprocess.Popen[bytes]:
        # A group of its own: Ctrl-C in a terminal reaches the supervisor only, which passes it on
        # once (a worker given a second signal would skip its clean stop).
        return subprocess.Popen(command, pass_fds=(listener.fileno(),), process_group=0)

    def forward(signum: int, _frame: object) -> None:
        stopping.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    children = [start() for _ in range(workers)]
    log.info("llmproc-mcp: %d workers on http://%s:%s/mcp", workers, host, port)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    while True:
        alive = [c for c in children if c.poll() is None]
        if stopping and not alive:
            break
        if not stopping:
            for index, child in enumerate(children):
                if child.poll() is not None:
                    log.warning("worker %s exited with %s; starting another", child.pid, child.returncode)
                    time.sleep(RESTART_DELAY_S)
                    children[index] = start()
        time.sleep(POLL_S)
    listener.close()
    return 130 if stopping and stopping[0] == signal.SIGINT else 0


def inherited_socket(fd: int) -> socket.socket:
    sock = socket.socket(fileno=fd)
    os.set_inheritable(fd, False)
    return sock


__all__ = ["inherited_socket", "supervise"]
