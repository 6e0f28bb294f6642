"""What a broken rule file produces: every problem, each with its file and key path.

    ConfigError (core.errors)   the admin fixes a file; the last good rules keep running
    └── RuleFileError           `.problems`: every Problem found across all files

`problems_from` turns a pydantic error into Problems with key paths and plain messages; `found`
quotes a value the way every message does, `key_path` spells where it is.
"""
from __future__ import annotations

import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import BaseModel, ValidationError

from baton.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in one rule file: `where` is a key path like `gate[mql-entry].checks[2].pattern`."""

    file: str
    where: str
    message: str  # what was expected, what was found

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


class RuleFileError(ConfigError):
    """The rule files could not be loaded; `problems` lists everything wrong, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def found(value: Any) -> str:
    """How a found value is quoted in a message, in TOML's words."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:59] + "…"
        return repr(shown)
    return repr(value)


def key_path(prefix: str, loc: tuple[Any, ...]) -> str:
    """`gate[x]` + ('checks', 0, 'pattern') → `gate[x].checks[1].pattern` (lists count from 1)."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            name = str(part)
            name = name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'
            out += f".{name}" if out else name
    return out or "(top level)"


_EXPECTED = {
    "string_type": "expected text",
    "bool_type": "expected true or false",
    "int_type": "expected a whole number",
    "float_type": "expected a number",
    "list_type": "expected a list",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "missing": "expected this key, found nothing",
}


def problems_from(error: ValidationError, file: str, prefix: str,
                  model: type[BaseModel]) -> list[Problem]:
    """Our problems for a pydantic error on `model`, validated at key path `prefix`."""
    problems = []
    for item in error.errors():
        loc = tuple("from" if part == "from_" else part for part in item["loc"])
        kind = item["type"]
        value = item.get("input")
        if kind == "extra_forbidden":
            keys = allowed_keys(model, loc[:-1])
            message = "unknown key" + (f"; expected one of: {', '.join(keys)}" if keys else "")
        elif kind == "missing":
            message = _EXPECTED[kind]
        elif kind in _EXPECTED:
            message = f"{_EXPECTED[kind]}, found {found(value)}"
        elif kind == "literal_error":
            message = f"expected true, found {found(value)}"
        elif kind == "too_short":
            message = f"expected at least {item.get('ctx', {}).get('min_length', 1)} item(s), found none"
        elif kind in ("greater_than_equal", "greater_than", "less_than_equal"):
            message = f"expected a number {item['msg'].removeprefix('Input should be ')}, found {found(value)}"
        elif kind == "value_error":
            message = str(item["msg"]).removeprefix("Value error, ")
            key, colon, rest = message.partition(": ")
            if colon and key.isidentifier() and key in allowed_keys(model, loc):
                loc, message = loc + (key,), rest  # "labels: expected …" names its key
        else:
            message = f"{item['msg']}, found {found(value)}"
        problems.append(Problem(file, key_path(prefix, loc), message))
    return problems


def allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys a table at `loc` inside `model` may have."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {info.alias or name: info for name, info in annotation.model_fields.items()}
            if part not in fields:
                return []
            annotation = fields[part].annotation
        elif typing.get_origin(annotation) is list:
            annotation = typing.get_args(annotation)[0]
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [info.alias or name for name, info in annotation.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
