"""Turn pydantic validation errors into one actionable `ProgramConfigError` line.

The line names the file, the dotted key as the user wrote it (pydantic's union-member tags
removed), what was wrong in plain words, and for an unknown key the closest valid key.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from llmproc.errors import ProgramConfigError

_PLAIN = {
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "list_type": "expected a list",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "missing": "required key is missing",
}


def _clean_loc(loc: tuple[Any, ...], data: Any, kind: str = "") -> list[str | int]:
    """Keep only the loc parts that exist in the user's data (drops union tags like 'str')."""
    out: list[str | int] = []
    cur = data
    for i, part in enumerate(loc):
        if isinstance(cur, dict) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and part < len(cur):
            out.append(part)
            cur = cur[part]
        elif kind == "missing" and i == len(loc) - 1 and isinstance(cur, dict):
            out.append(part)  # a missing key: it is not in the data, but it is the key to name
    return out


def dotted(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The BaseModel classes an annotation can hold directly (through Optional/Union)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _containers_in(annotation: Any) -> list[Any]:
    """Value types of dicts and lists inside an annotation (to walk one level of keys/indexes)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return [c for arg in typing.get_args(annotation) for c in _containers_in(arg)]
    if origin is dict:
        return [typing.get_args(annotation)[1]]
    if origin is list:
        return [typing.get_args(annotation)[0]]
    return []


def valid_keys(root: type[BaseModel], parent: list[str | int]) -> set[str]:
    """Field names allowed at `parent` (a cleaned loc) below the `root` model."""
    annotations: list[Any] = [root]
    for part in parent:
        nxt: list[Any] = []
        for ann in annotations:
            for model in _models_in(ann):
                if isinstance(part, str) and part in model.model_fields:
                    nxt.append(model.model_fields[part].annotation)
            nxt.extend(_containers_in(ann))
        annotations = nxt
    return {name for ann in annotations for model in _models_in(ann) for name in model.model_fields}


def _describe(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {err.get('input')!r}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        bound = next(iter(ctx.values()), "?")
        return f"must be {op} {bound}, got {err.get('input')!r}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return _PLAIN.get(kind) or err["msg"]


def config_error(exc: ValidationError, data: Any, root: type[BaseModel], path: str | Path | None) -> ProgramConfigError:
    """The most specific error of `exc` as a ProgramConfigError (the count of others appended)."""
    errors = exc.errors()
    # Union members each report a failure; the deepest loc is the one closest to the real problem.
    scored = [(len(_clean_loc(tuple(e["loc"]), data, e["type"])), i, e) for i, e in enumerate(errors)]
    _, _, best = max(scored, key=lambda t: (t[0], t[2]["type"] == "extra_forbidden", -t[1]))
    loc = _clean_loc(tuple(best["loc"]), data, best["type"])
    if best["type"] == "extra_forbidden":
        key = str(loc[-1])
        choices = sorted(valid_keys(root, loc[:-1]))
        close = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
        message = f"unknown key {key!r}; " + (f"did you mean {close[0]!r}?" if close
                                                else f"valid keys: {', '.join(choices)}")
    else:
        same_place = [e for e in errors if _clean_loc(tuple(e["loc"]), data, e["type"]) == loc]
        message = " or ".join(dict.fromkeys(_describe(e) for e in same_place)).replace(" or expected ", " or ")
        if best["type"] in _PLAIN and best["type"] != "missing":
            value = best.get("input")
            message += f", got {type(value).__name__} {value!r}"
    # Errors at, above or beside the chosen one come from the other members of a union:
    # they describe the same problem. Only errors elsewhere are counted.
    parent = loc[:-1]
    others = {tuple(c) for e in errors if (c := _clean_loc(tuple(e["loc"]), data, e["type"]))
              and c[: len(parent)] != parent and loc[: len(c)] != c}
    if others:
        message += f" (and {len(others)} more problem{'s' if len(others) > 1 else ''})"
    return ProgramConfigError(message, path=path, key=dotted(loc) or None)
