"""The host's model, played by the fake provider server: it calls llmproc-mcp's tools one by one
and records what the host forwarded to it from each result.

`Scenario` is a `FakeLLMServer` responder. A request is the main conversation when it offers
llmproc's tools; anything else (a title, a routing or safety check of the host's own) gets a
short text reply. The step to play is read from the request itself, never from a counter: the
i-th tool output in the conversation belongs to step i (this model calls one tool per turn), so a
host that retries a request gets the same answer again. After the last step the model answers
`DONE` and the host ends its run.

What is asserted is what the host sends to its model next, the only thing that counts: the tool
output text as it appears in the request (JSON-escaped when a host forwards structuredContent).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmproc.testing import RecordedRequest, Reply, ScriptItem

from .base import Host

DONE = "SCENARIO-DONE"
Arguments = dict[str, Any] | Callable[[list[str]], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    tool: str
    arguments: Arguments
    expect: tuple[str, ...]  # substrings the host must forward to its model from this result
    refuse: tuple[str, ...] = ()  # substrings that must not be there


# -- reading tool outputs from a model request, per wire format --------------------------------------
def _text_of(value: Any) -> str:
    """Anthropic tool_result content, Responses output, or a Gemini response: the text in it."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_text_of(v) for v in value)
    if isinstance(value, dict):
        if isinstance(value.get("text"), str) and value.get("type") in (None, "text", "input_text", "output_text"):
            return value["text"]
        return json.dumps(value)
    return "" if value is None else str(value)


def _gemini_output(response: Any) -> str:
    """Gemini CLI sends a tool's text as `{"output": text}` (`{"error": text}` when it failed)."""
    if isinstance(response, dict):
        text = response.get("output", response.get("error"))
        if isinstance(text, str):
            return text
    return _text_of(response)


def tool_outputs(endpoint: str | None, body: Any) -> list[str]:
    """Every tool output in the conversation, in order."""
    if not isinstance(body, dict):
        return []
    found: list[str] = []
    if endpoint == "anthropic":
        for message in body.get("messages") or []:
            content = message.get("content")
            for block in content if isinstance(content, list) else []:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    found.append(_text_of(block.get("content")))
    elif endpoint == "openai_responses":
        items = body.get("input")
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("type") == "function_call_output":
                found.append(_text_of(item.get("output")))
    elif endpoint == "gemini":
        for content in body.get("contents") or []:
            for part in content.get("parts") or []:
                if isinstance(part, dict) and "functionResponse" in part:
                    found.append(_gemini_output(part["functionResponse"].get("response")))
    return found


def offered_tools(endpoint: str | None, body: Any) -> list[str]:
    """The tool names a request offers its model (namespaced tools as `namespace/name`)."""
    if not isinstance(body, dict):
        return []
    names: list[str] = []
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        if endpoint == "gemini":
            names.extend(d.get("name", "") for d in tool.get("functionDeclarations") or [])
        elif tool.get("type") == "namespace":
            names.extend(f"{tool.get('name')}/{t.get('name')}" for t in tool.get("tools") or [])
        elif "name" in tool:
            names.append(str(tool["name"]))
    return names


# -- the player --------------------------------------------------------------------------------------
@dataclass
class Scenario:
    host: Host
    steps: list[Step]
    results: dict[int, str] = field(default_factory=dict)  # step -> the output the host forwarded
    main_requests: int = 0
    side_requests: int = 0
    finished: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, request: RecordedRequest) -> ScriptItem | None:
        if request.endpoint != self.host.endpoint or not self.host.offers_llmproc(request.body):
            with self._lock:
                self.side_requests += 1
            return Reply(text="ok")
        outputs = tool_outputs(request.endpoint, request.body)
        with self._lock:
            self.main_requests += 1
            for index, text in enumerate(outputs[: len(self.steps)]):
                self.results[index] = text
            if len(outputs) >= len(self.steps):
                self.finished = True
                return Reply(text=DONE)
        step = self.steps[len(outputs)]
        arguments = step.arguments(outputs) if callable(step.arguments) else step.arguments
        return Reply(tool_calls=[self.host.tool_use(step.tool, arguments)])

    def failures(self) -> list[str]:
        """One line per expectation the host did not meet (empty when every step held)."""
        lines = []
        for index, step in enumerate(self.steps):
            seen = self.results.get(index)
            if seen is None:
                lines.append(f"step {index} {step.tool}: its result never reached the model")
                continue
            for text in step.expect:
                if text not in seen:
                    lines.append(f"step {index} {step.tool}: {text!r} missing from what the model got: "
                                 f"{seen[:600]!r}")
            for text in step.refuse:
                if text in seen:
                    lines.append(f"step {index} {step.tool}: {text!r} should not be there: {seen[:600]!r}")
        if not self.finished:
            lines.append("the model never got the last tool result")
        return lines


# -- the standard scenario: every tool, with the hints each result must carry ------------------------
LONG_LINES = 120
LONG_ANSWER = "\n".join(f"LINE-{i:04d} " + "x" * 40 for i in range(LONG_LINES))
# Server flags that make LONG_ANSWER (6,119 characters) an fd read in pages of 2,000.
SERVER_FLAGS = ("--max-answer-chars", "3000", "--preview-chars", "1000", "--page-chars", "2000")

ECHO_PROGRAM = '[model]\nname = "echo"\nprovider = "scripted"\n'
SLOW_PROGRAM = '[model]\nname = "slow"\nprovider = "scripted"\nreplies = [{ text = "too late", delay = 120 }]\n'


def _fd_of(outputs: list[str]) -> dict[str, Any]:
    match = re.search(r"fd:\d+", outputs[-1])
    return {"fd": match.group(0) if match else "fd:missing", "page": 2}


def standard_steps() -> list[Step]:
    """Pids are those of a new store: 1 run, 2-3 spawned, 4-5 forked, 6 long, 7 slow."""
    return [
        Step("run_program", {"program": "echo", "prompt": "MARKER-RUN-1"},
             ("MARKER-RUN-1", "process 1 (echo): done")),
        Step("spawn", {"tasks": [{"program": "echo", "prompt": "MARKER-SPAWN-2"},
                                 {"program": "echo", "prompt": "MARKER-SPAWN-3"}]},
             ("pids 2, 3", "wait(pids=[2, 3])")),
        Step("wait", {"pids": [2, 3]}, ("MARKER-SPAWN-2", "MARKER-SPAWN-3", "process 3 (echo): done")),
        Step("fork", {"pid": 1, "prompts": ["MARKER-FORK-4", "MARKER-FORK-5"]},
             ("MARKER-FORK-4", "MARKER-FORK-5", "forked from 1")),
        Step("send", {"pid": 1, "prompt": "MARKER-SEND-1"}, ("MARKER-SEND-1", "process 1 (echo): done")),
        Step("run_program", {"program": "echo", "prompt": LONG_ANSWER},
             ("LINE-0000", "read_fd", "fd:", f"of {len(LONG_ANSWER):,} characters"), ("LINE-0100",)),
        Step("read_fd", _fd_of, ("LINE-0050", "page 2")),
        Step("spawn", {"tasks": [{"program": "slow", "prompt": "MARKER-SLOW"}]},
             ("pids 7", "wait(pids=[7])")),
        Step("ps", {}, ("slow", "running")),
        Step("kill", {"pid": 7}, ("Killed 1 process", "process 7 (slow): killed")),
    ]


__all__ = ["DONE", "ECHO_PROGRAM", "LONG_ANSWER", "SERVER_FLAGS", "SLOW_PROGRAM", "Scenario", "Step",
           "offered_tools", "standard_steps", "tool_outputs"]
