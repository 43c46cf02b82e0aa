"""One translator from a pydantic validation error to the engine's one-line message.

``dataset.tagret: unknown key. Did you mean 'target'? Valid options: ...``: the key path, the
bad value, and the fix or the valid options, as every other ConfigError says it.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from engine.config.schema.rules import RULE
from engine.errors import ConfigError, did_you_mean, options_hint

# What a choice is called in "unknown <what> 'x'", by the key that holds it.
CHOICE_NOUNS = {"strategy": "strategy", "test_strategy": "strategy", "kind": "kind",
                "loader": "loader", "source": "source", "method": "search method",
                "calibration": "method", "prune_on": "value",
                "fail_on": "value", "targets": "target", "severity": "check",
                "limits": "measure", "direction": "direction"}
WHOLE = {"int_type", "int_parsing", "int_from_float"}
NUMBER = {"float_type", "float_parsing"}
TYPES = {"string_type": "text", "list_type": "a list", "dict_type": "a mapping",
         "model_type": "a mapping", "model_attributes_type": "a mapping"}
LIST_NOUNS = {"models": "names", "objectives": "names", "overrides": "overrides",
              "columns": "column names", "sensitive": "column names", "drop": "column names",
              "targets": "deploy targets", "na_values": "missing-value markers",
              "experiments": "overrides", "scorers": "scikit-learn scorer names (or auto)"}
VALUE_NOUNS = {"severity": "severity"}  # what a mapping's values are called
BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
          "less_than_equal": "<="}


def config_error(error: ValidationError, model: type[BaseModel], prefix: str = "") -> ConfigError:
    """The ConfigError for the deepest problem pydantic found: of a union's alternatives, the
    one that got furthest into the value (an entry's mapping rather than 'expected a list'),
    a wrong value over a wrong literal, and an unknown key over the missing one it misspells."""
    problem = max(error.errors(), key=lambda detail: (len(detail["loc"]),
                                                      detail["type"] != "literal_error",
                                                      detail["type"] == "extra_forbidden"))
    return ConfigError(message(problem, model, prefix))


def message(detail: ErrorDetails, model: type[BaseModel], prefix: str = "") -> str:
    """One line for one pydantic error."""
    kind, value = detail["type"], detail["input"]
    context = detail.get("ctx") or {}
    if kind == RULE:
        return str(context["message"])
    path, parent, node = _locate(detail["loc"], model)
    if kind == "union_tag_invalid":
        path.append(str(context.get("discriminator", "")).strip("'"))
        value = context.get("tag")
    key = prefix + "".join(f"[{part}]" if isinstance(part, int) else f".{part}"
                           for part in path).lstrip(".")
    last = next((str(part) for part in reversed(path) if isinstance(part, str)), key)
    container = str(path[-2]) if len(path) > 1 else ""
    field = parent.model_fields.get(last) if parent else None
    example = _example(key, field)
    if kind == "union_tag_not_found":
        tag = str(context.get("discriminator", "")).strip("'")
        return (f"{key}.{tag} is required but is not set; it says which kind of {last} this is. "
                f"{options_hint(_tags(node))}")
    if kind == "extra_forbidden":
        valid = sorted(parent.model_fields) if parent else []
        return f"{key}: unknown key.{did_you_mean(last, valid)} {options_hint(valid)}"
    if kind == "missing":
        return (f"{key} is required but is not set. Set it in the config file or on the "
                f"command line ({key}=...).")
    if kind in ("literal_error", "union_tag_invalid", "enum"):
        valid = re.findall(r"'([^']*)'", str(context.get("expected") or
                                              context.get("expected_tags") or ""))
        noun = CHOICE_NOUNS.get(last) or VALUE_NOUNS.get(container, "value")
        return (f"{key}: unknown {noun} {value!r}.{did_you_mean(str(value), valid)} "
                f"{options_hint(valid)}")
    if kind in BOUNDS:
        return f"{key}: {value!r} is not a {_range(kind, context, field)}.{example}"
    if kind in WHOLE:
        return f"{key}: must be an integer, got {value!r}.{example}"
    if kind in NUMBER:
        return f"{key}: must be a number, got {value!r}.{example}"
    if kind == "finite_number":
        return f"{key}: must be a finite number, got {value!r}.{example}"
    if kind == "bool_type":
        return f"{key}: must be true or false; got {value!r}."
    held = LIST_NOUNS.get(last) or LIST_NOUNS.get(container)
    if kind == "list_type" and held:
        return f"{key}: expected a list of {held}, got {value!r}.{example}"
    if kind in TYPES:
        return f"{key}: expected {TYPES[kind]}, got {value!r}.{example}"
    if kind == "too_short":
        return (f"{key} is empty; give it at least {context.get('min_length')} "
                f"entr{'y' if context.get('min_length') == 1 else 'ies'}.")
    if kind == "string_pattern_mismatch":
        return f"{key}: {value!r} does not match {context.get('pattern')}."
    reason = str(detail["msg"]).removeprefix("Value error, ")
    return f"{key}: {reason}{'' if reason.endswith(('.', '?')) else '.'}"


def _locate(loc: Sequence[int | str], model: type[BaseModel]
            ) -> tuple[list[int | str], type[BaseModel] | None, Any]:
    """The key path a user wrote, the model holding its last key, and the type at that key.

    ``loc`` loses the tags pydantic adds: a union member's (``dataset.file.path``), a plain
    union's member label (``list[str]``), a dict's ``[key]``.
    """
    path: list[int | str] = []
    node: Any = model
    parent = None
    for part in loc:
        if isinstance(part, str) and part not in _fields(node):
            if part == "[key]":  # the key itself is the bad value: name the mapping
                path.pop()
                continue
            if part in _tags(node):
                node = _tags(node)[part]
                continue
            alternatives = [arg for arg in _args(node) if arg is not type(None)]
            if len(alternatives) > 1:
                node = next((arg for arg in alternatives if part.startswith(
                    getattr(typing.get_origin(arg), "__name__", "-"))), node)
                continue
        path.append(part)
        parent, node = _model(node), _child(node, part)
    return path, parent, node


def _range(kind: str, context: dict[str, Any], field: FieldInfo | None) -> str:
    """``whole number >= 2``, or ``number in [0.0, 1.0]`` where the field has both ends."""
    ends = {type(rule).__name__: value for rule in (field.metadata if field else [])
            for value in [getattr(rule, type(rule).__name__.lower(), None)] if value is not None}
    bound = next(iter(context.values()))
    noun = "whole number" if isinstance(bound, int) else "number"
    if "Ge" in ends and "Le" in ends:
        return f"{noun} in [{ends['Ge']}, {ends['Le']}]"
    if "Gt" in ends and "Lt" in ends:
        return f"{noun} between {ends['Gt']} and {ends['Lt']} (both excluded)"
    return f"{noun} {BOUNDS[kind]} {bound}"


def _example(key: str, field: FieldInfo | None) -> str:
    """`` Use e.g. key=default.`` where the key has a default worth showing."""
    default = None if field is None or field.is_required() else field.default
    if default is None or isinstance(default, BaseModel | list | dict):
        return ""
    return f" Use e.g. {key}={str(default).lower() if isinstance(default, bool) else default}."


def _tags(node: Any) -> dict[str, type[BaseModel]]:
    """A tagged union's members by their discriminator value (``file``: FileDataset)."""
    return {str(typing.get_args(field.annotation)[0]): arg for arg in _args(node)
            if isinstance(arg, type) and issubclass(arg, BaseModel)
            for field in arg.model_fields.values()
            if typing.get_origin(field.annotation) is typing.Literal
            and len(typing.get_args(field.annotation)) == 1}


def _child(node: Any, part: int | str) -> Any:
    """The type one step down: a model's field, a dict's value, a list's item."""
    if isinstance(part, str) and part in _fields(node):
        return _fields(node)[part].annotation
    for arg in _args(node):
        if typing.get_origin(arg) in (dict, list):
            return typing.get_args(arg)[-1]
    return None


def _fields(node: Any) -> dict[str, FieldInfo]:
    model = _model(node)
    return model.model_fields if model else {}


def _model(node: Any) -> type[BaseModel] | None:
    models = [arg for arg in _args(node) if isinstance(arg, type) and issubclass(arg, BaseModel)]
    return models[0] if len(models) == 1 else None


def _args(node: Any) -> list[Any]:
    """The alternatives a type allows, with Annotated and Optional unwrapped."""
    if typing.get_origin(node) is typing.Annotated:
        return _args(typing.get_args(node)[0])
    if typing.get_origin(node) in (typing.Union, types.UnionType):
        return [leaf for arg in typing.get_args(node) for leaf in _args(arg)]
    return [node]
