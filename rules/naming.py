"""Naming templates: `{campaign}_{channel}_{asset}_v{n}_{yyyymmdd}` with per-part constraints.

A template is literal text and `{part}` placeholders. Each part may have one shape constraint
(`pattern`, `taxonomy`, `values` or `date`, a strftime format like "%Y%m%d") and `equals_field`
(the part must equal that record field, exactly). A part without a shape matches any non-empty
text; parts are told apart by the literal text between them. Part patterns match the whole part
(a leading `^` / trailing `$` is accepted and ignored).

When a name does not match, the messages say which part is wrong: first by trying the template
with one part relaxed at a time (exactly one part wrong), then by splitting the name at the
literals and checking every part; only when even the split fails is the whole name blamed
("The name 'x' must look like CMP-1234_email_hero-banner_v1_20261124").

Each template and relaxed template is one RE2 expression (rules.regex), so matching and blaming
take time linear in the name, however hostile (issue #11: a 6,000-character cell took 75 s on
Python's backtracking `re`).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from baton.core.records import Record

from .checks import FieldCheck, Problems, one_of
from .regex import Match, Regex, RegexError, UnsupportedRegex, compile_regex, escape, unsupported
from .templates import parse_template
from .values import FieldReader, field_reader, label, show, text

_DATE_DIRECTIVES = {
    "Y": (r"\d{4}", "YYYY"), "y": (r"\d{2}", "YY"), "m": (r"\d{2}", "MM"), "d": (r"\d{2}", "DD"),
    "H": (r"\d{2}", "hh"), "M": (r"\d{2}", "mm"), "S": (r"\d{2}", "ss"), "j": (r"\d{3}", "DDD"),
}
_ANY = ".+?"
_MAX_PARTS = 100
_P = tuple(f"p{index}" for index in range(_MAX_PARTS))  # the group of each part, by position


class NamingError(ValueError):
    """A template or part definition that cannot work; `key` is where (e.g. `parts.n.pattern`)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def date_regex(fmt: str) -> tuple[str, str]:
    """A regex and a human spelling ("YYYYMMDD") for a strftime format; raises ValueError."""
    regex, human, position = [], [], 0
    while position < len(fmt):
        char = fmt[position]
        if char == "%":
            directive = fmt[position + 1 : position + 2]
            if directive == "%":
                regex.append("%")
                human.append("%")
            elif directive in _DATE_DIRECTIVES:
                regex.append(_DATE_DIRECTIVES[directive][0])
                human.append(_DATE_DIRECTIVES[directive][1])
            else:
                raise ValueError(f"expected a date format using %Y %y %m %d %H %M %S %j, "
                                 f"found {'%' + directive!r} in {fmt!r}")
            position += 2
        else:
            regex.append(escape(char))
            human.append(char)
            position += 1
    return "".join(regex), "".join(human)


def strip_anchors(pattern: str) -> str:
    if pattern.startswith("^"):
        pattern = pattern[1:]
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1]
    return pattern


@dataclass(frozen=True, slots=True)
class NamePart:
    name: str
    label: str
    regex: str  # the fragment for the full template regex
    fits: Regex | None  # the part alone, for blaming; None: anything non-empty
    values: tuple[str, ...] = ()
    date_format: str | None = None
    date_human: str = ""
    equals_field: str | None = None
    read_equal: FieldReader | None = None
    example: str = ""

    def problem(self, part: str, noun: str) -> str | None:
        """What is wrong with this part on its own (shape only), or None."""
        if self.values and part not in self.values:
            return f"The {self.label} part {show(part)} of {noun} must be one of: {one_of(self.values)}"
        if self.date_format is not None:
            if self.fits is not None and self.fits.fullmatch(part) is None or not _is_date(
                part, self.date_format
            ):
                return (f"The {self.label} part {show(part)} of {noun} is not a valid date "
                        f"(expected {self.date_human})")
            return None
        if self.fits is not None and self.fits.fullmatch(part) is None:
            like = f"should look like {self.example}" if self.example else (
                f"does not match {self.fits.pattern}")
            return f"The {self.label} part {show(part)} of {noun} {like}"
        return None


_WIDTHS = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}


def _is_date(part: str, fmt: str) -> bool:
    """Whether `part` is a date in `fmt` (the part already matched the format's regex)."""
    check = _date_check(fmt)
    if check is not None and len(part) == check[0] and part.isascii():
        return check[1](part)
    try:
        datetime.strptime(part, fmt)
    except ValueError:
        return False
    return True


@functools.cache
def _date_check(fmt: str) -> tuple[int, Callable[[str], bool]] | None:
    """(length, test) for fixed-width formats of %Y %m %d %H %M %S, each at most once (the
    common "%Y%m%d"), reading the digits where the format puts them; None for the others,
    which go to strptime (~10x slower)."""
    position, length = 0, 0
    at: dict[str, int] = {}
    literals: list[tuple[str, int]] = []
    while position < len(fmt):
        if fmt[position] == "%":
            key = fmt[position + 1 : position + 2]
            if key not in _WIDTHS or key in at:
                return None
            at[key] = length
            length += _WIDTHS[key]
            position += 2
        else:
            literals.append((fmt[position], length))
            length += 1
            position += 1
    spans = {key: (start, start + _WIDTHS[key]) for key, start in at.items()}
    y, m, d = (spans.get(key) for key in "Ymd")
    limits = [(spans[key], limit) for key, limit in (("H", 23), ("M", 59), ("S", 59))
              if key in spans]  # what datetime.strptime accepts

    def test(part: str) -> bool:
        for char, offset in literals:
            if part[offset] != char:
                return False
        try:
            for (start, end), limit in limits:
                if int(part[start:end]) > limit:
                    return False
            date(int(part[y[0]:y[1]]) if y else 1900, int(part[m[0]:m[1]]) if m else 1,
                 int(part[d[0]:d[1]]) if d else 1)
        except ValueError:
            return False
        return True

    return length, test


class NamingTemplate:
    """A compiled naming convention; `problems(value, record, seen, noun)` says what is wrong."""

    __slots__ = ("name", "template", "example", "parts", "full", "relaxed", "shape")

    def __init__(self, name: str, template: str, parts: dict[str, dict[str, Any]],
                 taxonomies: dict[str, tuple[str, ...]], example: str | None = None) -> None:
        """`parts` maps part name → constraints (already type-checked); raises NamingError."""
        self.name = name
        self.template = template
        self.example = example
        try:
            segments = parse_template(template)
        except ValueError as error:
            raise NamingError("template", str(error)) from None
        names = [part for _, part in segments if part is not None]
        if not names:
            raise NamingError("template", f"expected at least one {{part}} in {template!r}")
        if len(names) > _MAX_PARTS:
            raise NamingError("template", f"expected at most {_MAX_PARTS} parts, found {len(names)}")
        for part in names:
            if names.count(part) > 1:
                raise NamingError("template", f"the part {{{part}}} appears twice in {template!r}")
        for part in parts:
            if part not in names:
                raise NamingError(f"parts.{part}", f"{part!r} is not a part of the template "
                                  f"{template!r} (its parts: {', '.join(names)})")
        built = {part: self._part(part, parts.get(part, {}), taxonomies) for part in names}
        self.parts = tuple(built[part] for part in names)
        literals = [escape(literal) for literal, _ in segments]

        def assemble(fragments: list[str]) -> Regex:
            body = "".join(
                literals[index] + (f"(?P<p{index}>{fragment})" if index < len(fragments) else "")
                for index, fragment in enumerate(fragments + [""])
            )
            return compile_regex(body, dotall=True)

        fragments = [part.regex for part in self.parts]
        try:
            self.full = assemble(fragments)
            self.relaxed = tuple(
                assemble(fragments[:index] + [_ANY] + fragments[index + 1:])
                for index in range(len(fragments))
            )
        except (RegexError, UnsupportedRegex) as error:
            raise NamingError("parts", f"the part patterns do not combine: {error}") from None
        self.shape = assemble([_ANY] * len(fragments))
        if example is not None:
            self._check_example(example)

    def _part(self, name: str, spec: dict[str, Any], taxonomies: dict[str, tuple[str, ...]]) -> NamePart:
        where = f"parts.{name}"
        shapes = [key for key in ("pattern", "taxonomy", "values", "date") if spec.get(key) is not None]
        if len(shapes) > 1:
            raise NamingError(where, f"expected one of pattern, taxonomy, values or date, found "
                              f"{' and '.join(shapes)}")
        equals_field = spec.get("equals_field")
        part_label = spec.get("label") or equals_field or name
        common: dict[str, Any] = {
            "name": name, "label": part_label, "equals_field": equals_field,
            "read_equal": field_reader(equals_field) if equals_field else None,
        }
        if spec.get("pattern") is not None:
            pattern = strip_anchors(spec["pattern"])
            try:
                fits = compile_regex(pattern)
            except RegexError as error:
                raise NamingError(f"{where}.pattern", f"expected a regular expression, found "
                                  f"{spec['pattern']!r}: {error}") from None
            except UnsupportedRegex as error:
                raise NamingError(f"{where}.pattern", unsupported(spec["pattern"], error)) from None
            return NamePart(regex=f"(?:{pattern})", fits=fits, **common)
        values: tuple[str, ...] = ()
        if spec.get("taxonomy") is not None:
            if spec["taxonomy"] not in taxonomies:
                raise NamingError(f"{where}.taxonomy", f"unknown taxonomy {spec['taxonomy']!r}; "
                                  f"defined: {', '.join(sorted(taxonomies)) or 'none'}")
            values = taxonomies[spec["taxonomy"]]
        elif spec.get("values") is not None:
            values = tuple(spec["values"])
        if values:
            alternatives = "|".join(escape(v) for v in sorted(values, key=len, reverse=True))
            return NamePart(regex=f"(?:{alternatives})", fits=None, values=values, **common)
        if spec.get("date") is not None:
            try:
                regex, human = date_regex(spec["date"])
            except ValueError as error:
                raise NamingError(f"{where}.date", str(error)) from None
            return NamePart(regex=f"(?:{regex})", fits=compile_regex(regex), date_format=spec["date"],
                            date_human=human, **common)
        return NamePart(regex=_ANY, fits=None, **common)

    def _check_example(self, example: str) -> None:
        match = self.full.fullmatch(example)
        problems = [] if match else list(self._blame(example, "the example")[1].values())
        if match:
            for index, part in enumerate(self.parts):
                found = part.problem(match.group(_P[index]), "the example")
                if found:
                    problems.append(found)
        if problems or not match:
            raise NamingError("example", f"expected an example following {self.template!r}, "
                              f"found {example!r}: " + "; ".join(problems or ["it does not fit"]))
        parts = [NamePart(**{**_fields(part), "example": match.group(_P[i])})
                 for i, part in enumerate(self.parts)]
        self.parts = tuple(parts)

    @property
    def fields(self) -> frozenset[str]:
        """The record fields parts must equal (`equals_field`)."""
        return frozenset(part.equals_field for part in self.parts if part.equals_field)

    def problems(self, value: str, record: Record, seen: dict[str, Any], noun: str) -> Problems:
        """Everything wrong with `value` as a name following this template, or None."""
        match = self.full.fullmatch(value)
        if match is not None:
            wrong = {
                index: part.problem(match.group(_P[index]), noun) or ""
                for index, part in enumerate(self.parts)
                if part.date_format is not None
                and not _is_date(match.group(_P[index]), part.date_format)
            }
        else:
            match, wrong = self._blame(value, noun)
            if match is None:
                like = self.example or self.template
                return (f"{noun[0].upper()}{noun[1:]} {show(value)} must look like {like}",)
        problems = []
        for index, part in enumerate(self.parts):
            if index in wrong:
                problems.append(wrong[index])
            elif part.equals_field is not None and part.read_equal is not None:
                found = match.group(_P[index])
                expected = part.read_equal(record)
                seen[part.equals_field] = expected
                if found == text(expected):
                    continue
                field_name = label(part.equals_field)
                if not text(expected):
                    problems.append(f"The {part.label} part {show(found)} of {noun} can't be "
                                    f"checked: {field_name} is missing")
                else:
                    problems.append(f"The {part.label} part {show(found)} of {noun} must equal "
                                    f"the {field_name} field {show(expected)}")
        return tuple(problems) or None

    def _blame(self, value: str, noun: str) -> tuple[Match | None, dict[int, str]]:
        """Split a name that does not match into its parts and say which are wrong."""
        for index, relaxed in enumerate(self.relaxed):
            match = relaxed.fullmatch(value)
            if match is not None:
                found = self.parts[index].problem(match.group(_P[index]), noun)
                if found:
                    return match, {index: found}
        match = self.shape.fullmatch(value)
        if match is None:
            return None, {}
        wrong = {
            index: problem for index, part in enumerate(self.parts)
            if (problem := part.problem(match.group(_P[index]), noun))
        }
        return (match, wrong) if wrong else (None, {})


def _fields(part: NamePart) -> dict[str, Any]:
    return {name: getattr(part, name) for name in NamePart.__slots__}


class NamingCheck(FieldCheck):
    """`naming = "asset-name"`: the field (usually `name`) follows a naming template."""

    __slots__ = ("template",)
    kind = "naming"

    def __init__(self, *, template: NamingTemplate, **common: Any) -> None:
        super().__init__(**common)
        self.template = template

    def also_reads(self) -> set[str]:
        return set(self.template.fields)

    def test(self, value: Any, record: Record, seen: dict[str, Any]) -> Problems:
        noun = "the name" if self.field == "name" else f"the {label(self.field)}"
        return self.template.problems(text(value), record, seen, noun)
