"""`LLMProcess`: a running program. It owns the history, the provider client and the tools.

    process = await program.start()
    result = await process.run("Hello!")
    print(process.get_last_message())
    await process.aclose()

States: IDLE (ready), RUNNING (one run at a time), CLOSED (client released). Misuse, such as
running a closed process or two runs at once, is a clear error.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from llmproc.errors import BudgetExceeded, LLMProcError, ProcessCancelled
from llmproc.messages import Message, TextPart, ToolCall, Usage
from llmproc.process.events import Event, Subscriber
from llmproc.process.loop import TurnLoop
from llmproc.process.result import RunResult
from llmproc.providers.base import Provider, ToolSpec
from llmproc.tools.base import SimpleToolContext, Tool, ToolOutput
from llmproc.tools.toolset import Toolset, combined

if TYPE_CHECKING:
    from llmproc.program import LLMProgram

log = logging.getLogger("llmproc.process")


class ProcessState(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    CLOSED = "closed"


class LLMProcess:
    def __init__(self, program: LLMProgram, provider: Provider, toolset: Toolset, *,
                 system_prompt: str, cwd: Path | None = None):
        self.program = program
        self.provider = provider
        self.toolset = toolset
        self.system_prompt = system_prompt
        self.tool_specs: Sequence[ToolSpec] = tuple(toolset.specs())
        self.history: list[Message] = []
        self.usage = Usage()
        self.cost_usd: float | None = 0.0
        self.state = ProcessState.IDLE
        self.cwd = (cwd or Path.cwd()).resolve()
        roots = program.allowed_roots or (self.cwd,)
        self.tool_context = SimpleToolContext(allowed_roots=list(roots), cwd=self.cwd)
        self._subscribers: list[Subscriber] = []
        self._next_id = 1

    @classmethod
    async def create(cls, program: LLMProgram, *, provider: Provider | None = None,
                     tools: Sequence[Tool] = (), cwd: str | Path | None = None,
                     include_env: bool = True) -> LLMProcess:
        """Build the provider client (unless one is given, e.g. a ScriptedProvider) and the tools.

        `tools` adds Python tools (see `llmproc.tools.tool`) to the program's enabled ones.
        """
        from llmproc.process.tooling import build_toolset
        from llmproc.providers.registry import create_provider, settings_for

        toolset = build_toolset(program)
        if tools:
            toolset = combined(toolset, Toolset(tools, label="tools passed to start()"))
        if provider is None:
            provider = create_provider(settings_for(program))
        prompt = program.enriched_system_prompt(include_env=include_env)
        for warning in prompt.warnings:
            log.warning("%s", warning)
        return cls(program, provider, toolset, system_prompt=prompt.text,
                   cwd=Path(cwd) if cwd else None)

    # -- events ----------------------------------------------------------------------------
    def subscribe(self, subscriber: Subscriber) -> Any:
        """Call `subscriber(event)` for every event; returns a function that unsubscribes."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def emit(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:  # a broken display must not break the run
                log.exception("event subscriber %r failed on %r", subscriber, event)

    # -- history -----------------------------------------------------------------------------
    def append(self, message: Message) -> Message:
        """Add a message to the history with the next stable id (ids are what goto targets)."""
        message = Message(message.role, message.parts, f"m{self._next_id}")
        self._next_id += 1
        self.history.append(message)
        return message

    def _add_user_text(self, text: str) -> None:
        last = self.history[-1] if self.history else None
        if last is not None and last.role == "user":
            # After a run stopped by a limit the history ends with tool results: one user turn.
            self.history[-1] = Message("user", (*last.parts, TextPart(text)), last.id)
        else:
            self.append(Message.user(text))

    def get_last_message(self) -> str:
        """The text of the last assistant message ("" when there is none)."""
        return next((m.text for m in reversed(self.history) if m.role == "assistant"), "")

    def add_usage(self, usage: Usage, cost: float | None) -> None:
        self.usage += usage
        self.cost_usd = None if cost is None or self.cost_usd is None else self.cost_usd + cost

    # -- running -----------------------------------------------------------------------------
    async def call_tool(self, call: ToolCall) -> ToolOutput:
        return await self.toolset.call(call.name, call.arguments, self.tool_context)

    async def run(self, prompt: str | None = None, *, stream: bool | None = None,
                  max_turns: int | None = None) -> RunResult:
        """Send `prompt` (default: the program's `[prompt] user`) and run until the model answers.

        Raises BudgetExceeded (max_turns, timeout_s, max_cost_usd) and ProviderError; either way
        the history stays consistent and `run()` can be called again.
        """
        if self.state is ProcessState.CLOSED:
            raise LLMProcError("this process is closed; start a new one with `await program.start()`")
        if self.state is ProcessState.RUNNING:
            raise LLMProcError("this process is already running; await the current run first")
        text = prompt if prompt is not None else self.program.config.prompt.user
        if text is None:
            raise ValueError("run() needs a prompt (or a [prompt] user message in the program)")
        params, limits = self.program.config.parameters, self.program.config.limits
        loop = TurnLoop(self, stream=stream if stream is not None else bool(params.stream),
                        max_turns=max_turns or limits.max_turns)
        self.state = ProcessState.RUNNING
        self._add_user_text(text)
        try:
            if limits.timeout_s is None:
                await loop.run()
            else:
                try:
                    with anyio.fail_after(limits.timeout_s):
                        await loop.run()
                except TimeoutError:
                    raise BudgetExceeded("timeout_s", limits.timeout_s,
                                         f"timeout_s={limits.timeout_s} reached before a final answer") from None
        finally:
            loop.finish()
            self.state = ProcessState.IDLE
        return loop.result()

    async def aclose(self) -> None:
        if self.state is not ProcessState.CLOSED:
            self.state = ProcessState.CLOSED
            await self.provider.aclose()

    async def __aenter__(self) -> LLMProcess:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<LLMProcess {self.program.name} {self.state.value} messages={len(self.history)}>"


__all__ = ["LLMProcess", "ProcessState", "ProcessCancelled"]
