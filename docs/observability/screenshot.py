"""Screenshots of llmproc's traces in a real backend, for docs/observability.md.

    python docs/observability/screenshot.py

It starts Arize Phoenix (`phoenix serve`, on free ports, its database in a temporary directory),
runs the real `llmproc` command with OTEL_EXPORTER_OTLP_ENDPOINT pointing at it, against the
offline fake provider, with a program that spawns a linked program and forks itself, then opens
Phoenix's page of that trace in headless Chromium and saves, next to this file:

- phoenix-trace.png: the span tree of the run, with the attributes of its root `llmproc.run` span;
- phoenix-span.png: the same tree with the main run's last `chat` span selected, its attributes
  filtered to the GenAI ones (`gen_ai.`).

The server, the program and the run are those of tests/core/process/test_tracing_phoenix.py
(imported from it). No network access is needed. It needs:

- Phoenix from PyPI, in its own virtualenv: `tests/mcp_servers/install.sh`;
- Chromium: `apt-get install chromium` on Debian or Ubuntu (or set CHROMIUM to a Chrome or
  Chromium binary). A documentation tool only: neither the tests nor the install steps need it;
- `websockets` (it comes with google-genai, a dependency of llmproc's test extra), to drive
  Chromium over the DevTools protocol.

Each picture is taken once the page's text shows the span names of the tree and the attributes
expected, not a loading spinner or an error page. It prints the versions that made them.
"""

from __future__ import annotations

import base64
import importlib.metadata
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from llmproc.testing import FakeLLMServer  # noqa: E402
from tests.core.process.test_tracing_phoenix import (  # noqa: E402
    PHOENIX,
    get,
    llmproc_spans,
    phoenix_server,
    run_spawn_and_fork,
)

WIDTH, HEIGHT = 1400, 1000  # the whole tree of this run fits; each PNG is under 300 kB
TREE = ("llmproc.run main", "execute_tool spawn", "llmproc.run expert", "execute_tool fork",
        "chat claude-sonnet-5-5")
# JavaScript that finds elements of Phoenix's trace page (Phoenix 20)
ATTRIBUTES_TAB = "[...document.querySelectorAll('[role=tab]')].find(e => e.innerText.trim() === 'Attributes')"
SEARCH_ATTRIBUTES = """document.querySelector('[aria-label="Search JSON keys and values"]')"""


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    sys.exit("no Chromium: apt-get install chromium (or set CHROMIUM to a Chrome or Chromium binary)")


class Page:
    """A page of headless Chromium, driven over the DevTools protocol: open a URL, wait until its
    text shows what it must, click, type, take a PNG."""

    def __init__(self, socket: ClientConnection):
        self.socket = socket
        self.ids = itertools.count(1)
        self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1,
                  mobile=False)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        sent = next(self.ids)
        self.socket.send(json.dumps({"id": sent, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == sent:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]  # type: ignore[no-any-return]

    def js(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, shown: tuple[str, ...], gone: tuple[str, ...] = (), timeout_s: float = 90) -> None:
        """Until the page's visible text holds every one of `shown` and none of `gone`, then a
        moment more for the layout to settle."""
        deadline = time.monotonic() + timeout_s
        while True:
            text = re.sub(r"\s+", "", self.js("document.body ? document.body.innerText : ''") or "")
            missing = [t for t in shown if re.sub(r"\s+", "", t) not in text]
            extra = [t for t in gone if t in text]
            if not missing and not extra:
                time.sleep(2)
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the page shows {extra} and not {missing}; its text: {text[-1500:]}")
            time.sleep(0.5)

    def open(self, url: str, shown: tuple[str, ...]) -> None:
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 30
        while self.js("location.href") != url and time.monotonic() < deadline:
            time.sleep(0.2)
        self.wait_for(shown)

    def click(self, find: str) -> None:
        """A mouse click (move, press, release) in the middle of the element that the JavaScript
        expression `find` returns."""
        box = self.js(f"""(() => {{
            const e = {find};
            if (!e) return null;
            const r = e.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2];
        }})()""")
        if box is None:
            raise RuntimeError(f"nothing on the page is {find}")
        for event in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=event, x=box[0], y=box[1], button="left", clickCount=1)

    def type(self, text: str) -> None:
        """`text` typed into the focused element."""
        self.call("Input.insertText", text=text)

    def screenshot(self, png: Path) -> None:
        png.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        print(f"{png.relative_to(ROOT)}: {png.stat().st_size // 1024} kB")


@contextmanager
def browser(binary: str) -> Iterator[Page]:
    """Headless Chromium with a throw-away profile, and its page."""
    with tempfile.TemporaryDirectory(prefix="llmproc-chromium-") as profile:
        flags = ["--headless=new", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--window-size={WIDTH},{HEIGHT}", "--remote-debugging-port=0", f"--user-data-dir={profile}"]
        if os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        process = subprocess.Popen([binary, *flags, "about:blank"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            port_file = Path(profile) / "DevToolsActivePort"  # Chromium writes the port it took there
            deadline = time.monotonic() + 60
            while not port_file.is_file() or not port_file.read_text().strip():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Chromium did not start (exit status {process.poll()})")
                time.sleep(0.2)
            port = port_file.read_text().split()[0]
            (page,) = [t for t in get(f"http://127.0.0.1:{port}/json/list") if t["type"] == "page"]
            with connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
                yield Page(socket)
            with connect(f"ws://127.0.0.1:{port}{port_file.read_text().split()[1]}") as socket:
                socket.send(json.dumps({"id": 1, "method": "Browser.close"}))  # it ends its helpers
                process.wait(20)
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def versions(binary: str) -> str:
    phoenix = subprocess.run([str(PHOENIX.with_name("python")), "-c",
                              "import importlib.metadata as m; print(m.version('arize-phoenix'))"],
                             capture_output=True, text=True).stdout.strip()
    chrome = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    return f"llmproc {importlib.metadata.version('llmproc')}, Arize Phoenix {phoenix}, {chrome}"


def main() -> None:
    if not PHOENIX.is_file():
        sys.exit(f"no Phoenix at {PHOENIX}: run tests/mcp_servers/install.sh")
    chrome = chromium()
    with tempfile.TemporaryDirectory(prefix="llmproc-phoenix-") as tmp, FakeLLMServer() as fake, \
            phoenix_server(Path(tmp)) as phoenix:
        result = run_spawn_and_fork(phoenix, fake, Path(tmp))
        assert result["answer"] == "done: 42", result
        spans = llmproc_spans(phoenix)
        (trace_id,) = {s["context"]["trace_id"] for s in spans}
        (project,) = [p["id"] for p in get(f"{phoenix}/v1/projects")["data"] if p["name"] == "default"]
        # The UI's route of a trace; `selectedSpanNodeId` (a span's GraphQL id, the `id` of the
        # REST API's spans) opens one span's details, the root span's by default.
        trace_url = f"{phoenix}/projects/{project}/traces/{trace_id}"
        chat = max((s for s in spans if s["name"].startswith("chat ")),
                   key=lambda s: (s["attributes"]["llmproc.pid"] == 1, s["attributes"]["llmproc.turn"]))
        with browser(chrome) as page:
            page.open(trace_url, TREE + ("llmproc.usage.input_tokens",))
            page.screenshot(HERE / "phoenix-trace.png")

            page.open(f"{trace_url}?selectedSpanNodeId={urllib.parse.quote(chat['id'], safe='')}", TREE)
            page.click(ATTRIBUTES_TAB)
            page.wait_for(("gen_ai.usage.input_tokens", "llm.token_count.total"))
            page.click(SEARCH_ATTRIBUTES)
            page.type("gen_ai.")
            page.wait_for(("gen_ai.usage.input_tokens", "gen_ai.response.finish_reasons"),
                          gone=("llm.token_count.total",))
            page.screenshot(HERE / "phoenix-span.png")
    print("made with", versions(chrome))


if __name__ == "__main__":
    main()
