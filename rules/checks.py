"""The check kinds: each a small compiled object whose `run` says what is wrong, if anything.

`run(record, seen)` returns None when the check passes (or is skipped by its `when`
condition), else a tuple of plain-words messages; `fields` names every field it may read. It records every value it reads in `seen`
(field → value) so a decision can be explained later. Everything a check needs (regexes,
value sets, readers) is built at load; `run` only reads and compares.

Value rules shared by every kind:
- a value that is None, "", whitespace only or an empty list is *empty*;
- an empty value fails every kind ("Email is missing") unless the check says `optional = true`
  (then the check passes), except `is_true`, where empty means not checked;
- a list value (multi-enum field) passes `pattern` and `allowed` only if every item does;
- numbers are read as their text (3.0 → "3"), so `pattern = '\\d+'` works on a number field.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from baton.core.records import Record

from .regex import Regex
from .templates import record_context, render
from .values import (
    compare_dates, field_reader, is_empty, is_true, items, label, parse_date, show, text,
)

Problems = tuple[str, ...] | None

_LIST_LIMIT = 12  # values listed in a "must be one of" message


def one_of(values: Iterable[str]) -> str:
    """'a, b, c' — shortened for long vocabularies."""
    values = list(values)
    if len(values) <= _LIST_LIMIT:
        return ", ".join(values)
    return ", ".join(values[:_LIST_LIMIT]) + f", … ({len(values)} in all)"


class Condition:
    """`when = { field = "X", equals = "v" | in = [...] | present = true|false }`."""

    __slots__ = ("field", "read", "expected", "present")

    def __init__(self, field: str, *, expected: Iterable[Any] | None = None,
                 present: bool | None = None) -> None:
        self.field = field
        self.read = field_reader(field)
        self.expected = None if expected is None else frozenset(text(value) for value in expected)
        self.present = present

    def holds(self, record: Record, seen: dict[str, Any]) -> bool:
        value = self.read(record)
        seen[self.field] = value
        if self.expected is None:
            return is_empty(value) != self.present
        return any(item in self.expected for item in items(value))


class Check:
    """Base of every kind: `run(record, seen)` says what is wrong; `fields` names what it reads."""

    __slots__ = ("id", "field", "message", "when", "optional")
    kind: ClassVar[str] = "check"

    def __init__(self, *, id: str, field: str | None, message: str | None = None,
                 when: Condition | None = None, optional: bool = False) -> None:
        self.id = id
        self.field = field  # None only for an expression without a field (rules.expressions)
        self.message = message  # a template overriding every message of this check
        self.when = when
        self.optional = optional

    @property
    def fields(self) -> frozenset[str]:
        """Every record field this check may read (`baton check` compares them with what the
        source fetches): its own, its `when` field, and whatever its kind reads besides."""
        own = {self.field} if self.field is not None else set()
        if self.when is not None:
            own.add(self.when.field)
        return frozenset(own | self.also_reads())

    def also_reads(self) -> set[str]:
        """Fields a kind reads beyond its own and its `when` field."""
        return set()

    def run(self, record: Record, seen: dict[str, Any]) -> Problems:
        raise NotImplementedError

    def custom_message(self, record: Record, value: Any) -> str:
        context = record_context(record)
        context.update(field=label(self.field or ""), value=text(value))
        return render(self.message or "", context)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"


class FieldCheck(Check):
    """A check of one field's value. Subclasses implement `test(value, record, seen)`."""

    __slots__ = ("read",)
    field: str

    def __init__(self, *, field: str, **common: Any) -> None:
        super().__init__(field=field, **common)
        self.read = field_reader(field)

    def run(self, record: Record, seen: dict[str, Any]) -> Problems:
        when = self.when
        if when is not None and not when.holds(record, seen):
            return None
        value = self.read(record)
        seen[self.field] = value
        if is_empty(value):
            if self.optional:
                return None
            problems: Problems = self.missing(value)
        else:
            problems = self.test(value, record, seen)
        if problems is None or self.message is None:
            return problems
        return (self.custom_message(record, value),)

    def missing(self, value: Any) -> Problems:
        return (f"{label(self.field)} is missing",)

    def test(self, value: Any, record: Record, seen: dict[str, Any]) -> Problems:
        raise NotImplementedError


class RequiredCheck(FieldCheck):
    """`required = true`: the field has a non-empty value."""

    __slots__ = ()
    kind = "required"

    def test(self, value: Any, record: Record, seen: dict[str, Any]) -> Problems:
        return None


class PatternCheck(FieldCheck):
    """`pattern = '...'`: the whole value (every item of a list) matches the regex."""

    __slots__ = ("regex", "example")
    kind = "pattern"

    def __init__(self, *, regex: Regex, example: str | None = None, **common: Any) -> None:
        super().__init__(**common)
        self.regex = regex
        self.example = example

    def test(self, value: Any, record: Record, seen: dict[str, Any]) -> Problems:
        fullmatch = self.regex.fullmatch
        for part in items(value):
            if fullmatch(part) is None:
                expected = (f"should look like {self.example}" if self.example
                            else f"does not match the expected format {self.regex.pattern}")
                return (f"{label(self.field)} {show(part)} {expected}",)
        return None


class AllowedCheck(FieldCheck):
    """`allowed = [...]` or `taxonomy = "name"`: the value (every item) is one of the values."""

    __slots__ = ("values", "accepted", "ignore_case")
    kind = "allowed"

    def __init__(self, *, values: Iterable[str], ignore_case: bool = False, **common: Any) -> None:
        super().__init__(**common)
        self.values = tuple(values)
        self.ignore_case = ignore_case
        self.accepted = frozenset(v.casefold() if ignore_case else v for v in self.values)

    def test(self, value: Any, record: Record, seen: dict[str, Any]) -> Problems:
        for part in items(value):
            if (part.casefold() if self.ignore_case else part) not in self.accepted:
                return (f"{label(self.field)} {show(part)} must be one of: "
                        f"{one_of(self.values)}",)
        return None


class LengthCheck(FieldCheck):
    """`min_length` / `max_length`: characters of the stripped text."""

    __slots__ = ("min_length", "max_length")
    kind = "length"

    def __init__(self, *, min_length: int | None, max_length: int | None, **common: Any) -> None:
        super().__init__(**common)
        self.min_length = min_length
        self.max_length = max_length

    def test(self, value: Any, record: Record, seen: dict[str, Any]) -> Problems:
        size = len(text(value))
        if self.min_length is not None and size < self.min_length:
            return (f"{label(self.field)} is too short: {size} characters, "
                    f"at least {self.min_length}",)
        if self.max_length is not None and size > self.max_length:
            return (f"{label(self.field)} is too long: {size} characters, "
                    f"at most {self.max_length}",)
        return None


class IsTrueCheck(FieldCheck):
    """`is_true = true`: a ticked checkbox. True, 1 and "true"/"yes"/"y"/"1"/"checked" count."""

    __slots__ = ()
    kind = "is_true"

    def missing(self, value: Any) -> Problems:
        return (f"{label(self.field)} must be checked",)

    def test(self, value: Any, record: Record, seen: dict[str, Any]) -> Problems:
        if is_true(value):
            return None
        return (f"{label(self.field)} must be checked (found {show(value)})",)


class DateOrderCheck(FieldCheck):
    """`before_field` / `after_field`: ISO dates or date-times in order (strictly, unless
    `allow_equal = true`). A date against a date-time compares calendar days (UTC)."""

    __slots__ = ("others", "allow_equal")
    kind = "date_order"

    def __init__(self, *, before: str | None, after: str | None, allow_equal: bool = False,
                 **common: Any) -> None:
        super().__init__(**common)
        self.others = tuple(
            (other, field_reader(other), direction)
            for other, direction in ((before, -1), (after, 1)) if other is not None
        )
        self.allow_equal = allow_equal

    def also_reads(self) -> set[str]:
        return {other for other, _, _ in self.others}

    def test(self, value: Any, record: Record, seen: dict[str, Any]) -> Problems:
        name = label(self.field or "")
        own = parse_date(value)
        if own is None:
            return (f"{name} {show(value)} is not a date (expected YYYY-MM-DD)",)
        problems = []
        for other, read, direction in self.others:
            other_value = read(record)
            seen[other] = other_value
            if is_empty(other_value):
                if not self.optional:
                    problems.append(f"{name} can't be checked: {label(other)} is missing")
                continue
            theirs = parse_date(other_value)
            if theirs is None:
                problems.append(f"{label(other)} {show(other_value)} is not a date "
                                "(expected YYYY-MM-DD)")
                continue
            order = compare_dates(own, theirs)
            if order == direction or (order == 0 and self.allow_equal):
                continue
            word = ("on or " if self.allow_equal else "") + ("before" if direction < 0 else "after")
            problems.append(f"{name} ({text(value)}) must be {word} {label(other)} "
                            f"({text(other_value)})")
        return tuple(problems) or None
