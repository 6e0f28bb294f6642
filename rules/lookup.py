"""Cross-tool checks: a value of this record looked up in Baton's snapshot of another source.

    { field = "Campaign ID", lookup = { source = "salesforce:campaigns", key = "Code__c",
      name = "Salesforce Campaign", require = { Status = ["Planned", "In Progress"] },
      filled = ["UTM_Source__c"], equal = { Code__c = "utm_campaign" }, on_stale = "hold" } }

The check passes when some record of `source` has `key` equal to this record's `field` (text,
stripped; `ignore_case = true` to fold case) and meets every `require` (field → allowed
values), `filled` (non-empty) and `equal` (their field = this record's field). It reads the
state store's latest snapshot of the other source through a `Lookups` the engine hands in
(engine.lookups): no API call per check. When that snapshot is stale or its source is failing,
`on_stale` decides: "fail" (the default: the failure says why), "pass" (the check passes and
`values seen` says it was not checked), or "hold" (the gate decides nothing yet: engine.cycle
judges the entry again once the snapshot is fresh; see rules/README.md).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from baton.core.records import Record

from .checks import FieldCheck, Problems, one_of
from .values import field_reader, is_empty, items, label, show, text

OnStale = Literal["fail", "pass", "hold"]
LOOKED_UP = " → "  # "Campaign ID → salesforce:campaigns": what a lookup saw, in `values seen`


@dataclass(frozen=True, slots=True)
class Freshness:
    """Whether a source's snapshot may be trusted now; `note` says why not, in plain words."""

    fresh: bool
    note: str = ""


class Lookups(Protocol):
    """What a cross-tool check may ask of the other sources' snapshots (engine.lookups)."""

    def freshness(self, source: str) -> Freshness: ...

    def matches(self, source: str, key: str, value: str, ignore_case: bool) -> Sequence[Record]:
        """The records of `source` whose `key` (a field, or "id"/"name") is `value`."""
        ...


class NoLookups:
    """Where no snapshot is at hand (a unit test of a rule, a replay without a store)."""

    def freshness(self, source: str) -> Freshness:
        return Freshness(False, f"no snapshot of {source} was given to this evaluation")

    def matches(self, source: str, key: str, value: str, ignore_case: bool) -> Sequence[Record]:
        return ()


NO_LOOKUPS = NoLookups()


class LookupCheck(FieldCheck):
    """`lookup = { source, key, ... }`: the value names a record of another source."""

    __slots__ = ("source", "key", "what", "require", "filled", "equal", "on_stale", "seen_as",
                 "ignore_case")
    kind = "lookup"

    def __init__(self, *, source: str, key: str, what: str | None = None,
                 require: Mapping[str, Iterable[Any]] | None = None,
                 filled: Iterable[str] = (), equal: Mapping[str, str] | None = None,
                 on_stale: OnStale = "fail", ignore_case: bool = False, **common: Any) -> None:
        super().__init__(**common)
        self.source = source
        self.key = key
        self.what = what or f"record of {source}"
        self.require = tuple((name, field_reader(name), tuple(text(v) for v in values))
                             for name, values in (require or {}).items())
        self.filled = tuple((name, field_reader(name)) for name in filled)
        self.equal = tuple((theirs, field_reader(theirs), ours, field_reader(ours))
                           for theirs, ours in (equal or {}).items())
        self.on_stale = on_stale
        self.ignore_case = ignore_case
        self.seen_as = f"{self.field}{LOOKED_UP}{source}"  # its entry in `values seen`

    def also_reads(self) -> set[str]:
        return {ours for _, _, ours, _ in self.equal}  # this record's; the others are theirs

    @property
    def their_fields(self) -> frozenset[str]:
        """The fields of the looked-up source this check reads (for `baton check`/`doctor`)."""
        return frozenset({self.key, *(n for n, _, _ in self.require), *(n for n, _ in self.filled),
                          *(theirs for theirs, _, _, _ in self.equal)})

    def run(self, record: Record, seen: dict[str, Any],
            lookups: Lookups = NO_LOOKUPS) -> Problems:
        return self.judge(record, seen, lookups)[0]

    def judge(self, record: Record, seen: dict[str, Any],
              lookups: Lookups) -> tuple[Problems, bool]:
        """(what is wrong, whether the gate should wait): True only for a stale or failing
        source under `on_stale = "hold"`."""
        when = self.when
        if when is not None and not when.holds(record, seen):
            return None, False
        value = self.read(record)
        seen[self.field] = value
        parts = items(value)
        if not parts:
            return (None if self.optional else self._own(
                (f"{label(self.field)} is missing",), record, value)), False
        freshness = lookups.freshness(self.source)
        if not freshness.fresh:
            return self._stale(value, freshness.note, seen), self.on_stale == "hold"
        problems: list[str] = []
        for part in parts:
            found = lookups.matches(self.source, self.key, part, self.ignore_case)
            for other in found:  # the hot path: usually one record, which qualifies
                if self._meets(other, record):
                    seen[self.seen_as] = _looked_up(other)
                    break
            else:
                problems.extend(self._one(part, found, record, seen))
        return (self._own(tuple(problems), record, value) if problems else None), False

    def test(self, value: Any, record: Record, seen: dict[str, Any]) -> Problems:
        return self.run(record, seen)

    def _meets(self, other: Record, record: Record) -> bool:
        """Whether `other` meets every requirement (`_qualifies` says how it does not)."""
        for _, read, allowed in self.require:
            if text(read(other)) not in allowed:
                return False
        for _, read in self.filled:
            if is_empty(read(other)):
                return False
        return not self.equal or not self._qualifies(other, record)

    def _one(self, part: str, found: Sequence[Record], record: Record,
             seen: dict[str, Any]) -> list[str]:
        """What is wrong when no record found for `part` qualifies (a key that is not unique:
        any one that qualifies would have done); the first one found is named."""
        if not found:
            seen[self.seen_as] = f"no record with {self.key} = {part!r}"
            return [f"{label(self.field)} {show(part)} matches no {self.what} "
                    f"(none has {label(self.key)} {show(part)})"]
        first = found[0]
        seen[self.seen_as] = _looked_up(first)
        return [f"{self.what} {show(first.name or first.id)} ({first.id}, for "
                f"{label(self.field)} {show(part)}): {problem}"
                for problem in self._qualifies(first, record)]

    def _qualifies(self, other: Record, record: Record) -> list[str]:
        problems = []
        for name, read, allowed in self.require:
            got = text(read(other))
            if got not in allowed:
                problems.append(f"{label(name)} is {show(got)}, expected "
                                + (allowed[0] if len(allowed) == 1 else f"one of: {one_of(allowed)}"))
        problems += [f"{label(name)} is missing" for name, read in self.filled
                     if is_empty(read(other))]
        for theirs, read_theirs, ours, read_ours in self.equal:
            left, right = text(read_theirs(other)), text(read_ours(record))
            if (left.casefold() != right.casefold()) if self.ignore_case else left != right:
                problems.append(f"{label(theirs)} {show(left)} differs from "
                                f"{label(ours)} {show(right)} here")
        return problems

    def _stale(self, value: Any, note: str, seen: dict[str, Any]) -> Problems:
        seen[self.seen_as] = f"not looked up (on_stale = {self.on_stale}): {note}"
        if self.on_stale == "pass":
            return None
        why = (f"{label(self.field)} {show(value)} could not be checked against {self.what}: "
               f"{note}")
        if self.on_stale == "hold":
            return (why + "; Baton decides once its copy is fresh (on_stale = hold)",)
        return (why,)

    def _own(self, problems: tuple[str, ...], record: Record, value: Any) -> Problems:
        return (self.custom_message(record, value),) if self.message is not None else problems


def _looked_up(other: Record) -> str:
    return f"{other.source} {other.id} {other.name!r}"
