"""Pydantic's validation errors in words a profile's author reads: what was expected, what was found, a hint.

One function per concern: `describe` words one error, `fields_at` and `kinds_at` find which fields and kinds
the model accepts at a location (for "did you mean"), `did_you_mean` picks the closest spelling (difflib's
ratio, cut-off 0.6).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import ErrorDetails


def did_you_mean(word: object, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """`; did you mean 'x'?` for the closest choice, or "" when nothing is close. A number is never a misspelling
    (91 is not "close" to 1), so numbers get no suggestion."""
    text = str(word)
    if isinstance(word, int | float) or text.replace(".", "", 1).lstrip("-").isdigit():
        return ""
    close = difflib.get_close_matches(text, sorted(set(choices)), n=1, cutoff=cutoff)
    return f"; did you mean {close[0]!r}?" if close else ""


def _members(annotation: Any) -> list[Any]:
    """The types an annotation can hold: Optional, unions and Annotated unwrapped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _kind_tag(model: type[BaseModel]) -> str | None:
    info = model.model_fields.get("kind")
    if info is None or typing.get_origin(info.annotation) is not Literal:
        return None
    return str(typing.get_args(info.annotation)[0])


def _types_at(root: type[BaseModel], loc: Sequence[str | int]) -> list[Any]:
    """The types the model accepts at `loc`, a pydantic error location (several for a union)."""
    current: list[Any] = [root]
    for part in loc:
        nxt: list[Any] = []
        models = [m for m in current if isinstance(m, type) and issubclass(m, BaseModel)]
        tagged = [m for m in models if _kind_tag(m) == part]
        if tagged:  # pydantic puts a discriminated union's tag into the location
            nxt = tagged
        for model in models:
            if isinstance(part, str) and part in model.model_fields:
                nxt.extend(_members(model.model_fields[part].annotation))
        for container in current:
            origin = typing.get_origin(container)
            if origin in (list, dict):
                nxt.extend(_members(typing.get_args(container)[-1]))
        current = nxt
    return current


def _models(types_: list[Any]) -> list[type[BaseModel]]:
    return [m for m in types_ if isinstance(m, type) and issubclass(m, BaseModel)]


def fields_at(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names (and aliases) the model accepts at `loc`; [] when unknown."""
    return [info.alias or name for model in _models(_types_at(root, loc)) for name, info in model.model_fields.items()]


def kinds_at(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The `kind` values a discriminated union accepts at `loc`."""
    return [tag for model in _models(_types_at(root, loc)) if (tag := _kind_tag(model)) is not None]


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else type(value).__name__


def describe(err: ErrorDetails, root: type[BaseModel], written: str | None) -> str:
    """One error in plain words. `written` is the value as it appears in the file, when known."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    # Text is quoted; anything else is shown as written (YAML reads `2.20` as 2.2).
    shown = repr(value) if isinstance(value, str) or written is None else written
    loc = tuple(err["loc"])
    if kind == "extra_forbidden":
        return f"unknown field{did_you_mean(loc[-1], fields_at(root, loc[:-1]))}"
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        expected = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",")]
        return (f"unknown kind {ctx.get('tag')!r}; expected one of {', '.join(expected)}"
                f"{did_you_mean(ctx.get('tag'), expected)}")
    if kind == "union_tag_not_found":
        kinds = kinds_at(root, loc)
        return f"'kind' is required here: one of {', '.join(kinds)}" if kinds else "'kind' is required here"
    if kind == "string_type":
        hint = f"; quote it: \"{shown}\"" if isinstance(value, int | float) and not isinstance(value, bool) else ""
        return f"expected text, got {_type_name(value)} ({shown}){hint}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {shown}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {shown}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {shown}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (key: value lines), got {_type_name(value)}"
    if kind == "list_type":
        return f"expected a list, got {_type_name(value)}"
    if kind in ("literal_error", "enum"):
        allowed = str(ctx.get("expected", ""))
        options = [o.strip().strip("'") for o in allowed.replace(" or ", ", ").split(",")]
        return f"{shown} is not allowed; expected {allowed}{did_you_mean(value, options)}"
    bounds = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt"),
              "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {ctx.get(key)}, got {shown}"
    if kind == "string_pattern_mismatch":
        return f"{shown} does not match the pattern {ctx.get('pattern')}"
    if kind in ("string_too_short", "too_short"):
        return f"needs at least {ctx.get('min_length')} {'character' if kind.startswith('string') else 'item'}(s)"
    if kind in ("string_too_long", "too_long"):
        return f"allows at most {ctx.get('max_length')} {'character' if kind.startswith('string') else 'item'}(s)"
    message = str(err["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
