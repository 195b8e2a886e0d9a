"""The process table's store cost in llmproc-mcp: N processes (default 1,000) created and
finished through one server, SQLite vs PostgreSQL, against the same work with --no-state.

Each configuration starts `python -m llmproc_mcp` over stdio with a folder holding one scripted
program (`echo`: answers with the prompt, no network) and runs N processes: `spawn` in batches
of --batch, then `wait` for the batch. --max-processes is the batch size, so nothing queues.

    sqlite     --state-dir <temp>: the default SQLite store
    postgresql --store postgresql://...: a throw-away server (tests/postgres_server.py)
    no-state   --no-state: nothing written; the reference

Figures per run (process), median over --rounds (configurations interleaved per round):

    wall       spawn + wait time seen by the client / N (server start and stop excluded)
    x ref      wall / no-state wall
    writes     rows + states the writer thread wrote (`StoreWriter._write_one`) / N
    commits    writer batches (`StoreWriter._write`, one transaction each) / N, and id allocations
               (`allocate`: a transaction of its own, not batched) / N
    writer ms  time inside `StoreWriter._write` / N (the writer thread; off the event loop)
    extra ms   (wall - no-state wall): what the store costs the client

Writes and commits are counted inside the server: it is started through a small boot script that
wraps those methods (this benchmark only; the product code is unchanged) and writes its counts to
a file when the writer closes. They cover the server's whole life (start-up and lease rows too:
a handful). The store is read afterwards as a check: N process rows and N states.

Targets: 1 state + a few rows per run, far fewer commits than writes (batching), and the store
adding little to the no-state wall time (x ref near 1.0).

    python tests/bench/bench_mcp_store.py [-n 1000] [--batch 50] [--rounds 1] [--no-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from postgres_server import PostgresServer, find_bin_dir  # noqa: E402

PROGRAM = '[model]\nname = "echo"\nprovider = "scripted"\n'
COUNTS_ENV = "BENCH_MCP_STORE_COUNTS"
BOOT = '''
import json, os, sys, time
from llmproc_mcp import persist, writer
from llmproc_mcp.server import main

counts = {"rows": 0, "states": 0, "batches": 0, "write_s": 0.0, "allocs": 0, "alloc_s": 0.0}
W, P = writer.StoreWriter, persist.StorePersistence
write, write_one, close = W._write, W._write_one, W.close
allocate, allocate_now = P.allocate, P.allocate_now

def _write(self, batch):
    started = time.perf_counter()
    try:
        write(self, batch)
    finally:
        counts["batches"] += 1
        counts["write_s"] += time.perf_counter() - started

def _write_one(self, key, value):
    counts["states" if key[0] == "state" else "rows"] += 1
    write_one(self, key, value)

def _close(self):
    close(self)
    with open(os.environ["''' + COUNTS_ENV + '''"], "w") as out:
        json.dump(counts, out)

async def _allocate(self, *args):
    started = time.perf_counter()
    try:
        return await allocate(self, *args)
    finally:
        counts["allocs"] += 1
        counts["alloc_s"] += time.perf_counter() - started

def _allocate_now(self, *args):
    counts["allocs"] += 1
    return allocate_now(self, *args)

W._write, W._write_one, W.close = _write, _write_one, _close
P.allocate, P.allocate_now = _allocate, _allocate_now
sys.argv[0] = "llmproc-mcp"
sys.exit(main())
'''


def env(counts: Path) -> dict[str, str]:
    values = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    values.update({"PYTHONUNBUFFERED": "1", COUNTS_ENV: str(counts)})
    return values


async def one_run(work: Path, name: str, store_flags: list[str], n: int, batch: int) -> dict[str, Any]:
    """Start a server with `store_flags`, create and finish n processes; the figures of the run."""
    counts = work / f"counts-{name}.json"
    counts.unlink(missing_ok=True)
    args = ["-c", BOOT, "--programs", str(work / "programs"), "--max-processes", str(batch),
            "--log-level", "WARNING", *store_flags]
    params = StdioServerParameters(command=sys.executable, args=args, env=env(counts), cwd=str(ROOT))
    done = 0
    with open(work / f"server-{name}.log", "a") as errlog:  # noqa: ASYNC230 - a local log file
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            await client.list_tools()
            started = time.perf_counter()
            for first in range(0, n, batch):
                tasks = [{"program": "echo", "prompt": f"task {i}"} for i in range(first, min(n, first + batch))]
                spawned = await client.call_tool("spawn", {"tasks": tasks})
                assert not spawned.is_error, spawned.content
                pids = [p["pid"] for p in spawned.structured_content["processes"]]
                waited = await client.call_tool("wait", {"pids": pids})
                assert not waited.is_error, waited.content
                done += sum(p["status"] == "done" for p in waited.structured_content["processes"])
            wall = time.perf_counter() - started
    figures: dict[str, Any] = {"wall_s": wall, "done": done}
    for _ in range(100):  # the server writes the counts as it closes, after the client has gone
        if counts.exists() and counts.stat().st_size:
            figures.update(json.loads(counts.read_text()))
            break
        await anyio.sleep(0.05)
    return figures


def stored(where: str | Path) -> tuple[int, int]:
    """Process rows and saved process states in the store, read after the server has stopped."""
    from llmproc.store import open_store

    store = open_store(where)
    try:
        rows = len(store.list_records("process"))
        states = sum(p.name.startswith("mcp-process-") for p in store.list())
    finally:
        store.close()
    return rows, states


def per_run(samples: list[dict[str, Any]], key: str, n: int, scale: float = 1.0) -> float:
    return statistics.median(s[key] for s in samples) * scale / n if all(key in s for s in samples) else float("nan")


async def main(n: int, batch: int, rounds: int, postgres: bool) -> None:
    backends = ["no-state", "sqlite"]
    pg: PostgresServer | None = None
    if postgres:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            print("no PostgreSQL binaries found: PostgreSQL skipped")
        else:
            pg = PostgresServer(bin_dir)
            pg.start()
            backends.append("postgresql")
    samples: dict[str, list[dict[str, Any]]] = {b: [] for b in backends}
    checks: dict[str, tuple[int, int]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-mcp-store-") as folder:
            work = Path(folder)
            (work / "programs").mkdir()
            (work / "programs" / "echo.toml").write_text(PROGRAM)
            for round_ in range(rounds):
                for backend in backends:
                    if backend == "no-state":
                        where: str | Path | None = None
                        flags = ["--no-state"]
                    elif backend == "sqlite":
                        where = work / f"state-{round_}"
                        flags = ["--state-dir", str(where)]
                    else:
                        assert pg is not None
                        where = pg.new_database()
                        flags = ["--store", str(where)]
                    figures = await one_run(work, backend, flags, n, batch)
                    if figures["done"] != n:
                        raise SystemExit(f"{backend}: {figures['done']} of {n} processes done")
                    samples[backend].append(figures)
                    if where is not None:
                        checks[backend] = stored(where)
    finally:
        if pg is not None:
            pg.stop()

    print(f"{n} processes per run ({batch} per spawn, then wait), median of {rounds} round(s); "
          f"Python {sys.version.split()[0]}" + (f", {pg.version}" if pg else ""))
    reference = per_run(samples["no-state"], "wall_s", n, 1000)
    header = (f"{'backend':<11} {'runs':>5} {'wall ms':>8} {'x ref':>6} {'writes':>7} {'rows':>5} "
              f"{'states':>6} {'commits':>7} {'allocs':>6} {'writer ms':>9} {'extra ms':>8} {'stored':>11}")
    print(header)
    print("-" * len(header))
    for backend in backends:
        wall = per_run(samples[backend], "wall_s", n, 1000)
        rows, states = (per_run(samples[backend], key, n) for key in ("rows", "states"))
        check = f"{checks[backend][0]}/{checks[backend][1]}" if backend in checks else "-"
        if backend == "no-state":  # no store, nothing to count
            print(f"{backend:<11} {n:>5} {wall:>8.3f} {1.0:>6.2f} {'-':>7} {'-':>5} {'-':>6} {'-':>7} {'-':>6} "
                  f"{'-':>9} {'-':>8} {check:>11}")
            continue
        print(f"{backend:<11} {n:>5} {wall:>8.3f} {wall / reference:>6.2f} {rows + states:>7.2f} {rows:>5.2f} "
              f"{states:>6.2f} {per_run(samples[backend], 'batches', n):>7.3f} "
              f"{per_run(samples[backend], 'allocs', n):>6.3f} "
              f"{per_run(samples[backend], 'write_s', n, 1000):>9.3f} {wall - reference:>8.3f} {check:>11}")
    print("per run: wall/writer/extra in ms; writes = rows + states; commits = writer batches; allocs = id "
          "allocations (own transactions); stored = process rows/states read back from the store")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--processes", type=int, default=1000, help="processes per run")
    parser.add_argument("--batch", type=int, default=50, help="tasks per spawn call (at most 100)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each configuration; medians shown")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    options = parser.parse_args()
    anyio.run(main, options.processes, options.batch, options.rounds, not options.no_postgres)
