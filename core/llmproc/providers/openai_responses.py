"""Provider "openai": the OpenAI Responses API (`client.responses.create`).

Wire mapping:
- system prompt -> `instructions`; tools -> flat function tools (`strict: false`, because our
  schemas are not written for strict mode);
- our tool calls -> `function_call` items (call_id), tool results -> `function_call_output`;
- reasoning items <-> ThinkingPart(provider="openai", id=item id, signature=encrypted_content,
  thinking=summary text). They are replayed only to OpenAI, dropped for any other provider's
  thinking. With `reasoning_effort` we ask for encrypted reasoning and `store=False`, so the
  conversation is stateless on OpenAI's side and each request carries the full history.
Nothing dynamic is put in the request, so the prefix stays cacheable across turns.
"""

from __future__ import annotations

import json
from typing import Any

import openai
from openai.resources.responses import AsyncResponses

from llmproc.errors import ProviderError
from llmproc.providers._errors import RETRYABLE_ERROR_TYPES, stream_incomplete
from llmproc.messages import Message, Part, TextPart, ThinkingPart, ToolCall, ToolResult, Usage
from llmproc.providers.base import (
    ModelRequest, ModelResponse, OnEvent, ProviderSettings, StopReason, TextDelta, ThinkingDelta,
    ToolCallDelta, ToolSpec,
)
from llmproc.providers.openai_common import (
    OpenAIClientProvider,
    call_kwargs, dump_arguments, openai_usage, parse_arguments, result_output, stream_request_id,
    to_provider_error,
)

THINKING_PROVIDER = "openai"
_FINAL_EVENTS = ("response.completed", "response.incomplete")


def create(settings: ProviderSettings) -> OpenAIResponsesProvider:
    return OpenAIResponsesProvider(settings)


class OpenAIResponsesProvider(OpenAIClientProvider):

    async def complete(self, request: ModelRequest, on_event: OnEvent | None = None) -> ModelResponse:
        kwargs = build_kwargs(request)
        try:
            if request.stream:
                return await self._stream(kwargs, on_event)
            response = await self._client.responses.create(**kwargs)
            return to_model_response(response, response._request_id)
        except openai.OpenAIError as exc:
            raise to_provider_error(self.name, exc) from exc
        except json.JSONDecodeError as exc:  # a malformed SSE frame
            raise ProviderError(f"malformed stream event: {exc}", provider=self.name) from exc

    async def _stream(self, kwargs: dict[str, Any], on_event: OnEvent | None) -> ModelResponse:
        stream = await self._client.responses.create(**{**kwargs, "stream": True})
        request_id = stream_request_id(stream)
        acc = _EventAccumulator(self.name, request_id, on_event or (lambda _event: None))
        try:
            async with stream:
                async for event in stream:
                    acc.add(event)
        except openai.OpenAIError as exc:  # dropped connection, timeout
            raise to_provider_error(self.name, exc, request_id) from exc
        if acc.final is None:
            raise stream_incomplete(self.name, request_id, "no response.completed event")
        # Some compatible servers send a bare final response; fall back to the streamed items.
        output = list(acc.final.output or []) or [acc.done_items[i] for i in sorted(acc.done_items)]
        return to_model_response(acc.final, request_id, output)


class _EventAccumulator:
    """Reports deltas and keeps what the final answer is built from; raises on error events."""

    def __init__(self, provider: str, request_id: str | None, emit: OnEvent):
        self._provider = provider
        self._request_id = request_id
        self._emit = emit
        self.final: Any = None
        self.done_items: dict[int, Any] = {}

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "response.output_text.delta":
            self._emit(TextDelta(event.delta))
        elif kind == "response.reasoning_summary_text.delta":
            self._emit(ThinkingDelta(event.delta))
        elif kind == "response.output_item.added" and event.item.type == "function_call":
            self._emit(ToolCallDelta(event.item.name))
        elif kind == "response.output_item.done":
            self.done_items[event.output_index] = event.item
        elif kind in _FINAL_EVENTS:
            self.final = event.response
        elif kind == "response.failed":
            error = getattr(event.response, "error", None)
            code, message = getattr(error, "code", None), getattr(error, "message", None)
            raise self._error("response failed", code, message)
        elif kind == "error":
            raise self._error("error in stream", event.code, event.message)

    def _error(self, what: str, code: str | None, message: str | None) -> ProviderError:
        return ProviderError(f"{what} ({code or 'unknown'}): {message or 'no message'}",
                             provider=self._provider,
                             retryable=code in RETRYABLE_ERROR_TYPES, request_id=self._request_id)


# ---- request -------------------------------------------------------------------------------


def build_kwargs(request: ModelRequest) -> dict[str, Any]:
    base: dict[str, Any] = {"model": request.model, "input": to_input(request.messages)}
    if request.system:
        base["instructions"] = request.system
    if request.tools:
        base["tools"] = [to_tool(t) for t in request.tools]
    if request.max_tokens is not None:
        base["max_output_tokens"] = request.max_tokens
    if request.temperature is not None:
        base["temperature"] = request.temperature
    if request.top_p is not None:
        base["top_p"] = request.top_p
    if request.reasoning_effort:
        base["reasoning"] = {"effort": request.reasoning_effort, "summary": "auto"}
        base["include"] = ["reasoning.encrypted_content"]
        base["store"] = False
    return call_kwargs(AsyncResponses.create, base, request.extra)


def to_tool(tool: ToolSpec) -> dict[str, Any]:
    return {"type": "function", "name": tool.name, "description": tool.description,
            "parameters": dict(tool.parameters), "strict": False}


def to_input(messages: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in messages:
        texts: list[str] = []  # adjacent text parts become one message item
        for part in message.parts:
            if isinstance(part, TextPart):
                texts.append(part.text)
                continue
            if texts:
                items.append({"role": message.role, "content": "".join(texts)})
                texts = []
            item = _part_item(part)
            if item is not None:
                items.append(item)
        if texts:
            items.append({"role": message.role, "content": "".join(texts)})
    return items


def _part_item(part: Part) -> dict[str, Any] | None:
    if isinstance(part, ToolResult):
        return {"type": "function_call_output", "call_id": part.call_id, "output": result_output(part)}
    if isinstance(part, ToolCall):
        return {"type": "function_call", "call_id": part.id, "name": part.name,
                "arguments": dump_arguments(part.arguments)}
    if isinstance(part, ThinkingPart) and part.provider == THINKING_PROVIDER and part.id:
        item: dict[str, Any] = {"type": "reasoning", "id": part.id, "summary": (
            [{"type": "summary_text", "text": part.thinking}] if part.thinking else [])}
        if part.signature:
            item["encrypted_content"] = part.signature
        return item
    return None  # another provider's thinking cannot be replayed here


# ---- response ------------------------------------------------------------------------------


def to_model_response(response: Any, request_id: str | None,
                      output: list[Any] | None = None) -> ModelResponse:
    parts: list[Part] = []
    refused = False
    for item in output if output is not None else (response.output or []):
        kind = getattr(item, "type", None)
        if kind == "reasoning":
            summary = "\n\n".join(s.text for s in (item.summary or []) if getattr(s, "text", None))
            parts.append(ThinkingPart(summary, signature=item.encrypted_content,
                                      provider=THINKING_PROVIDER, id=item.id))
        elif kind == "message":
            texts = []
            for content in item.content or []:
                if content.type == "output_text":
                    texts.append(content.text)
                elif content.type == "refusal":
                    refused = True
                    texts.append(content.refusal)
            if texts:
                parts.append(TextPart("".join(texts)))
        elif kind == "function_call":
            parts.append(ToolCall(item.call_id, item.name, parse_arguments(item.arguments)))
    stop, raw = _stop_reason(response, parts, refused)
    return ModelResponse(
        message=Message("assistant", tuple(parts)), usage=to_usage(response.usage),
        stop_reason=stop, raw_stop_reason=raw, model=response.model, request_id=request_id,
        response_id=getattr(response, "id", None),
    )


def _stop_reason(response: Any, parts: list[Part], refused: bool) -> tuple[StopReason, str | None]:
    status = response.status
    if status == "incomplete":
        reason = getattr(response.incomplete_details, "reason", None)
        raw = f"incomplete:{reason}" if reason else "incomplete"
        if reason == "max_output_tokens":
            return "max_tokens", raw
        return ("refusal" if reason == "content_filter" else "other"), raw
    if refused:
        return "refusal", status
    if any(isinstance(p, ToolCall) for p in parts):
        return "tool_calls", status
    if status in (None, "completed"):
        return "end", status
    return "other", status


def to_usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return openai_usage(usage.input_tokens, usage.output_tokens, usage.input_tokens_details,
                        usage.output_tokens_details)
