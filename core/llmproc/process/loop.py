"""The turn loop: model call, the tool calls it asked for, their results back, until an answer.

One `TurnLoop` per `process.run()`. Tool calls of one turn run concurrently and their results
are kept in the order the model asked for them. A tool that fails becomes an error result for
the model. Whatever stops the run early (cancellation, a limit, a provider error), `finish()`
leaves the history consistent: every tool call has a result, finished tools keep their real
output and unfinished ones say they were cancelled.

`process.on_checkpoint`, when set, is awaited at the points a crash-safe caller saves: "model"
(a response is in the history, before its tools start), "tool" (each call's result, in call
order) and "results" (the turn's results are in the history).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import anyio

from llmproc.errors import BudgetExceeded
from llmproc.messages import Message, TextPart, ToolCall, ToolResult, Usage
from llmproc.pricing import cost_usd
from llmproc.process.events import ModelRetry, RateLimited, ToolEnd, ToolStart, TurnEnd, TurnStart, UsageUpdate
from llmproc.process.result import RunResult, ToolCallRecord
from llmproc.process.syscalls import check_cost, current_call
from llmproc.process.tracing import OFF, Off, RunTrace, ToolSpan
from llmproc.providers.base import ModelRequest
from llmproc.providers.ratelimit import RateLimitNotice, reporting_rate_limits
from llmproc.providers.retry import RetryNotice, reporting_retries

if TYPE_CHECKING:
    from llmproc.tools.base import ToolOutput
    from llmproc.process.process import LLMProcess

log = logging.getLogger("llmproc.process")

CANCELLED_RESULT = "cancelled: the run stopped before this tool finished"
# A cancelled call's result goes on with the last answer of each child the call had started,
# each under this header; the MCP server shows such results as a stopped run's partial output.
PARTIAL_OUTPUT = "partial output of process"


def partial_output_header(pid: int) -> str:
    return f"\n{PARTIAL_OUTPUT} {pid}:\n"


def keeps_partial_output(result: ToolResult) -> bool:
    """Whether `result` is a cancelled call's result carrying output of children it started."""
    return (result.is_error and result.content.startswith(CANCELLED_RESULT)
            and f"\n{PARTIAL_OUTPUT} " in result.content)


class TurnLoop:
    def __init__(self, process: LLMProcess, *, stream: bool, max_turns: int):
        self.process = process
        self.stream = stream
        self.max_turns = max_turns
        self.turns = 0
        self.start_usage, self.start_cost = process.usage, process.cost_usd  # the run's share = the change
        self.records: list[ToolCallRecord] = []
        self.first_new = len(process.history)
        self.stop_reason = "end"
        self._pending: dict[str, ToolResult] = {}  # results of the turn in progress
        self._started = time.perf_counter()
        self.trace: RunTrace | Off = OFF  # set by the process when tracing is on (tracing.py)

    @property
    def finished_results(self) -> tuple[ToolResult, ...]:
        """The results of the running turn's calls that finished so far (for a save mid-turn)."""
        return tuple(self._pending.values())

    async def run(self) -> None:
        proc = self.process
        while True:
            if self.turns >= self.max_turns:
                raise BudgetExceeded("max_turns", self.max_turns,
                                     f"max_turns={self.max_turns} reached before a final answer")
            self.turns += 1
            await proc.refresh_tools()
            proc.emit(TurnStart(self.turns))
            with self.trace.model_call(request := self._request()) as chat, reporting_retries(self._on_retry), \
                    reporting_rate_limits(self._on_rate_limit):
                response = await proc.provider.complete(request, proc.emit if self.stream else None)
                chat.response(response)
            message = proc.append(response.message)
            self._account(response.usage)
            calls = message.tool_calls
            self.stop_reason = response.stop_reason
            proc.emit(TurnEnd(self.turns, response.stop_reason, len(calls)))
            if proc.on_checkpoint is not None:
                await self._checkpoint("model")
            if not calls:
                return
            await self._run_tools(calls)
            if proc.on_checkpoint is not None:
                await self._checkpoint("results")
            self._check_cost()

    def _request(self) -> ModelRequest:
        proc = self.process
        params = proc.program.config.parameters
        messages = tuple(proc.history)
        if "goto" in proc.toolset:
            messages = tuple(_labelled(m) for m in messages)
        return ModelRequest(
            model=proc.program.model_name,
            system=proc.system_prompt,
            messages=messages,
            tools=proc.tool_specs,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            reasoning_effort=params.reasoning_effort,
            thinking_budget=params.thinking_budget,
            extra=params.extra,
            stream=self.stream,
            cache=not params.disable_automatic_caching,
        )

    def _account(self, usage: Usage) -> None:
        proc = self.process
        cost = cost_usd(proc.program.model_name, usage, proc.program.provider)
        proc.add_usage(usage, cost)
        proc.emit(UsageUpdate(usage, proc.usage, cost))

    def _check_cost(self) -> None:
        check_cost(self.process)

    async def _run_tools(self, calls: list[ToolCall]) -> None:
        self._pending = {}
        # Calls run concurrently but finish in call order (fd ids, records, ToolEnd events), so
        # that the same turn always numbers its fds the same way whatever finished first.
        finished = [anyio.Event() for _ in calls]

        async def one(index: int, call: ToolCall) -> None:
            try:
                token = current_call.set(call)  # syscalls read which call they serve
                self.process.emit(ToolStart(call))
                started = time.perf_counter()
                traced = self.trace.tool_call(call)
                try:
                    with traced:
                        output = await self.process.run_tool(call)
                finally:
                    current_call.reset(token)
                elapsed = time.perf_counter() - started
                if index:
                    try:
                        await finished[index - 1].wait()
                    except anyio.get_cancelled_exc_class():  # the turn stops: keep what this call produced
                        self._finish_call(call, output, elapsed, traced)
                        raise
                self._finish_call(call, output, elapsed, traced)
                if self.process.on_checkpoint is not None:  # before the next call finishes: call order
                    await self._checkpoint("tool")
            finally:
                finished[index].set()

        if len(calls) == 1:  # the common case needs no task group
            await one(0, calls[0])
        else:
            async with anyio.create_task_group() as group:
                for index, call in enumerate(calls):
                    group.start_soon(one, index, call)
        rewritten = self.process.take_rewrite()
        if rewritten is not None:  # goto/exec replaced the history: this turn's results are void
            self.first_new = min(self.first_new, rewritten)
            self._pending = {}
            return
        self._append_results(calls)

    async def _checkpoint(self, point: str) -> None:
        hook = self.process.on_checkpoint
        if hook is None:
            return
        try:
            await hook(self.process, point)
        except Exception:  # a failed save loses durability, not the run
            log.exception("checkpoint hook of process %s failed at %r", self.process.pid, point)

    def _on_rate_limit(self, notice: RateLimitNotice) -> None:
        self.process.emit(RateLimited(self.turns, notice.wait_s, notice.reason))

    def _on_retry(self, notice: RetryNotice) -> None:
        self.trace.retry(notice)
        self.process.emit(ModelRetry(self.turns, notice.attempt, notice.max_retries, notice.delay_s,
                                     notice.status, notice.error))

    def _finish_call(self, call: ToolCall, output: ToolOutput, elapsed: float, traced: ToolSpan | Off) -> None:
        stored = self.process.store_long_output(call, output)
        traced.finish(output, stored)
        output = stored
        self._pending[call.id] = ToolResult(call.id, output.content, output.is_error, call.name,
                                            images=output.images)
        self.records.append(ToolCallRecord(call.id, call.name, call.arguments, output.content,
                                           output.is_error, elapsed))
        self.process.emit(ToolEnd(call, output.content, output.is_error, elapsed))

    def _append_results(self, calls: list[ToolCall]) -> None:
        results = tuple(self._pending.get(c.id) or self._cancelled(c) for c in calls)
        self.process.append(Message("user", results))
        self._pending = {}

    def _cancelled(self, call: ToolCall) -> ToolResult:
        """The result of a call that never finished; children it started keep their partial output."""
        text = CANCELLED_RESULT
        for child in self.process.call_children.get(call.id, ()):
            partial = child.get_last_message()
            if partial:
                text += partial_output_header(child.pid) + partial
        return ToolResult(call.id, text, True, call.name)

    def finish(self) -> None:
        """Make the history consistent after an early stop (no tool call without its result)."""
        history = self.process.history
        if history and history[-1].role == "assistant" and history[-1].tool_calls:
            self._append_results(history[-1].tool_calls)

    def result(self) -> RunResult:
        new = tuple(self.process.history[self.first_new:])
        answer = next((m.text for m in reversed(new) if m.role == "assistant"), "")
        records = sorted(self.records, key=lambda r: _order(new, r.id))
        end_cost, start_cost = self.process.cost_usd, self.start_cost
        cost = None if end_cost is None or start_cost is None else end_cost - start_cost
        return RunResult(answer, self.turns, tuple(records), self.process.usage - self.start_usage, cost,
                         self.stop_reason, time.perf_counter() - self._started, new)


def _labelled(message: Message) -> Message:
    """Show message ids to the model (for goto) at the start of user prompts."""
    if message.role != "user" or message.tool_results or not message.id:
        return message
    return Message("user", (TextPart(f"[message {message.id}]\n"), *message.parts), message.id)


def _order(messages: tuple[Message, ...], call_id: str) -> int:
    """Position of a tool call in the run, so records follow the model's order, not finish order."""
    position = 0
    for message in messages:
        for call in message.tool_calls:
            if call.id == call_id:
                return position
            position += 1
    return position
