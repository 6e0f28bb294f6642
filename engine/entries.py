"""Every entry into a status, as a gate judges it: also the ones the record has already left.

A lead that goes Open → MQL → Working between two polls entered MQL once: the MQL gate runs on
that entry too. The record is judged on the values it had when it entered where the tool's
history tells them (changes after the entry are rolled back), on its current values otherwise,
and the evaluation says which (`basis`). Only an entry into the status the record is still in
may bounce it back (planner: `still_there`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from baton.core.records import FieldChange, Record, Transition
from baton.engine.transitions import Observed

MOVED_ON = "current values; the record had moved on"


@dataclass(frozen=True, slots=True)
class Entry:
    """One fresh transition into a status, with the record as the gate sees it."""

    record: Record  # the values judged (as of the entry where history has them)
    transition: Transition
    still_there: bool  # the record is in this status now
    basis: str = ""  # "" (the record as it is now) | "values as of … from history" | MOVED_ON


def fresh_entries(observed: Sequence[Observed], fresh: set[str],
                  gated: Callable[[Transition], bool]) -> list[Entry]:
    """Fresh transitions, oldest first per record; those into a gated status the record has
    left are marked for `with_values_at_entry`."""
    out = []
    for o in observed:
        for index, t in enumerate(o.transitions):
            if t.key not in fresh:
                continue
            still = index == len(o.transitions) - 1 and o.record.status == t.to_status
            out.append(Entry(o.record, t, still, "" if still or not gated(t) else MOVED_ON))
    return out


def passed_through(entries: Sequence[Entry]) -> tuple[list[str], datetime | None]:
    """Record ids whose field history is wanted, and the earliest entry time."""
    moved = [e for e in entries if e.basis]
    return (list(dict.fromkeys(e.record.id for e in moved)),
            min((e.transition.at for e in moved), default=None))


def with_values_at_entry(entries: Sequence[Entry],
                         history: Mapping[str, Sequence[FieldChange]]) -> list[Entry]:
    """Passed-through entries judged on the values they had, where history has the record."""
    out = []
    for entry in entries:
        changes = history.get(entry.record.id)
        if not entry.basis or changes is None:
            out.append(entry)
            continue
        at = entry.transition.at
        out.append(replace(entry, record=values_as_of(entry.record, changes, at),
                           basis=f"values as of {at:%Y-%m-%d %H:%M:%S} UTC from history"))
    return out


def values_as_of(record: Record, changes: Sequence[FieldChange], at: datetime) -> Record:
    """The record with every change made after `at` undone, newest first."""
    fields = dict(record.fields)
    for change in sorted((c for c in changes if c.at > at), key=lambda c: c.at, reverse=True):
        fields[change.field] = change.old
    return replace(record, fields=fields)
