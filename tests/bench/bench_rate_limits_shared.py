"""Two servers on one account: each limiter on its own versus one budget shared through the store.

Two processes (standing for two llmproc-mcp servers) each fork one idle process `--forks` times
and run every fork at once, against one fake server (a process of its own) limited to 50
requests per window of `--window` seconds (a compressed minute). First each process's limiter
is on its own, then both share their budget through one SQLite store (`--store postgres`: a
throw-away PostgreSQL cluster, when its binaries are installed), with the hook llmproc-mcp
installs (llmproc_mcp/ratelimit_store.py). Printed per run: 429s (per window), requests, failed
runs, and the wall time / the minimum the limit allows, (ceil(2 * forks / 50) - 1) windows.

    python tests/bench/bench_rate_limits_shared.py [--window 2.0] [--forks 50] [--store sqlite|postgres]

Measured (2 cores, defaults):
    each limiter on its own       429s: 49 (24.5/window)  wall: 2.42 s (1.21x the minimum 2.00 s)
    sharing one SQLite store      429s:  0                wall: 2.28 s (1.14x)
    sharing one PostgreSQL store  429s:  0                wall: 2.40 s (1.20x)
Without sharing the wall time is as short only because the retries of the 429s land in the next
window, which the fake does not fill: against a busier account they are spent requests.

`--worker URL STORE FORKS` is one of the two processes (STORE: a path, a URL or "-"); it prints
"ready" once forked and runs the forks when a line arrives on its stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rate_limits import LimitedFake, program  # noqa: E402

RPM = 50


async def worker(url: str, store_at: str, forks: int) -> dict[str, float]:
    """Fork out `forks` runs once a line arrives on stdin, sharing the budget through `store_at`."""
    from llmproc.providers import ratelimit

    store = None
    if store_at != "-":
        from llmproc.store import open_store
        from llmproc_mcp.ratelimit_store import StoreBudget

        store = open_store(store_at)
        ratelimit.set_shared(StoreBudget(store))
    parent = await program("anthropic", url, forks).start(include_env=False)
    children = [await parent.fork() for _ in range(forks)]
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # every worker starts at once
    started = time.time()
    results = await asyncio.gather(*(c.run("Say ok.") for c in children), return_exceptions=True)
    ended = time.time()
    for c in children:
        await c.aclose()
    await parent.aclose()
    if store is not None:
        store.close()
    return {"started": started, "ended": ended, "failed": sum(isinstance(r, BaseException) for r in results)}


def run_pair(url: str, store_at: str, forks: int, servers: int = 2) -> list[dict[str, float]]:
    """`servers` worker processes started together; their results."""
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-ant-bench"}
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", url, store_at, str(forks)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(servers)]
    for proc in procs:  # each has imported and forked
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("a worker did not start")
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"worker exited with {proc.returncode}")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def measure(label: str, store_at: str, forks: int, window: float) -> tuple[int, float]:
    fake = LimitedFake(requests_per_minute=RPM, window_s=window)
    results = run_pair(fake.url, store_at, forks)
    rejected, requests, _first = fake.stop()
    wall = max(r["ended"] for r in results) - min(r["started"] for r in results)
    minimum = (math.ceil(2 * forks / RPM) - 1) * window
    windows = max(1, math.ceil(wall / window))
    failed = sum(int(r["failed"]) for r in results)
    print(f"  {label:34} 429s: {rejected:3d} ({rejected / windows:.1f}/window)  requests: {requests:3d}  "
          f"failed: {failed}  wall: {wall:.2f} s ({wall / minimum:.2f}x the minimum {minimum:.2f} s)")
    return rejected, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=2.0, help="seconds standing for one minute")
    parser.add_argument("--forks", type=int, default=50, help="forks per server")
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--worker", nargs=3, metavar=("URL", "STORE", "FORKS"))
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the retry layer logs every 429
    if args.worker:
        url, store_at, forks = args.worker
        print(json.dumps(asyncio.run(worker(url, store_at, int(forks)))), flush=True)
        return
    print(f"two servers x {args.forks} forks, one account limited to {RPM} requests per {args.window:g} s window")
    measure("each limiter on its own", "-", args.forks, args.window)
    if args.store == "postgres":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from postgres_server import PostgresServer, find_bin_dir  # type: ignore[import-not-found]

        bin_dir = find_bin_dir()
        if bin_dir is None:
            sys.exit("no PostgreSQL binaries found (tests/postgres_server.py says where it looks)")
        server = PostgresServer(bin_dir)
        server.start()
        try:
            measure("sharing one PostgreSQL store", server.new_database(), args.forks, args.window)
        finally:
            server.stop()
        return
    with tempfile.TemporaryDirectory() as tmp:
        measure("sharing one SQLite store", str(Path(tmp) / "shared.db"), args.forks, args.window)


if __name__ == "__main__":
    main()
