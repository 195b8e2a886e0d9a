"""How long Codex CLI waits for one MCP tool call when `tool_timeout_sec` is not set (its docs
say 60 s; 0.171 was measured cutting at 300 s). docs/claude-code.md's timeout table relies on it.

The real Codex (tests/mcp_servers) calls run_program on a program whose reply takes 900 s, with
llmproc-mcp's bounded wait raised to 800 s so only Codex can end the call; the fake model then
sees Codex's error and its "Wall time". Takes as long as Codex waits (about five minutes).

    python tests/bench/bench_codex_tool_timeout.py
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from llmproc.testing import FakeLLMServer  # noqa: E402

from tests.mcp_front.conftest import server_args, server_env  # noqa: E402
from tests.mcp_front.hosts.base import McpServer  # noqa: E402
from tests.mcp_front.hosts.codex import Codex  # noqa: E402
from tests.mcp_front.hosts.scenario import SLOW_PROGRAM, Scenario, Step  # noqa: E402


class CodexWithItsDefaultTimeout(Codex):
    def config(self, server: McpServer, fake: FakeLLMServer, timeout_s: float) -> Any:
        return re.sub(r"tool_timeout_sec = \d+\n", "", super().config(server, fake, timeout_s))


def main() -> None:
    host = CodexWithItsDefaultTimeout()
    if host.missing():
        sys.exit(host.missing())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        programs = work / "programs"
        programs.mkdir()
        (programs / "slow.toml").write_text(SLOW_PROGRAM.replace("delay = 120", "delay = 900"))
        scenario = Scenario(host, [Step("run_program", {"program": "slow", "prompt": "take long"}, ())])
        server = McpServer(command=(sys.executable, *server_args(programs, work / "state", "--wait", "800")),
                           env=server_env())
        started = time.perf_counter()
        with FakeLLMServer(responder=scenario) as fake:
            host.run(server, fake, work, "go", 1000)
        elapsed = time.perf_counter() - started
    seen = scenario.results.get(0, "")
    wall = re.search(r"Wall time: ([\d.]+) seconds", seen)
    print(f"Codex ended the call after {float(wall.group(1)) if wall else float('nan'):.1f} s "
          f"(whole run {elapsed:.1f} s); its docs say 60 s")
    print(f"what its model got: {seen[:300]!r}")


if __name__ == "__main__":
    main()
