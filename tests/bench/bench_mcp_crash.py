"""Runs that survive their server: N runs across two llmproc-mcp servers on one store, one
SIGKILLed mid-run (tests/mcp_front/crash_scenario.py). Prints, per store: runs completed with the
right answer, finished model calls sent again (target 0), model calls cut off in flight and sent
again (allowed), `record` tool calls run twice (target 0), read-only `look` calls run again
(allowed), and the time from the kill to each taken-over run's next model request.

    python tests/bench/bench_mcp_crash.py [-n 50] [--rounds 1] [--no-postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from llmproc.testing import FakeLLMServer  # noqa: E402
from postgres_server import PostgresServer, find_bin_dir  # noqa: E402

from tests.mcp_front.crash_scenario import Outcome, Witness, crash  # noqa: E402


async def one(store: tuple[str, ...], runs: int) -> Outcome:
    witness = Witness()
    with FakeLLMServer(witness) as fake, tempfile.TemporaryDirectory(prefix="bench-crash-") as folder:
        return await crash(fake, witness, Path(folder), store, runs=runs, kill_after_calls=runs // 2,
                           jitter_s=random.uniform(0, 0.4))


async def main(runs: int, rounds: int, postgres: bool) -> None:
    os.environ.setdefault("ANTHROPIC_API_KEY", "bench-key")
    pg: PostgresServer | None = None
    stores: dict[str, tuple[str, ...]] = {"sqlite": ()}
    if postgres:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            print("no PostgreSQL binaries found: PostgreSQL skipped")
        else:
            pg = PostgresServer(bin_dir)
            pg.start()
    try:
        print(f"{runs} runs over 2 servers, the first SIGKILLed mid-run; each run: 3 model calls, "
              "record + look tool calls")
        print(f"{'store':<11} {'done':>7} {'repeated model':>15} {'in flight':>10} {'repeated record':>16} "
              f"{'look reruns':>12} {'resume s (median/max)':>22} {'wall s':>7}")
        for round_ in range(rounds):
            for name in stores if pg is None else [*stores, "postgresql"]:
                store = (("--store", pg.new_database()) if name == "postgresql" else stores[name])  # type: ignore[union-attr]
                o = await one(store, runs)
                resume = (f"{statistics.median(o.resume_s):.2f} / {max(o.resume_s):.2f}" if o.resume_s
                          else "none mid-run")
                print(f"{name:<11} {o.answers_right:>3}/{o.runs:<3} {o.model_repeated:>15} {o.model_in_flight:>10} "
                      f"{o.record_repeated:>16} {o.look_reruns:>12} {resume:>22} {o.wall_s:>7.1f}")
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    options = parser.parse_args()
    anyio.run(main, options.runs, options.rounds, not options.no_postgres)
