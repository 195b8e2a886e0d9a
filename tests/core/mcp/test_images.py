"""Images in tool results: kept in the history, passed to the APIs that take them in a tool
result (Anthropic, OpenAI Responses), described in text for the others and for image types an
API does not take."""

from __future__ import annotations

import json

from llmproc.messages import ImageData, Message, ToolCall, ToolResult
from llmproc.providers import anthropic_convert, gemini_convert, openai_chat, openai_responses

PNG = ImageData("image/png", "iVBORw0KGgo=")
BMP = ImageData("image/bmp", "Qk0=")
CALL = Message("assistant", (ToolCall("c1", "shot", {}),))
RESULT = Message("user", (ToolResult("c1", "a screenshot", name="shot", images=(PNG, BMP)),))


def test_images_survive_the_json_round_trip_and_plain_results_stay_as_they_were() -> None:
    assert Message.from_dict(json.loads(json.dumps(RESULT.to_dict()))) == RESULT
    assert RESULT.to_dict()["parts"][0]["images"] == [{"media_type": "image/png", "data": "iVBORw0KGgo="},
                                                      {"media_type": "image/bmp", "data": "Qk0="}]
    plain = Message("user", (ToolResult("c1", "text only"),))
    assert "images" not in plain.to_dict()["parts"][0]


def test_anthropic_takes_the_png_in_the_tool_result_and_describes_the_bmp() -> None:
    [block] = anthropic_convert.message_param(RESULT)["content"]
    assert block["type"] == "tool_result" and block["tool_use_id"] == "c1"
    text, image, described = block["content"]
    assert text == {"type": "text", "text": "a screenshot"}
    assert image == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG.data}}
    assert described["type"] == "text" and described["text"].startswith("[image/bmp image")


def test_openai_responses_takes_the_png_as_an_input_image() -> None:
    [output] = [i for i in openai_responses.to_input([CALL, RESULT]) if i["type"] == "function_call_output"]
    text, image, described = output["output"]
    assert text == {"type": "input_text", "text": "a screenshot"}
    assert image == {"type": "input_image", "image_url": f"data:image/png;base64,{PNG.data}"}
    assert "image/bmp image" in described["text"]


def test_chat_completions_and_gemini_describe_images_in_text() -> None:
    [tool_message] = [m for m in openai_chat.to_messages("", [CALL, RESULT]) if m["role"] == "tool"]
    assert tool_message["content"].startswith("a screenshot\n[image/png image, about 9 bytes")
    gemini = json.dumps(gemini_convert.contents_param([CALL, RESULT]))
    assert "a screenshot\\n[image/png image" in gemini and "[image/bmp image" in gemini
