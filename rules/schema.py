"""The shapes of the TOML tables, as pydantic models, each building its runtime object.

Loading validates every table against its spec here (definitions and gates), in
rules.schema_checks (one spec per check kind) and rules.schema_sla (calendars, SLAs); then
`spec.build(ctx, …)` (rules.build) resolves the names it uses and compiles what it needs into
the frozen objects of rules.model, reporting problems to the context. No spec reaches the hot path.

    [taxonomy.<name>]  TaxonomySpec     [naming.<name>]  NamingSpec     [utm.<name>]  UtmSpec
    [[gate]]           GateSpec          [calendar.<name>]  CalendarSpec   [[sla]]     SlaSpec
"""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from baton.core.owners import OwnerRef

from .build import Build, NonEmpty, Scalar, Spec
from .errors import found, key_path, problems_from
from .model import DEFAULT_COMMENT, DEFAULT_RESOLVED_NOTE, ENFORCE, Gate, OnFail, OnPass, Taxonomy
from .naming import NamingError, NamingTemplate
from .schema_checks import CHECK_KINDS, KIND_KEYS, CheckSpec, WhenSpec, build_check
from .schema_sla import CalendarSpec, SlaSpec, StepSpec
from .tasks import DEFAULT_TASK_BODY, DEFAULT_TASK_SUBJECT, TaskSpec
from .utm import GroupEquals, UtmParam, UtmTaxonomy
from .values import field_reader

__all__ = [
    "CHECK_KINDS", "KIND_KEYS", "CalendarSpec", "CheckSpec", "GateSpec", "NamingSpec",
    "NonEmpty", "OnFailSpec", "OnPassSpec", "Scalar", "SlaSpec", "Spec", "StepSpec",
    "TaxonomySpec", "UtmSpec", "WhenSpec", "found", "key_path", "problems_from",
]

_GATE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")


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

    def build(self, ctx: Build, name: str) -> Taxonomy:
        return Taxonomy(name, tuple(self.values), dict(self.labels), self.description)


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

    def build(self, ctx: Build, name: str) -> NamingTemplate | None:
        parts = {part: constraints.model_dump(exclude_none=True)
                 for part, constraints in self.parts.items()}
        vocabularies = {taxonomy: t.values for taxonomy, t in ctx.taxonomies.items()}
        try:
            return NamingTemplate(name, self.template, parts, vocabularies, self.example)
        except NamingError as error:
            ctx.problem(key_path("", ("naming", name, *error.key.split("."))), str(error))
            return None


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

    def build(self, ctx: Build, where: str, name: str) -> UtmParam:
        if self.values is not None and self.taxonomy is not None:
            ctx.problem(where, "expected values or taxonomy, found both")
        values: tuple[str, ...] = tuple(self.values or ())
        if self.taxonomy is not None:
            taxonomy = ctx.lookup(f"{where}.taxonomy", "taxonomy", self.taxonomy, ctx.taxonomies)
            values = taxonomy.values if taxonomy is not None else values
        pattern = None
        if self.pattern is not None:
            pattern = ctx.regex(f"{where}.pattern", self.pattern)
            if pattern is not None and self.example is not None \
                    and not pattern.fullmatch(self.example):
                ctx.problem(f"{where}.example", f"expected an example matching "
                            f"{self.pattern!r}, found {self.example!r}")
        groups = []
        for group, target in self.group_equals.items():
            group_where = key_path(where, ("group_equals", group))
            if pattern is None:
                if self.pattern is None:
                    ctx.problem(group_where, "expected a pattern with a named group "
                                f"(?P<{group}>…) on this parameter, found no pattern")
                continue
            if group not in pattern.groupindex:
                ctx.problem(group_where, f"expected the pattern to have a group named {group!r} "
                            f"(write (?P<{group}>…)), found "
                            f"{', '.join(pattern.groupindex) or 'no named groups'}")
                continue
            field_pattern = None
            if target.pattern is not None:
                field_pattern = ctx.regex(f"{group_where}.pattern", target.pattern)
            groups.append(GroupEquals(group, target.field, field_reader(target.field),
                                      field_pattern))
        return UtmParam(name, values, pattern, self.example, tuple(groups))


class UtmSpec(Spec):
    required: list[NonEmpty] = []
    lowercase: bool = False
    no_duplicates: bool = False
    params: dict[str, UtmParamSpec] = {}
    description: str = ""

    def build(self, ctx: Build, name: str) -> UtmTaxonomy | None:
        before = ctx.count()
        params = tuple(rule.build(ctx, key_path("", ("utm", name, "params", param)), param)
                       for param, rule in self.params.items())
        if ctx.count() != before:
            return None
        return UtmTaxonomy(name, tuple(self.required), self.lowercase, self.no_duplicates, params,
                           self.description)


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
    digest_above: int | None = Field(default=None, ge=1)

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

    def build(self, ctx: Build, where: str, enters: str) -> OnFail:
        ctx.template(f"{where}.comment", self.comment)
        task = None
        if self.task is not None:
            ctx.template(f"{where}.task.subject", self.task.subject)
            ctx.template(f"{where}.task.body", self.task.body)
            try:
                owner = OwnerRef.parse(self.task.owner)
            except ValueError as error:
                ctx.problem(f"{where}.task.owner", str(error))
                owner = OwnerRef.parse("owner")
            task = TaskSpec(self.task.subject, self.task.body, owner)
        for name, value in self.set.items():
            ctx.template(key_path(where, ("set", name)), value)
        if self.move_to is not None and self.move_to == enters:
            ctx.problem(f"{where}.move_to", f"expected a status other than the one this gate "
                        f"guards, found {self.move_to!r} (the record would bounce into itself)")
        if self.digest_above is not None and self.comment is None and task is None:
            ctx.problem(f"{where}.digest_above", "expected a comment or a task for the digest "
                        "to replace (this gate writes neither)")
        return OnFail(comment=self.comment, task=task, move_to=self.move_to, set=dict(self.set),
                      digest_above=self.digest_above)


class OnPassSpec(Spec):
    resolve: bool = True
    note: Any = DEFAULT_RESOLVED_NOTE  # true (the default note), false, or a template

    @field_validator("note")
    @classmethod
    def _note(cls, value: Any) -> str | None:
        return _template_or_flag(value, DEFAULT_RESOLVED_NOTE)

    def build(self, ctx: Build, where: str) -> OnPass:
        ctx.template(f"{where}.note", self.note)
        return OnPass(resolve=self.resolve, note=self.note)


class GateSpec(Spec):
    id: NonEmpty
    source: NonEmpty
    enters: NonEmpty
    from_: list[NonEmpty] = Field([], alias="from")
    description: str = ""
    checks: list[dict[str, Any]] = Field(min_length=1)  # each validated by its kind's spec
    on_fail: OnFailSpec | None = None
    on_pass: OnPassSpec = OnPassSpec()
    # "observe": shadow mode (evaluated, recorded, writes nothing); None: the file's `mode`,
    # else "enforce"
    mode: Literal["enforce", "observe"] | None = None

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

    def build(self, ctx: Build, where: str) -> Gate:
        """The gate with every check that built; problems go to `ctx` (the caller decides)."""
        checks = []
        check_ids: dict[str, int] = {}
        for index, table in enumerate(self.checks, 1):
            check_where = f"{where}.checks[{index}]"
            check = build_check(ctx, check_where, table)
            if check is None:
                continue
            if check.id in check_ids:
                if "id" in table:
                    ctx.problem(f"{check_where}.id", f"expected a unique check id in this gate, "
                                f"found {check.id!r} already used by checks[{check_ids[check.id]}]")
                    continue
                suffix = 2
                while f"{check.id}-{suffix}" in check_ids:
                    suffix += 1
                check.id = f"{check.id}-{suffix}"
            check_ids[check.id] = index
            checks.append(check)
        on_fail = OnFail() if self.on_fail is None else self.on_fail.build(
            ctx, f"{where}.on_fail", self.enters)
        return Gate(id=self.id, source=self.source, enters=self.enters, checks=tuple(checks),
                    from_statuses=frozenset(self.from_), on_fail=on_fail,
                    on_pass=self.on_pass.build(ctx, f"{where}.on_pass"),
                    description=self.description, file=ctx.file, mode=self.mode or ENFORCE)
