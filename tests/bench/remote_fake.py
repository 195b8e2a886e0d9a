"""A FakeLLMServer in a process of its own, for benchmarks of concurrency.

In the same process, the fake server's threads compete with the client's event loop for the
GIL, so a "200 ms server delay" also costs client time, as no real API would. Here the server
has its own interpreter (and core), like a remote API.

    with RemoteFake([{"text": "ok", "delay": 0.2}] * 50) as fake:
        fake.anthropic_base_url
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

_SERVE = """
import json, sys
from llmproc.testing import FakeLLMServer, Reply, ToolUse
items = json.loads(sys.argv[1])
with FakeLLMServer() as fake:
    for item in items:
        calls = [ToolUse(c["name"], c.get("arguments", {})) for c in item.pop("tool_calls", [])]
        fake.add(Reply(tool_calls=calls, **item))
    print(fake.url, flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
"""


class RemoteFake:
    def __init__(self, script: list[dict[str, Any]]):
        self._script = script
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> RemoteFake:
        self._proc = subprocess.Popen([sys.executable, "-c", _SERVE, json.dumps(self._script)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url:
            raise RuntimeError("the fake server process did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        self._proc.stdin.close()  # type: ignore[union-attr]
        self._proc.wait(timeout=10)

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"
