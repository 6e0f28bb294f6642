"""The other sources as cross-tool checks see them: Baton's stored snapshots, not the live tools.

`SnapshotLookups` serves one cycle. The first lookup into a (source, key) reads that source's
snapshot from the state store once and indexes it by the key; every later check of the cycle is
a dict lookup, so a cross-tool check costs no API call and about what a same-tool check costs.
A source's snapshot is fresh when its last complete poll is at most `allowed` old (twice its
interval: one late poll is normal) and its polling is not failing (`failing`, from the runner's
health) nor paused.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
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


class SnapshotLookups:
    """`rules.Lookups` over the state store, for one cycle at `now`."""

    def __init__(self, store: StateStore, now: datetime, allowed: Mapping[str, timedelta],
                 failing: Mapping[str, str] | None = None) -> None:
        self._store = store
        self._now = now
        self._allowed = allowed
        self._failing = failing or {}
        self._freshness: dict[str, Freshness] = {}
        self._indexes: dict[tuple[str, str, bool], dict[str, list[Record]]] = {}
        self.snapshot_reads = 0  # store reads of whole snapshots (one per source and key)

    def freshness(self, source: str) -> Freshness:
        known = self._freshness.get(source)
        if known is None:
            known = self._freshness[source] = self._judge(source)
        return known

    def matches(self, source: str, key: str, value: str, ignore_case: bool) -> Sequence[Record]:
        index = self._indexes.get((source, key, ignore_case))
        if index is None:
            index = self._indexes[(source, key, ignore_case)] = self._index(source, key, ignore_case)
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

    def _index(self, source: str, key: str, ignore_case: bool) -> dict[str, list[Record]]:
        self.snapshot_reads += 1
        index: dict[str, list[Record]] = {}
        for stored in self._store.stored_records(source):
            record = stored.as_record()
            value = (record.id if key == "id" else record.name if key == "name"
                     else record.status if key == "status" else record.fields.get(key))
            for part in items(value):
                index.setdefault(part.casefold() if ignore_case else part, []).append(record)
        return index


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
