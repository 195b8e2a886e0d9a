"""The host matrix: host x transport x tool -> pass, with the real hosts (Claude Code, Codex CLI,
Gemini CLI from tests/mcp_servers) playing tests/mcp_front/hosts/scenario.py offline.

A cell passes when what the host forwarded to its model from that tool's result holds the answer
text and the hints the scenario expects. Each row also shows the host's wall time for the whole
scenario beside the same calls made directly with the Python MCP client over stdio (the ratio is
what the host itself adds: its start, its model turns, its MCP client).

    python tests/bench/bench_hosts.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.mcp_front.conftest import server_args, server_env  # noqa: E402
from tests.mcp_front.hosts.scenario import ECHO_PROGRAM, SERVER_FLAGS, SLOW_PROGRAM, standard_steps  # noqa: E402
from tests.mcp_front.test_hosts import HOSTS, play  # noqa: E402


def programs(work: Path) -> Path:
    folder = work / "programs"
    folder.mkdir(exist_ok=True)
    (folder / "echo.toml").write_text(ECHO_PROGRAM)
    (folder / "slow.toml").write_text(SLOW_PROGRAM)
    return folder


async def direct(work: Path) -> float:
    """The scenario's calls made by our own client over stdio: the floor a host is compared with."""
    steps = standard_steps()
    params = StdioServerParameters(command=sys.executable, args=server_args(programs(work), work / "direct",
                                                                            *SERVER_FLAGS),
                                   env=server_env(), cwd=str(ROOT))
    started = time.perf_counter()
    outputs: list[str] = []
    async with Client(params, mode="legacy") as client:
        for step in steps:
            arguments = step.arguments(outputs) if callable(step.arguments) else step.arguments
            result = await client.call_tool(step.tool, arguments)
            outputs.append(result.content[0].text)  # type: ignore[union-attr]
    return time.perf_counter() - started


def run_host(host, transport: str, work: Path) -> tuple[list[bool], float]:
    folder = work / f"{host.name}-{transport}"
    folder.mkdir()
    started = time.perf_counter()
    scenario, _run = play(host, transport, folder)
    elapsed = time.perf_counter() - started
    cells = []
    for index, step in enumerate(scenario.steps):
        seen = scenario.results.get(index, "")
        cells.append(bool(seen) and all(t in seen for t in step.expect) and not any(t in seen for t in step.refuse))
    return cells, elapsed


def main() -> None:
    steps = standard_steps()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        floor = anyio.run(direct, work)
        header = "".join(f"{s.tool[:9]:>10}" for s in steps)
        print(f"{'host':<14}{'transport':<10}{header}{'wall':>9}{'ratio':>7}")
        for host in HOSTS:
            reason = host.missing()
            for transport in host.transports:
                if reason:
                    print(f"{host.name:<14}{transport:<10}skipped: {reason}")
                    continue
                cells, elapsed = run_host(host, transport, work)
                marks = "".join(f"{'pass' if ok else 'FAIL':>10}" for ok in cells)
                print(f"{host.name:<14}{transport:<10}{marks}{elapsed:>8.1f}s{elapsed / floor:>7.1f}")
        print(f"(direct: the same {len(steps)} calls from the Python MCP client over stdio took {floor:.2f} s)")


if __name__ == "__main__":
    main()
