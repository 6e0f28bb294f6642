"""The other sources as cross-tool checks see them: Baton's stored snapshots, not the live tools.

`SnapshotIndexes` keeps, across cycles, an index of a source's snapshot by the key a lookup
uses: built from the state store at its first use, then brought up to date at most once per
cycle with the records stored since (one small query). `SnapshotLookups` serves one cycle over
them: every check is a dict lookup, so a cross-tool check costs no API call and about what a
same-tool check costs. A source's snapshot is fresh when its last complete poll is at most
`allowed` old (twice its interval: one late poll is normal) and its polling is not failing
(`failing`, from the runner's health) nor paused.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from baton.core.config import Config
from baton.core.records import Record
from baton.engine.entries import MOVED_ON, Entry
from baton.rules import Freshness, LookupCheck, RuleSet
from baton.rules.values import items
from baton.store import StateStore

STALE_AFTER_INTERVALS = 2


def allowed_ages(config: Config) -> dict[str, timedelta]:
    """How old each configured source's snapshot may be before lookups call it stale."""
    return {source.id: timedelta(seconds=STALE_AFTER_INTERVALS * config.interval_for(source))
            for source in config.source}


@dataclass
class _Index:
    by_value: dict[str, list[Record]] = field(default_factory=dict)
    values_of: dict[str, tuple[str, ...]] = field(default_factory=dict)  # record id → its keys
    read_to: datetime | None = None  # the newest time a record read was stored at


class SnapshotIndexes:
    """Indexes of other sources' snapshots by a key, kept across cycles (one per runner)."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._indexes: dict[tuple[str, str, bool], _Index] = {}
        self._lock = threading.Lock()  # the runner's tool threads share these
        self.rows_read = 0  # snapshot rows read from the store, for tests and benchmarks

    def current(self, source: str, key: str, ignore_case: bool) -> dict[str, list[Record]]:
        """The index, brought up to date with what the store holds now: at its first use the
        whole snapshot, later only the records stored after the newest one read. A source's
        records are stored at its cycle's start time, and its cycles follow one another, so a
        later store of that source has a later time (a lookup reads only a snapshot whose
        baseline is complete: `freshness` first)."""
        with self._lock:
            index = self._indexes.setdefault((source, key, ignore_case), _Index())
            for stored in self._store.stored_records(source, seen_after=index.read_to):
                self.rows_read += 1
                self._put(index, stored.as_record(), key, ignore_case)
                if index.read_to is None or stored.seen_at > index.read_to:
                    index.read_to = stored.seen_at
            return index.by_value

    @staticmethod
    def _put(index: _Index, record: Record, key: str, ignore_case: bool) -> None:
        for old in index.values_of.get(record.id, ()):
            kept = [r for r in index.by_value[old] if r.id != record.id]
            if kept:
                index.by_value[old] = kept
            else:
                del index.by_value[old]
        value = (record.id if key == "id" else record.name if key == "name"
                 else record.status if key == "status" else record.fields.get(key))
        parts = tuple(dict.fromkeys(p.casefold() if ignore_case else p for p in items(value)))
        for part in parts:
            index.by_value.setdefault(part, []).append(record)
        index.values_of[record.id] = parts


class SnapshotLookups:
    """`rules.Lookups` over the state store, for one cycle at `now`."""

    def __init__(self, store: StateStore, now: datetime, allowed: Mapping[str, timedelta],
                 failing: Mapping[str, str] | None = None,
                 indexes: SnapshotIndexes | None = None) -> None:
        self._store = store
        self._now = now
        self._allowed = allowed
        self._failing = failing or {}
        self._shared = indexes or SnapshotIndexes(store)
        self._freshness: dict[str, Freshness] = {}
        self._indexes: dict[tuple[str, str, bool], dict[str, list[Record]]] = {}

    def freshness(self, source: str) -> Freshness:
        known = self._freshness.get(source)
        if known is None:
            known = self._freshness[source] = self._judge(source)
        return known

    def matches(self, source: str, key: str, value: str, ignore_case: bool) -> Sequence[Record]:
        index = self._indexes.get((source, key, ignore_case))
        if index is None:  # the first lookup of this cycle: bring the shared index up to date
            index = self._indexes[(source, key, ignore_case)] = self._shared.current(
                source, key, ignore_case)
        return index.get(value.casefold() if ignore_case else value, ())

    def _judge(self, source: str) -> Freshness:
        allowed = self._allowed.get(source)
        if allowed is None:
            return Freshness(False, f"{source} is not a source this Baton polls")
        state = self._store.source_state(source)
        if state.polled_at is None:
            return Freshness(False, f"Baton has not read {source} yet")
        if state.paused_until is not None and self._now < state.paused_until:
            return Freshness(False, f"polling {source} is paused until "
                                    f"{state.paused_until:%Y-%m-%d %H:%M} UTC")
        if source in self._failing:
            return Freshness(False, f"polling {source} is failing ({self._failing[source]}); "
                                    f"Baton's copy is from {state.polled_at:%Y-%m-%d %H:%M} UTC")
        age = self._now - state.polled_at
        if age > allowed:
            return Freshness(False, f"Baton's copy of {source} is {_span(age)} old (its polling "
                                    f"allows {_span(allowed)})")
        return Freshness(True)


def _span(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def held_entries(source_id: str, rules: RuleSet, store: StateStore,
                 polled: Sequence[Record]) -> list[tuple[Entry, str]]:
    """Entries whose gate waits on a stale lookup source (`on_stale = "hold"`), with that
    gate, to be judged again: on the record's latest values (this poll's, else the stored
    snapshot). Read only where a gate of this source can hold."""
    if not any(isinstance(check, LookupCheck) and check.on_stale == "hold"
               for gate in rules.gates if gate.source == source_id for check in gate.checks):
        return []
    held = store.held_evaluations(source_id)
    if not held:
        return []
    transitions = store.transitions_by_key(list({e.transition_key for e in held}))
    records = store.records_by_id(source_id, list({e.record_id for e in held}))
    records.update({r.id: r for r in polled})
    out = []
    for evaluation in held:
        transition = transitions.get(evaluation.transition_key)
        record = records.get(evaluation.record_id)
        if transition is None or record is None:
            continue
        there = record.status == transition.to_status
        out.append((Entry(record, transition, there, "" if there else MOVED_ON),
                    evaluation.gate_id))
    return out
