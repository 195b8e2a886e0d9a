"""Nothing slow runs on the server's event loop: a provider SDK's first import (seconds of CPU on a
small machine) happens in a worker thread, so progress and other calls go on meanwhile.

The server runs in a subprocess whose audit hook records every module loaded by the event loop's
thread after start-up, then runs a first program on each provider. Any SDK module in that list
is a stall every host would feel.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest
from llmproc.testing import FakeLLMServer, Reply
from mcp import Client, StdioServerParameters

from .conftest import ROOT, STEP_S, first, server_args, server_env

SDK_PACKAGES = ("anthropic", "openai", "google.genai", "httpx2")

# Runs llmproc-mcp with an audit hook: modules loaded by the main thread (the event loop's) once
# the loop runs are written to $LOOP_IMPORTS, one per line.
WRAPPER = """
import os, sys, threading
out = open(os.environ["LOOP_IMPORTS"], "a", buffering=1)
loop_running = False

def hook(event, args):
    if loop_running and event == "import" and threading.current_thread() is threading.main_thread():
        out.write(args[0] + "\\n")

sys.addaudithook(hook)
import anyio
from llmproc_mcp import server

serve = server.serve

async def watched(settings):
    global loop_running
    loop_running = True
    await serve(settings)

server.serve = watched
sys.exit(server.main(sys.argv[1:]))
"""

PROVIDERS = {  # provider -> base URL key of the fake server
    "anthropic": "anthropic_base_url",
    "openai": "openai_base_url",
    "openai_chat": "openai_base_url",
    "gemini": "gemini_base_url",
}


def _program(provider: str, base_url: str) -> str:
    return (f'[model]\nname = "model-for-{provider}"\nprovider = "{provider}"\nbase_url = "{base_url}"\n'
            "[parameters]\nmax_retries = 0\n")


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
async def test_a_first_run_imports_no_sdk_on_the_event_loop(provider: str, fake_llm: FakeLLMServer,
                                                             tmp_path: Path) -> None:
    folder = tmp_path / "programs"
    folder.mkdir()
    (folder / "first.toml").write_text(_program(provider, getattr(fake_llm, PROVIDERS[provider])))
    fake_llm.add(Reply(text="first answer"))
    imports = tmp_path / "loop-imports.txt"
    env = {**server_env(), "LOOP_IMPORTS": str(imports), "OPENAI_API_KEY": "test-key",
           "GEMINI_API_KEY": "test-key"}
    params = StdioServerParameters(command=sys.executable,
                                   args=["-c", WRAPPER, *server_args(folder, tmp_path / "state")[2:]],
                                   env=env, cwd=str(ROOT))
    with anyio.fail_after(STEP_S * 2):
        async with Client(params, mode="legacy") as client:
            result = await client.call_tool("run_program", {"program": "first", "prompt": "hello"})
            listing = await client.call_tool("ps", {})
    assert first(result)["status"] == "done", json.dumps(result.structured_content)
    assert "first answer" in result.content[0].text  # type: ignore[union-attr]
    assert listing.structured_content is not None and listing.structured_content["total"] == 1
    loaded = imports.read_text().split()
    assert loaded, "the audit hook recorded nothing: the check itself is broken"
    on_loop = [name for name in loaded if name.startswith(SDK_PACKAGES)]
    assert not on_loop, f"imported on the event loop: {on_loop[:10]}"


def test_the_handshake_imports_neither_the_engine_nor_an_sdk() -> None:
    """What `initialize` and `tools/list` need is the MCP SDK and the tool signatures: the engine,
    the store and the provider SDKs are loaded afterwards, in a worker thread (startup.py)."""
    import subprocess

    probe = ("import sys; from llmproc_mcp.server import build_server; from llmproc_mcp.settings import "
             "ServerSettings; build_server(ServerSettings()); print(' '.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert "mcp.server.mcpserver" in loaded  # the probe did build the server
    heavy = {"llmproc.program", "llmproc.process", "llmproc.store", "llmproc_mcp.table", "anthropic", "openai",
             "google.genai"}
    assert not heavy & loaded, sorted(heavy & loaded)
