"""The script items live in the engine (the scripted provider plays them) and the test kit
re-exports them: its public names stay, and the engine runs without importing the kit."""

from __future__ import annotations

import subprocess
import sys

import llmproc.testing
import llmproc.testing.script
from llmproc.providers import scripted


def test_the_test_kit_exports_the_engines_script_items() -> None:
    for name in ("HTTPError", "Reply", "ScriptItem", "ToolUse"):
        assert getattr(llmproc.testing, name) is getattr(scripted, name)
        assert getattr(llmproc.testing.script, name) is getattr(scripted, name)
    assert llmproc.testing.ScriptedProvider is scripted.ScriptedProvider


def test_a_scripted_run_imports_no_test_kit() -> None:
    code = ("import sys, anyio; from llmproc import LLMProgram\n"
            "async def main():\n"
            "    p = await LLMProgram.from_dict({'model': {'name': 's', 'provider': 'scripted'}}).start()\n"
            "    assert (await p.run('hi')).answer == 'hi'\n"
            "    await p.aclose()\n"
            "anyio.run(main)\n"
            "print([m for m in sys.modules if m.startswith('llmproc.testing')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
