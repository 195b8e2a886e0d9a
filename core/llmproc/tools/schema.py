"""Derive a tool's JSON Schema and argument validator from a typed function.

Pydantic builds a model from the signature (`create_model`), which gives both the schema the
model sees and the validator its arguments go through, so the two cannot drift apart.
Descriptions come from `Annotated[..., Field(description=...)]` or the Google-style "Args:"
section of the docstring. The schema is then cleaned for providers: no pydantic titles, `$ref`s
inlined (some APIs reject them), `additionalProperties: false` at the top.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import pydantic
from pydantic.fields import FieldInfo

from llmproc.errors import ToolError

_MAX_PROBLEMS = 5  # validation problems listed in one error message


class InvalidToolArguments(ToolError):
    """The arguments a model sent do not fit the tool's schema."""


@dataclass(frozen=True)
class FunctionSchema:
    description: str
    parameters: dict[str, Any]
    model: type[pydantic.BaseModel]
    context_params: tuple[str, ...]  # parameters that receive the ToolContext
    field_params: Mapping[str, str]  # model attribute -> function parameter name

    def validate(self, tool_name: str, args: Any) -> dict[str, Any]:
        """Validate model-sent arguments; return keyword arguments for the function."""
        try:
            parsed = self.model.model_validate(args)
        except pydantic.ValidationError as err:
            raise InvalidToolArguments(format_validation_error(tool_name, err, self.parameters)) from None
        return {param: getattr(parsed, attr) for attr, param in self.field_params.items()}


# --- docstrings ---------------------------------------------------------------------------

_SECTION = re.compile(r"^[A-Za-z][\w ]*:$")
_ARG_SECTIONS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
_ARG_LINE = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Return (first paragraph, {parameter: description}) of a Google-style docstring."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line.strip()):
            break
        summary.append(line.strip())

    params: dict[str, str] = {}
    in_args, current, base_indent = False, None, None
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if indent == 0 and _SECTION.match(stripped):
            in_args, current, base_indent = stripped[:-1].lower() in _ARG_SECTIONS, None, None
            continue
        if not in_args or not stripped:
            continue
        if indent == 0:  # unindented text closes the section
            in_args = False
            continue
        if base_indent is None:
            base_indent = indent
        match = _ARG_LINE.match(stripped) if indent == base_indent else None
        if match:
            current = match.group(1)
            params[current] = match.group(2).strip()
        elif current is not None and indent > base_indent:
            params[current] = f"{params[current]} {stripped}".strip()
    return " ".join(summary), params


# --- the model and its schema -------------------------------------------------------------


def _annotated_description(annotation: Any) -> str | None:
    if typing.get_origin(annotation) is Annotated:
        for meta in typing.get_args(annotation)[1:]:
            if isinstance(meta, FieldInfo) and meta.description:
                return meta.description
    return None


def _strip_annotated(annotation: Any) -> Any:
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is Annotated else annotation


def function_schema(fn: Callable[..., Any], *, is_context: Callable[[Any], bool]) -> FunctionSchema:
    """Inspect `fn`; `is_context(annotation)` says which parameters receive the ToolContext."""
    name = getattr(fn, "__name__", type(fn).__name__)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as err:  # NameError for unresolvable string annotations, mostly
        raise TypeError(f"cannot resolve the type hints of tool function {name!r}: {err}") from err
    description, arg_docs = parse_docstring(inspect.getdoc(fn))

    fields: dict[str, Any] = {}
    field_params: dict[str, str] = {}
    context_params: list[str] = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"tool function {name!r}: parameter {param.name!r} must be a normal "
                            "or keyword-only parameter (no *args, **kwargs or positional-only)")
        annotation = hints.get(param.name, Any)
        if param.name == "ctx" or is_context(_strip_annotated(annotation)):
            context_params.append(param.name)
            continue
        info: dict[str, Any] = {}
        if param.default is not param.empty:
            info["default"] = param.default
        if param.name in arg_docs and not _annotated_description(annotation):
            info["description"] = arg_docs[param.name]
        # Names pydantic reserves (`json`, `_x`, ...) live under another attribute, same alias.
        attr = param.name
        if param.name.startswith("_") or hasattr(pydantic.BaseModel, param.name):
            attr, info["alias"] = f"field_{param.name.lstrip('_')}_", param.name
        fields[attr] = (annotation, pydantic.Field(**info))
        field_params[attr] = param.name

    config = pydantic.ConfigDict(extra="forbid", protected_namespaces=())
    model = pydantic.create_model(f"{name}_arguments", __config__=config, **fields)
    return FunctionSchema(
        description=description,
        parameters=clean_schema(model.model_json_schema()),
        model=model,
        context_params=tuple(context_params),
        field_params=field_params,
    )


# Keys whose values are schemas (one, a list, or a name -> schema map), per JSON Schema.
_ONE = {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
        "unevaluatedItems", "unevaluatedProperties"}
_LIST = {"anyOf", "oneOf", "allOf", "prefixItems"}
_MAP = {"properties", "patternProperties", "dependentSchemas"}
_REF_PREFIX = "#/$defs/"


def clean_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Drop titles, inline non-recursive `$ref`s, forbid extra top-level properties."""
    defs = schema.get("$defs", {})
    kept_refs: set[str] = set()

    def walk(node: Any, seen: tuple[str, ...]) -> Any:
        if not isinstance(node, Mapping):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            key = ref[len(_REF_PREFIX):]
            if key in defs and key not in seen:
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return {**walk(defs[key], (*seen, key)), **walk(rest, seen)}
            kept_refs.add(key)  # recursive type: the reference has to stay
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$defs" or (key == "title" and isinstance(value, str)):
                continue
            if key in _ONE:
                out[key] = walk(value, seen)
            elif key in _LIST and isinstance(value, list):
                out[key] = [walk(v, seen) for v in value]
            elif key in _MAP and isinstance(value, Mapping):
                out[key] = {k: walk(v, seen) for k, v in value.items()}
            else:
                out[key] = value
        return out

    cleaned = walk(schema, ())
    if kept_refs:
        cleaned["$defs"] = {k: walk(v, (k,)) for k, v in defs.items()}
    cleaned.setdefault("type", "object")
    cleaned.setdefault("properties", {})
    cleaned["additionalProperties"] = False
    if not cleaned.get("required"):
        cleaned.pop("required", None)
    return cleaned


# --- error messages -----------------------------------------------------------------------


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_validation_error(tool_name: str, err: pydantic.ValidationError, schema: Mapping[str, Any]) -> str:
    """One line a model can act on: which argument, what was wrong, what it sent."""
    expected = ", ".join(schema.get("properties", {})) or "none"
    problems: list[str] = []
    errors = err.errors(include_url=False)
    for e in errors[:_MAX_PROBLEMS]:
        where = ".".join(str(p) for p in e["loc"]) or "arguments"
        kind = e["type"]
        if kind == "missing":
            what = "required argument missing"
        elif kind == "extra_forbidden":
            what = f"unexpected argument (expected: {expected})"
        else:
            msg = e["msg"]
            what = msg[:1].lower() + msg[1:]
            if "input" in e:
                what += f", got {_short(e['input'])}"
        problems.append(f"{where}: {what}")
    if len(errors) > _MAX_PROBLEMS:
        problems.append(f"... and {len(errors) - _MAX_PROBLEMS} more")
    return f"invalid arguments for {tool_name}: " + "; ".join(problems)
