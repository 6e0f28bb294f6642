"""UTM taxonomies: what the query string of a campaign link must carry.

```toml
[utm.campaign-links]
required = ["utm_source", "utm_medium", "utm_campaign"]
lowercase = true        # every utm_* name and value in lower case
no_duplicates = true    # a parameter given twice is a failure

[utm.campaign-links.params.utm_source]
taxonomy = "utm-source"             # or values = [...], or pattern = '...'

[utm.campaign-links.params.utm_campaign]
pattern = 'cmp-(?P<number>\\d{4})-[a-z0-9-]+'
example = "cmp-1234-spring-launch"
# the pattern's group `number` must equal the same group of the Campaign ID field:
group_equals = { number = { field = "Campaign ID", pattern = 'CMP-(?P<number>\\d{4})' } }
# or the group must equal the whole field value: group_equals = { number = "Campaign ID" }
```

Patterns match the whole value. `group_equals` compares ignoring case (UTM values are lower
case by convention, IDs often are not). Parameters not declared are allowed (gclid, fbclid…).
Any string is safe to check: a malformed URL is a failure with a message, never an exception.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from baton.core.records import Record

from .checks import FieldCheck, Problems, one_of
from .regex import Regex
from .values import FieldReader, label, show, text

_BAD_URL_CHARS = re.compile(r"[\s\x00-\x1f\x7f<>\"{}|\\^`]")


@dataclass(frozen=True, slots=True)
class GroupEquals:
    """A named group of a parameter's pattern that must equal (part of) a record field."""

    group: str
    field: str
    read: FieldReader
    field_pattern: Regex | None = None  # its group `group` (or group 1) is compared


@dataclass(frozen=True, slots=True)
class UtmParam:
    name: str
    values: tuple[str, ...] = ()
    pattern: Regex | None = None
    example: str | None = None
    group_equals: tuple[GroupEquals, ...] = ()
    accepted: frozenset[str] = frozenset()  # `values` as a set, for the hot path

    def __post_init__(self) -> None:
        object.__setattr__(self, "accepted", frozenset(self.values))


@dataclass(frozen=True, slots=True)
class UtmTaxonomy:
    name: str
    required: tuple[str, ...] = ()
    lowercase: bool = False
    no_duplicates: bool = False
    params: tuple[UtmParam, ...] = ()
    description: str = ""

    @property
    def fields(self) -> frozenset[str]:
        """The record fields pattern groups must equal (`group_equals`)."""
        return frozenset(rule.field for param in self.params for rule in param.group_equals)

    def problems(self, url: str, record: Record, seen: dict[str, Any], noun: str) -> Problems:
        """Everything wrong with `url` under this taxonomy, or None. Never raises."""
        query = _query(url)
        if query is None:
            return (f"{noun} {show(url)} is not a valid web address (expected https://…)",)
        found = _parameters(query)
        problems: list[str] = []
        missing = [param for param in self.required
                   if not any(value.strip() for value in found.get(param) or ())]
        if missing:
            problems.append(f"{noun} is missing {', '.join(missing)}")
        if self.no_duplicates:
            problems.extend(
                f"{key} appears {len(values)} times in {noun}"
                for key, values in found.items() if len(values) > 1
            )
        shouted: set[str] = set()
        if self.lowercase:
            for key, values in found.items():
                lowered = key.lower()
                if not lowered.startswith("utm_"):
                    continue
                if key != lowered:
                    problems.append(f"The parameter name {show(key)} in {noun} must be lowercase")
                    shouted.add(key)
                    continue
                for value in values:
                    if value != value.lower():
                        problems.append(f"{key} {show(values[0])} in {noun} must be lowercase")
                        shouted.add(key)
                        break
        for param in self.params:
            given = found.get(param.name)
            if not given or param.name in shouted or not given[0].strip():
                continue
            problems.extend(self._param_problems(param, given[0].strip(), record, seen, noun))
        return tuple(problems) or None

    def _param_problems(self, param: UtmParam, value: str, record: Record,
                        seen: dict[str, Any], noun: str) -> list[str]:
        if param.accepted and value not in param.accepted:
            return [f"{param.name} {show(value)} in {noun} must be one of: {one_of(param.values)}"]
        if param.pattern is None:
            return []
        match = param.pattern.fullmatch(value)
        if match is None:
            like = f"should look like {param.example}" if param.example else (
                f"does not match {param.pattern.pattern}")
            return [f"{param.name} {show(value)} in {noun} {like}"]
        problems = []
        for rule in param.group_equals:
            part = match.group(rule.group) or ""
            field_value = rule.read(record)
            seen[rule.field] = field_value
            wanted = text(field_value)
            if not wanted:
                problems.append(f"The {rule.group} in {param.name} {show(value)} can't be checked: "
                                f"{label(rule.field)} is missing")
                continue
            if rule.field_pattern is not None:
                field_match = rule.field_pattern.fullmatch(wanted)
                if field_match is None:
                    problems.append(f"The {rule.group} in {param.name} {show(value)} can't be "
                                    f"checked: {label(rule.field)} {show(wanted)} is not in the "
                                    f"expected format")
                    continue
                groups = field_match.groupdict()
                wanted = groups.get(rule.group) or (
                    field_match.group(1) if field_match.re.groups else field_match.group(0)) or ""
            if part.casefold() != wanted.casefold():
                problems.append(f"The {rule.group} in {param.name} {show(value)} ({part}) must match "
                                f"the {label(rule.field)} {show(field_value)}")
        return problems


def _parameters(query: str) -> dict[str, list[str]]:
    """name → values, decoded like a browser would (`+` is a space, `%xx` escapes)."""
    found: dict[str, list[str]] = {}
    for piece in query.split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        if "%" in piece or "+" in piece:
            key, value = unquote_plus(key), unquote_plus(value)
        found.setdefault(key, []).append(value)
    return found


def _query(url: str) -> str | None:
    """The query string of an http(s) URL, or None when `url` is not one."""
    if _BAD_URL_CHARS.search(url):
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return parts.query


class UtmCheck(FieldCheck):
    """`utm = "campaign-links"`: the URL field follows a UTM taxonomy."""

    __slots__ = ("taxonomy",)
    kind = "utm"

    def __init__(self, *, taxonomy: UtmTaxonomy, **common: Any) -> None:
        super().__init__(**common)
        self.taxonomy = taxonomy

    def also_reads(self) -> set[str]:
        return set(self.taxonomy.fields)

    def test(self, value: Any, record: Record, seen: dict[str, Any]) -> Problems:
        return self.taxonomy.problems(text(value), record, seen, label(self.field))
