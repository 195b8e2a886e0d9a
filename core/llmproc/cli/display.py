"""How the CLIs show a run: streamed text, compact tool calls, tokens and cost per turn."""

from __future__ import annotations

import json
from typing import TextIO

import click

from llmproc.process.events import Event, ModelRetry, RateLimited, TextDelta, ToolEnd, ToolStart, UsageUpdate
from llmproc.process.result import RunResult

PREVIEW_CHARS = 120


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def format_usage(result: RunResult) -> str:
    usage = result.usage
    cost = "cost unknown" if result.cost_usd is None else f"${result.cost_usd:.4f}"
    cached = f", {usage.cache_read_tokens:,} cached" if usage.cache_read_tokens else ""
    turns = f"{result.turns} turn{'s' if result.turns != 1 else ''}"
    return f"[{turns} · {usage.total_input_tokens:,} in{cached} / {usage.output_tokens:,} out tokens · {cost}]"


class EventPrinter:
    """Subscribes to a process. Text deltas go to `text_out` when `stream_text`; the rest to `info`."""

    def __init__(self, *, text_out: TextIO, info: TextIO, stream_text: bool, color: bool):
        self.text_out, self.info = text_out, info
        self.stream_text = stream_text
        self.color = color
        self.wrote_text = False

    def _info(self, line: str, **style: object) -> None:
        if self.wrote_text:
            self.text_out.write("\n")
            self.text_out.flush()
            self.wrote_text = False
        click.echo(click.style(line, **style) if self.color else line, file=self.info)  # type: ignore[arg-type]

    def __call__(self, event: Event) -> None:
        if isinstance(event, TextDelta) and self.stream_text:
            self.text_out.write(event.text)
            self.text_out.flush()
            self.wrote_text = True
        elif isinstance(event, ToolStart):
            args = json.dumps(event.call.arguments, ensure_ascii=False)
            self._info(f"→ {event.call.name}({preview(args, 80)})", fg="cyan")
        elif isinstance(event, ToolEnd):
            mark = "✗" if event.is_error else "←"
            self._info(f"  {mark} {preview(event.content)}", fg="red" if event.is_error else "bright_black")
        elif isinstance(event, ModelRetry):
            # Without a status (timeouts, dropped connections) the reason is the error's text.
            why = event.status or preview(event.error.split("] ", 1)[-1], 60)
            status = f" ({why})" if why else ""
            self._info(f"  model call failed{status}; retry {event.attempt}/{event.max_retries} "
                       f"in {event.delay_s:.1f} s", fg="yellow")
        elif isinstance(event, RateLimited):
            self._info(f"  waiting for the rate limit: {event.wait_s:.1f} s ({event.reason})", fg="yellow")
        elif isinstance(event, UsageUpdate):
            pass  # shown once per run by `finish`

    def finish(self, result: RunResult) -> None:
        if self.wrote_text:
            self.text_out.write("\n")
            self.text_out.flush()
            self.wrote_text = False
        self._info(format_usage(result), fg="bright_black")
