"""The check specs: one pydantic model per check kind, each building its runtime check.

A check table has exactly one kind, chosen by its keys (`pattern = …` is a pattern check);
`required = true` may accompany any kind. `build_check(ctx, where, table)` picks the kind,
validates the table against its spec and calls `spec.build(ctx, where)`, which compiles what the
check needs (regexes, value sets, CEL) and resolves the definitions it names.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from .build import Build, NonEmpty, Scalar, Spec
from .checks import (
    AllowedCheck, Check, Condition, DateOrderCheck, IsTrueCheck, LengthCheck, PatternCheck,
    RequiredCheck,
)
from .errors import found
from .expressions import Expression, ExpressionCheck, ExpressionError
from .lookup import LookupCheck
from .naming import NamingCheck
from .utm import UtmCheck


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

    def build(self) -> Condition:
        if self.present is not None:
            return Condition(self.field, present=self.present)
        return Condition(self.field, expected=[self.equals] if self.equals is not None else self.in_)


class CheckSpec(Spec):
    """The keys every kind shares. A kind names itself (`kind`), the keys that select it
    (`keys`) and builds its check in `make`."""

    kind: ClassVar[str] = "check"
    keys: ClassVar[tuple[str, ...]] = ()

    id: NonEmpty | None = None
    field: NonEmpty | None = None  # every kind but `expr` requires it (FieldSpec)
    message: NonEmpty | None = None
    when: WhenSpec | None = None
    optional: bool = False
    required: Literal[True] | None = None  # may accompany any kind: the default anyway

    @model_validator(mode="after")
    def _not_both(self) -> CheckSpec:
        if self.required and self.optional:
            raise ValueError("expected either required = true or optional = true, found both")
        return self

    def build(self, ctx: Build, where: str) -> Check | None:
        """The runtime check, or None when anything about it was reported to `ctx`."""
        before = ctx.count()
        ctx.template(f"{where}.message", self.message)
        common: dict[str, Any] = {
            "id": self.id or ("expr" if self.field is None else f"{self.field}.{self.kind}"),
            "field": self.field, "message": self.message, "optional": self.optional,
            "when": None if self.when is None else self.when.build(),
        }
        check = self.make(ctx, where, common)
        return check if ctx.count() == before else None

    def make(self, ctx: Build, where: str, common: dict[str, Any]) -> Check | None:
        raise NotImplementedError


class FieldSpec(CheckSpec):
    field: NonEmpty


class RequiredSpec(FieldSpec):
    kind = "required"
    keys = ("required",)
    required: Literal[True]

    def make(self, ctx: Build, where: str, common: dict[str, Any]) -> Check | None:
        return RequiredCheck(**common)


class PatternSpec(FieldSpec):
    kind = "pattern"
    keys = ("pattern",)
    pattern: NonEmpty
    example: NonEmpty | None = None

    def make(self, ctx: Build, where: str, common: dict[str, Any]) -> Check | None:
        regex = ctx.regex(f"{where}.pattern", self.pattern)
        if regex is None:
            return None
        if self.example is not None and not regex.fullmatch(self.example):
            ctx.problem(f"{where}.example", f"expected an example matching the pattern, "
                        f"found {self.example!r}")
        return PatternCheck(regex=regex, example=self.example, **common)


class AllowedSpec(FieldSpec):
    kind = "allowed"
    keys = ("allowed",)
    allowed: list[NonEmpty] = Field(min_length=1)
    ignore_case: bool = False

    def make(self, ctx: Build, where: str, common: dict[str, Any]) -> Check | None:
        return AllowedCheck(values=self.allowed, ignore_case=self.ignore_case, **common)


class TaxonomyCheckSpec(FieldSpec):
    kind = "taxonomy"
    keys = ("taxonomy",)
    taxonomy: NonEmpty
    ignore_case: bool = False

    def make(self, ctx: Build, where: str, common: dict[str, Any]) -> Check | None:
        taxonomy = ctx.lookup(f"{where}.taxonomy", "taxonomy", self.taxonomy, ctx.taxonomies)
        if taxonomy is None:
            return None
        return AllowedCheck(values=taxonomy.values, ignore_case=self.ignore_case, **common)


class LengthSpec(FieldSpec):
    kind = "length"
    keys = ("min_length", "max_length")
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LengthSpec:
        if self.min_length is not None and self.max_length is not None \
                and self.min_length > self.max_length:
            raise ValueError(f"expected min_length <= max_length, found {self.min_length} > "
                             f"{self.max_length}")
        return self

    def make(self, ctx: Build, where: str, common: dict[str, Any]) -> Check | None:
        return LengthCheck(min_length=self.min_length, max_length=self.max_length, **common)


class IsTrueSpec(FieldSpec):
    kind = "is_true"
    keys = ("is_true",)
    is_true: Literal[True]

    def make(self, ctx: Build, where: str, common: dict[str, Any]) -> Check | None:
        return IsTrueCheck(**common)


class DateOrderSpec(FieldSpec):
    kind = "date_order"
    keys = ("before_field", "after_field")
    before_field: NonEmpty | None = None
    after_field: NonEmpty | None = None
    allow_equal: bool = False

    def make(self, ctx: Build, where: str, common: dict[str, Any]) -> Check | None:
        return DateOrderCheck(before=self.before_field, after=self.after_field,
                              allow_equal=self.allow_equal, **common)


class NamingCheckSpec(FieldSpec):
    kind = "naming"
    keys = ("naming",)
    naming: NonEmpty

    def make(self, ctx: Build, where: str, common: dict[str, Any]) -> Check | None:
        template = ctx.lookup(f"{where}.naming", "naming template", self.naming, ctx.naming,
                              kind="naming")
        return None if template is None else NamingCheck(template=template, **common)


class UtmCheckSpec(FieldSpec):
    kind = "utm"
    keys = ("utm",)
    utm: NonEmpty

    def make(self, ctx: Build, where: str, common: dict[str, Any]) -> Check | None:
        taxonomy = ctx.lookup(f"{where}.utm", "UTM taxonomy", self.utm, ctx.utm, kind="utm")
        return None if taxonomy is None else UtmCheck(taxonomy=taxonomy, **common)


class ExprSpec(CheckSpec):
    kind = "expr"
    keys = ("expr",)
    expr: NonEmpty
    message: NonEmpty  # required here: it is what the team reads

    def make(self, ctx: Build, where: str, common: dict[str, Any]) -> Check | None:
        try:
            expression = Expression(self.expr)
        except ExpressionError as error:
            ctx.problem(f"{where}.expr", f"expected a valid CEL expression, found "
                        f"{found(self.expr)}: {error}")
            return None
        return ExpressionCheck(expression=expression, **common)


class LookupTableSpec(Spec):
    """`lookup = { ... }`: where the value is looked up and what the record found must meet."""

    source: NonEmpty
    key: NonEmpty
    name: NonEmpty | None = None  # how the team calls what is looked up ("Salesforce Campaign")
    require: dict[NonEmpty, Scalar | list[Scalar]] = {}
    filled: list[NonEmpty] = []
    equal: dict[NonEmpty, NonEmpty] = {}  # their field -> this record's field
    on_stale: Literal["fail", "pass", "hold"] = "fail"
    ignore_case: bool = False


class LookupSpec(FieldSpec):
    kind = "lookup"
    keys = ("lookup",)
    lookup: LookupTableSpec

    def make(self, ctx: Build, where: str, common: dict[str, Any]) -> Check | None:
        spec = self.lookup
        require = {name: value if isinstance(value, list) else [value]
                   for name, value in spec.require.items()}
        return LookupCheck(source=spec.source, key=spec.key, what=spec.name, require=require,
                           filled=spec.filled, equal=spec.equal, on_stale=spec.on_stale,
                           ignore_case=spec.ignore_case, **common)


_SPECS: tuple[type[CheckSpec], ...] = (
    PatternSpec, AllowedSpec, TaxonomyCheckSpec, LengthSpec, IsTrueSpec, DateOrderSpec,
    NamingCheckSpec, UtmCheckSpec, ExprSpec, LookupSpec,
    RequiredSpec,  # last: it may accompany the others
)
# kind → (the keys that select it, its spec); a check has exactly one kind
CHECK_KINDS: dict[str, tuple[tuple[str, ...], type[CheckSpec]]] = {
    spec.kind: (spec.keys, spec) for spec in _SPECS
}
KIND_KEYS = ["required", *(key for spec in _SPECS for key in spec.keys if key != "required")]


def build_check(ctx: Build, where: str, table: dict[str, Any]) -> Check | None:
    """The check a `checks = [...]` entry describes, or None with its problems reported."""
    kinds = [spec for spec in _SPECS
             if spec is not RequiredSpec and any(key in table for key in spec.keys)]
    if len(kinds) > 1:
        keys = [key for key in KIND_KEYS if key in table and key != "required"]
        ctx.problem(where, f"expected one kind of check, found {' and '.join(keys)} "
                    "(split them into separate checks)")
        return None
    if not kinds:
        if "required" not in table:
            ctx.problem(where, f"expected one of the check keys {', '.join(KIND_KEYS)}, "
                        f"found {', '.join(table) or 'an empty table'}")
            return None
        kinds = [RequiredSpec]
    spec = ctx.validate(kinds[0], table, where)
    return None if spec is None else spec.build(ctx, where)
