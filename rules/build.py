"""What every spec builds with: the `Spec` base model and the `Build` context.

A spec (rules.schema) is a pydantic model of one TOML table; `spec.build(ctx, …)` turns it into
the runtime object, resolving names through `ctx` (the taxonomies, naming templates, UTM
taxonomies, calendars and gates built so far) and reporting what is wrong to `ctx.problem`
(with the file the spec came from). A build that reported a problem returns None.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from .errors import Problem, found, problems_from
from .regex import Regex, RegexError, UnsupportedRegex, compile_regex, unsupported
from .templates import parse_template

if TYPE_CHECKING:
    from .business_hours import BusinessCalendar
    from .model import Gate, Taxonomy
    from .naming import NamingTemplate
    from .utm import UtmTaxonomy


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
SpecT = TypeVar("SpecT", bound=BaseModel)
T = TypeVar("T")


class Spec(BaseModel):
    """A TOML table's shape: unknown keys are problems, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


@dataclass
class Build:
    """The build context: what is defined so far, and where problems go (in `file`)."""

    problems: list[Problem] = field(default_factory=list)
    file: str = ""
    taxonomies: dict[str, Taxonomy] = field(default_factory=dict)
    naming: dict[str, NamingTemplate] = field(default_factory=dict)
    utm: dict[str, UtmTaxonomy] = field(default_factory=dict)
    calendars: dict[str, BusinessCalendar] = field(default_factory=dict)
    gates: dict[str, Gate] = field(default_factory=dict)
    broken: set[tuple[str, str]] = field(default_factory=set)  # (kind, name): defined but invalid

    def in_file(self, file: str) -> Build:
        """The same definitions and problem list, reporting for another file."""
        return dataclasses.replace(self, file=file)

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(self.file, where, message))

    def count(self) -> int:
        """How many problems so far: a build compares it before and after."""
        return len(self.problems)

    def validate(self, model: type[SpecT], value: Any, where: str) -> SpecT | None:
        """`value` as a `model`, or None with its problems reported."""
        try:
            return model.model_validate(value)
        except ValidationError as error:
            self.problems.extend(problems_from(error, self.file, where, model))
            return None

    def regex(self, where: str, pattern: str) -> Regex | None:
        """An admin's regular expression, compiled by RE2 (rules.regex); None (and a problem)
        when it is not one, or needs a backtracking feature."""
        try:
            return compile_regex(pattern)
        except RegexError as error:
            self.problem(where, f"expected a regular expression, found {pattern!r}: {error}")
        except UnsupportedRegex as error:
            self.problem(where, unsupported(pattern, error))
        return None

    def template(self, where: str, template: str | None) -> None:
        """Report a message template that does not parse (`{name}` placeholders)."""
        if template is None:
            return
        try:
            parse_template(template)
        except ValueError as error:
            self.problem(where, f"{error}, found {found(template)}")

    def lookup(self, where: str, what: str, name: str, defined: Mapping[str, T],
               kind: str | None = None) -> T | None:
        """The definition `name`; None (and a problem, unless the definition itself was broken
        and already reported: `kind` names its table) when there is none."""
        if name in defined:
            return defined[name]
        if kind is None or (kind, name) not in self.broken:
            self.problem(where, unknown(what, name, defined))
        return None


def unknown(what: str, name: str, defined: Collection[str]) -> str:
    return f"unknown {what} {name!r}; defined: {', '.join(sorted(defined)) or 'none'}"
