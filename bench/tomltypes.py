"""Values read from TOML files, checked against the type their setting declares.

A wrong type is one line naming the file, the key, what was given and what is expected, at load: never a
TypeError deep in a run (`num_runs = "twenty"`), nor a setting silently wrong (`num_runs = 2.5` reaching
the phone as `--num_runs=2.5`, `tags = "flagship"` read as five one-letter tags).
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

from bench.errors import ConfigError


def declared_types(cls: type) -> dict[str, Any]:
    """The type each field of dataclass `cls` declares."""
    return typing.get_type_hints(cls)


def checked(value: Any, hint: Any, where: str, key: str) -> Any:
    """`value` as the type `hint` declares (a whole number is also a number, a string a path, a list a tuple);
    ConfigError when it is not one."""
    try:
        return _convert(value, hint)
    except _Mismatch:
        raise ConfigError(f"{where}: {key} = {shown(value)} is {_kind(value)}; expected {describe(hint)}") from None


class _Mismatch(Exception):
    pass


def _convert(value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(value, arg)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is tuple:
        if not isinstance(value, list):
            raise _Mismatch
        return tuple(_convert(item, args[0]) for item in value)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise _Mismatch
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise _Mismatch
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Mismatch
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Mismatch
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _Mismatch
        return value
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise _Mismatch
        return Path(value).expanduser()
    raise TypeError(f"no TOML check for {hint!r}")


def describe(hint: Any) -> str:
    """What a value of `hint` looks like, for a user writing TOML."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args if a is not type(None))
    if origin is tuple:
        return f"a list of {_plural(args[0])}, like {_example(args[0])}"
    if origin is dict or hint is dict:
        return "a table"
    return {bool: "true or false", int: "a whole number, like 50", float: "a number, like 1.5",
            str: 'a string in quotes, like "name"', Path: 'a path in quotes, like "tools/benchmark_model"'}.get(
        hint, str(hint))


def _plural(hint: Any) -> str:
    return {int: "whole numbers", float: "numbers", str: "strings in quotes"}.get(hint, "tables")


def _example(hint: Any) -> str:
    return {int: "[1, 2]", float: "[1.0, 2.5]", str: '["a", "b"]'}.get(hint, "[{ ... }]")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    return {str: "a string", int: "a whole number", float: "a number", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__)


def shown(value: Any) -> str:
    """The value as it reads in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, list, int, float)):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ ... }"
    return repr(value)
