"""The shapes of the TOML tables, as pydantic models (the *validate* step of loading).

These models only say what a well-formed table looks like; they are turned into the compiled
runtime objects of `rules.model` by `rules.loader`, and never reach the hot path.
`problems_from` turns a pydantic error into our `Problem`s with key paths and plain messages.
"""
from __future__ import annotations

import re
import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator,
)

from .errors import Problem
from .model import DEFAULT_COMMENT, DEFAULT_RESOLVED_NOTE
from .tasks import DEFAULT_TASK_BODY, DEFAULT_TASK_SUBJECT


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("expected non-empty text")
    return value


def _scalar(value: Any) -> Any:
    if isinstance(value, str | int | float | bool):
        return value
    raise ValueError(f"expected text, a number or true/false, found {found(value)}")


NonEmpty = Annotated[str, AfterValidator(_non_empty)]
Scalar = Annotated[Any, AfterValidator(_scalar)]
_GATE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


# ---------------------------------------------------------------- definitions
class TaxonomySpec(Spec):
    values: list[NonEmpty] = Field(min_length=1)
    labels: dict[str, str] = {}
    description: str = ""

    @field_validator("values")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            raise ValueError(f"expected each value once, found {', '.join(map(repr, repeated))} twice")
        return values

    @model_validator(mode="after")
    def _labels_name_values(self) -> TaxonomySpec:
        unknown = [key for key in self.labels if key not in self.values]
        if unknown:
            raise ValueError(f"labels: expected labels for listed values only, found "
                             f"{', '.join(map(repr, unknown))}")
        return self


class NamePartSpec(Spec):
    pattern: str | None = None
    taxonomy: NonEmpty | None = None
    values: list[NonEmpty] | None = None
    date: NonEmpty | None = None  # a strftime format, e.g. "%Y%m%d"
    equals_field: NonEmpty | None = None
    label: NonEmpty | None = None  # how messages call the part


class NamingSpec(Spec):
    template: NonEmpty
    example: NonEmpty | None = None
    parts: dict[str, NamePartSpec] = {}
    description: str = ""


class GroupEqualsSpec(Spec):
    field: NonEmpty
    pattern: str | None = None


class UtmParamSpec(Spec):
    values: list[NonEmpty] | None = None
    taxonomy: NonEmpty | None = None
    pattern: str | None = None
    example: NonEmpty | None = None
    group_equals: dict[str, GroupEqualsSpec] = {}

    @field_validator("group_equals", mode="before")
    @classmethod
    def _field_names(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: {"field": item} if isinstance(item, str) else item
                    for key, item in value.items()}
        return value


class UtmSpec(Spec):
    required: list[NonEmpty] = []
    lowercase: bool = False
    no_duplicates: bool = False
    params: dict[str, UtmParamSpec] = {}
    description: str = ""


# ---------------------------------------------------------------- checks
class WhenSpec(Spec):
    field: NonEmpty
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(None, alias="in")
    present: bool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> WhenSpec:
        given = [name for name, value in (("equals", self.equals), ("in", self.in_),
                                          ("present", self.present)) if value is not None]
        if len(given) != 1:
            raise ValueError("expected exactly one of equals, in or present, found "
                             + (" and ".join(given) or "none"))
        return self


class CheckSpec(Spec):
    id: NonEmpty | None = None
    field: NonEmpty
    message: NonEmpty | None = None
    when: WhenSpec | None = None
    optional: bool = False
    required: Literal[True] | None = None  # may accompany any kind: the default anyway

    @model_validator(mode="after")
    def _not_both(self) -> CheckSpec:
        if self.required and self.optional:
            raise ValueError("expected either required = true or optional = true, found both")
        return self


class RequiredSpec(CheckSpec):
    required: Literal[True]


class PatternSpec(CheckSpec):
    pattern: NonEmpty
    example: NonEmpty | None = None


class AllowedSpec(CheckSpec):
    allowed: list[NonEmpty] = Field(min_length=1)
    ignore_case: bool = False


class TaxonomyCheckSpec(CheckSpec):
    taxonomy: NonEmpty
    ignore_case: bool = False


class LengthSpec(CheckSpec):
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LengthSpec:
        if self.min_length is not None and self.max_length is not None \
                and self.min_length > self.max_length:
            raise ValueError(f"expected min_length <= max_length, found {self.min_length} > "
                             f"{self.max_length}")
        return self


class IsTrueSpec(CheckSpec):
    is_true: Literal[True]


class DateOrderSpec(CheckSpec):
    before_field: NonEmpty | None = None
    after_field: NonEmpty | None = None
    allow_equal: bool = False


class NamingCheckSpec(CheckSpec):
    naming: NonEmpty


class UtmCheckSpec(CheckSpec):
    utm: NonEmpty


class ExprSpec(CheckSpec):
    expr: NonEmpty
    field: NonEmpty | None = None  # type: ignore[assignment]  # optional here: for reports only
    message: NonEmpty  # type: ignore[assignment]  # required: the team reads it


# kind → (the keys that select it, its model); a check has exactly one kind
CHECK_KINDS: dict[str, tuple[tuple[str, ...], type[CheckSpec]]] = {
    "pattern": (("pattern",), PatternSpec),
    "allowed": (("allowed",), AllowedSpec),
    "taxonomy": (("taxonomy",), TaxonomyCheckSpec),
    "length": (("min_length", "max_length"), LengthSpec),
    "is_true": (("is_true",), IsTrueSpec),
    "date_order": (("before_field", "after_field"), DateOrderSpec),
    "naming": (("naming",), NamingCheckSpec),
    "utm": (("utm",), UtmCheckSpec),
    "expr": (("expr",), ExprSpec),
    "required": (("required",), RequiredSpec),  # last: it may accompany the others
}
KIND_KEYS = ["required", *(key for keys, _ in CHECK_KINDS.values() for key in keys
                           if key != "required")]


# ---------------------------------------------------------------- gates
class TaskModel(Spec):
    subject: NonEmpty = DEFAULT_TASK_SUBJECT
    body: NonEmpty = DEFAULT_TASK_BODY
    owner: NonEmpty = "owner"  # owner | user:<id, email or name> | queue:<name>


def _template_or_flag(value: Any, default: str) -> str | None:
    if value is True:
        return default
    if value is False or value is None:
        return None
    if isinstance(value, str) and value.strip():
        return value
    raise ValueError(f"expected true, false or a message template, found {found(value)}")


class OnFailSpec(Spec):
    comment: Any = None  # true (the default template), false, or a template
    task: TaskModel | None = None  # `task = true` means a task with the default texts
    move_to: NonEmpty | None = None
    set: dict[str, str] = {}

    @field_validator("comment")
    @classmethod
    def _comment(cls, value: Any) -> str | None:
        return _template_or_flag(value, DEFAULT_COMMENT)

    @field_validator("task", mode="before")
    @classmethod
    def _task_flag(cls, value: Any) -> Any:
        return {} if value is True else None if value is False else value

    @model_validator(mode="after")
    def _does_something(self) -> OnFailSpec:
        if self.comment is None and self.task is None and self.move_to is None and not self.set:
            raise ValueError("expected at least one of comment, task, move_to or set")
        return self


class OnPassSpec(Spec):
    resolve: bool = True
    note: Any = DEFAULT_RESOLVED_NOTE  # true (the default note), false, or a template

    @field_validator("note")
    @classmethod
    def _note(cls, value: Any) -> str | None:
        return _template_or_flag(value, DEFAULT_RESOLVED_NOTE)


class GateSpec(Spec):
    id: NonEmpty
    source: NonEmpty
    enters: NonEmpty
    from_: list[NonEmpty] = Field([], alias="from")
    description: str = ""
    checks: list[dict[str, Any]] = Field(min_length=1)
    on_fail: OnFailSpec | None = None
    on_pass: OnPassSpec = OnPassSpec()

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _GATE_ID.fullmatch(value):
            raise ValueError(f"expected letters, digits, '-', '_', '.' or ':' (at most 100), "
                             f"found {value!r}")
        return value

    @field_validator("from_", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


# ---------------------------------------------------------------- error formatting
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


def problems_from(error: ValidationError, file: str, prefix: str, model: type[BaseModel],
                  skip: tuple[Any, ...] = ()) -> list[Problem]:
    """Our problems for a pydantic error on `model`, validated at key path `prefix`."""
    problems = []
    for item in error.errors():
        loc = tuple("from" if part == "from_" else part for part in item["loc"])
        kind = item["type"]
        value = item.get("input")
        if kind == "extra_forbidden":
            keys = allowed_keys(model, loc[:-1])
            message = "unknown key" + (f"; expected one of: {', '.join(keys)}" if keys else "")
        elif kind in ("missing",):
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
            if message.startswith("labels: "):
                loc, message = loc + ("labels",), message.removeprefix("labels: ")
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
