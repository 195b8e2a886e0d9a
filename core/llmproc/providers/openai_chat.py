"""Provider "openai_chat": Chat Completions, for OpenAI and any OpenAI-compatible server
(Ollama, vLLM, llama.cpp, LM Studio).

Compatibility choices, since these servers implement the API unevenly:
- the system prompt is a "system" message (many servers reject the newer "developer" role);
- no key is needed when a base_url is set (local servers); a placeholder is passed to the SDK;
- our thinking is never sent (the API has no field for it). Reasoning some servers return in a
  non-standard `reasoning_content`/`reasoning` field is kept as ThinkingPart(provider="openai_chat");
- a stream without usage (servers ignoring `stream_options`) gives zero usage, not an error;
- tool calls that come with finish_reason "stop" still count as "tool_calls".
"""

from __future__ import annotations

import json
from typing import Any

import openai
from openai.resources.chat.completions import AsyncCompletions

from llmproc.errors import ProviderError
from llmproc.messages import Message, Part, TextPart, ThinkingPart, ToolCall, ToolResult, Usage
from llmproc.providers._errors import stream_incomplete
from llmproc.providers.base import (
    ModelRequest, ModelResponse, OnEvent, ProviderSettings, StopReason, TextDelta, ThinkingDelta,
    ToolCallDelta, ToolSpec,
)
from llmproc.providers.openai_common import (
    OpenAIClientProvider,
    call_kwargs, dump_arguments, openai_usage, parse_arguments, result_text, stream_request_id,
    to_provider_error,
)

THINKING_PROVIDER = "openai_chat"
_REASONING_FIELDS = ("reasoning_content", "reasoning")  # vLLM / DeepSeek / Ollama extensions
_STOP_REASONS: dict[str, StopReason] = {
    "stop": "end", "tool_calls": "tool_calls", "function_call": "tool_calls",
    "length": "max_tokens", "content_filter": "refusal",
}


def create(settings: ProviderSettings) -> OpenAIChatProvider:
    return OpenAIChatProvider(settings)


class OpenAIChatProvider(OpenAIClientProvider):
    keyless_with_base_url = True  # Ollama, vLLM, llama.cpp need no key

    async def complete(self, request: ModelRequest, on_event: OnEvent | None = None) -> ModelResponse:
        kwargs = build_kwargs(request)
        try:
            if request.stream:
                return await self._stream(kwargs, on_event)
            completion = await self._client.chat.completions.create(**kwargs)
            return self._to_model_response(completion, completion._request_id)
        except openai.OpenAIError as exc:
            raise to_provider_error(self.name, exc) from exc
        except json.JSONDecodeError as exc:  # a malformed SSE frame
            raise ProviderError(f"malformed stream chunk: {exc}", provider=self.name) from exc

    def _to_model_response(self, completion: Any, request_id: str | None) -> ModelResponse:
        if not completion.choices:
            raise ProviderError("the response has no choices", provider=self.name, request_id=request_id)
        choice = completion.choices[0]
        msg = choice.message
        parts: list[Part] = []
        reasoning = _reasoning(msg)
        if reasoning:
            parts.append(ThinkingPart(reasoning, provider=THINKING_PROVIDER))
        text = (msg.content or "") + (msg.refusal or "")
        if text:
            parts.append(TextPart(text))
        for call in msg.tool_calls or []:
            function = getattr(call, "function", None)  # custom (non-function) tools are not ours
            if function is not None:
                parts.append(ToolCall(call.id, function.name, parse_arguments(function.arguments)))
        return _response(parts, choice.finish_reason, bool(msg.refusal), completion.usage,
                         completion.model, request_id, getattr(completion, "id", None))

    async def _stream(self, kwargs: dict[str, Any], on_event: OnEvent | None) -> ModelResponse:
        acc = _ChunkAccumulator(on_event or (lambda _event: None))
        # Ask for usage in the last chunk; request.extra may override this for servers that reject it.
        kwargs = {"stream_options": {"include_usage": True}, **kwargs, "stream": True}
        stream = await self._client.chat.completions.create(**kwargs)
        request_id = stream_request_id(stream)
        try:
            async with stream:
                async for chunk in stream:
                    acc.add(chunk)
        except openai.OpenAIError as exc:  # in-stream error event, dropped connection, timeout
            raise to_provider_error(self.name, exc, request_id) from exc
        if acc.finish_reason is None:
            raise stream_incomplete(self.name, request_id, "no finish_reason")
        return _response(acc.parts(), acc.finish_reason, acc.refused, acc.usage, acc.model, request_id, acc.id)


class _ChunkAccumulator:
    """Builds one answer from stream chunks; tool calls arrive as fragments keyed by index."""

    def __init__(self, emit: OnEvent):
        self._emit = emit
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}
        self.refused = False
        self.finish_reason: str | None = None
        self.usage: Any = None
        self.model: str | None = None
        self.id: str | None = None  # every chunk carries the completion's id

    def add(self, chunk: Any) -> None:
        self.model = chunk.model or self.model
        self.id = getattr(chunk, "id", None) or self.id
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices or []:
            if choice.index not in (0, None):
                continue
            delta = choice.delta
            if delta is not None:
                self._add_delta(delta)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason

    def _add_delta(self, delta: Any) -> None:
        reasoning = _reasoning(delta)
        if reasoning:
            self._reasoning.append(reasoning)
            self._emit(ThinkingDelta(reasoning))
        if delta.content:
            self._text.append(delta.content)
            self._emit(TextDelta(delta.content))
        if delta.refusal:
            self.refused = True
            self._text.append(delta.refusal)
        for fragment in delta.tool_calls or []:
            self._add_call_fragment(fragment)

    def _add_call_fragment(self, fragment: Any) -> None:
        index = fragment.index
        if index is None:  # some servers omit the index: a new id starts a new call
            is_new = fragment.id is not None and all(c["id"] != fragment.id for c in self._calls.values())
            index = len(self._calls) if is_new or not self._calls else max(self._calls)
        call = self._calls.setdefault(index, {"id": None, "name": "", "arguments": []})
        if fragment.id:
            call["id"] = fragment.id
        function = fragment.function
        if function is None:
            return
        if function.name and not call["name"]:
            call["name"] = function.name
            self._emit(ToolCallDelta(function.name))
        if function.arguments:
            call["arguments"].append(function.arguments)

    def parts(self) -> list[Part]:
        parts: list[Part] = []
        if self._reasoning:
            parts.append(ThinkingPart("".join(self._reasoning), provider=THINKING_PROVIDER))
        if self._text:
            parts.append(TextPart("".join(self._text)))
        for index in sorted(self._calls):
            call = self._calls[index]
            call_id = call["id"] or f"call_{index}"  # servers that send no id still need a stable one
            parts.append(ToolCall(call_id, call["name"], parse_arguments("".join(call["arguments"]))))
        return parts


def _reasoning(obj: Any) -> str | None:
    for field in _REASONING_FIELDS:
        value = getattr(obj, field, None)
        if isinstance(value, str) and value:
            return value
    return None


def _response(parts: list[Part], finish_reason: str | None, refused: bool, usage: Any,
              model: str | None, request_id: str | None, response_id: str | None) -> ModelResponse:
    stop: StopReason = _STOP_REASONS.get(finish_reason or "", "other")
    if refused:
        stop = "refusal"
    elif stop == "end" and any(isinstance(p, ToolCall) for p in parts):
        stop = "tool_calls"
    return ModelResponse(message=Message("assistant", tuple(parts)), usage=to_usage(usage),
                         stop_reason=stop, raw_stop_reason=finish_reason, model=model,
                         request_id=request_id, response_id=response_id)


# ---- request -------------------------------------------------------------------------------


def build_kwargs(request: ModelRequest) -> dict[str, Any]:
    base: dict[str, Any] = {"model": request.model, "messages": to_messages(request.system, request.messages)}
    if request.tools:
        base["tools"] = [to_tool(t) for t in request.tools]
    if request.max_tokens is not None:
        # Reasoning models take only max_completion_tokens; many compatible servers only max_tokens.
        key = "max_completion_tokens" if request.reasoning_effort else "max_tokens"
        base[key] = request.max_tokens
    if request.temperature is not None:
        base["temperature"] = request.temperature
    if request.top_p is not None:
        base["top_p"] = request.top_p
    if request.reasoning_effort:
        base["reasoning_effort"] = request.reasoning_effort
    return call_kwargs(AsyncCompletions.create, base, request.extra)


def to_tool(tool: ToolSpec) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": tool.name, "description": tool.description, "parameters": dict(tool.parameters)}}


def to_messages(system: str, messages: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        if message.role == "assistant":
            out.append(_assistant(message))
            continue
        # Tool results become "tool" messages, which must directly follow the assistant's calls.
        out.extend({"role": "tool", "tool_call_id": r.call_id, "content": result_text(r)}
                   for r in message.parts if isinstance(r, ToolResult))
        if message.text:
            out.append({"role": "user", "content": message.text})
    return out


def _assistant(message: Message) -> dict[str, Any]:
    calls = message.tool_calls
    entry: dict[str, Any] = {"role": "assistant", "content": message.text or (None if calls else "")}
    if calls:
        entry["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": dump_arguments(c.arguments)}}
            for c in calls
        ]
    return entry


def to_usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return openai_usage(usage.prompt_tokens, usage.completion_tokens, usage.prompt_tokens_details,
                        usage.completion_tokens_details)
