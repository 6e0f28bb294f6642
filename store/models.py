"""Values that go in and out of the state store."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from baton.core.actions import Action
from baton.core.records import FieldChange, Record, Transition


@dataclass(frozen=True, slots=True)
class KnownRecord:
    record_id: str
    status: str | None
    status_since: datetime | None
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    transition_key: str
    source: str
    record_id: str
    gate_id: str
    rule_version: str
    passed: bool
    failures: Sequence[Mapping[str, Any]]
    values: Mapping[str, Any]
    # "" : the record as it is, in the gated status; else which values a passed-through entry
    # was judged on ("values as of <time> from history", "current values; the record had moved on")
    basis: str = ""
    mode: str = "enforce"  # "observe": a gate in shadow mode, which wrote nothing


@dataclass(frozen=True, slots=True)
class OpenViolation:
    source: str
    record_id: str
    gate_id: str
    transition_key: str
    opened_at: datetime
    written: Sequence[tuple[str, str, str]]  # (ledger key, kind, remote id) of what it wrote


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    action: Action
    transition_key: str
    state: str
    attempts: int
    remote_id: str | None


@dataclass(frozen=True, slots=True)
class SlaTimer:
    key: str
    source: str
    record_id: str
    sla_id: str
    transition_key: str
    started_at: datetime
    deadline: datetime
    met_at: datetime | None = None
    closed_at: datetime | None = None
    breached: bool = False
    steps_fired: int = 0


@dataclass
class CycleWrite:
    """Everything one cycle makes durable, in one transaction, cursor last."""

    source: str
    cursor: str | None
    advance_cursor: bool
    records: Sequence[Record] = ()
    status_since: Mapping[str, datetime] = field(default_factory=dict)
    transitions: Sequence[Transition] = ()
    evaluations: Sequence[Evaluation] = ()
    opened: Sequence[tuple[str, str, str]] = ()  # (record_id, gate_id, transition_key)
    resolved: Sequence[tuple[str, str, str]] = ()  # (record_id, gate_id, resolving transition key)
    actions: Sequence[tuple[Action, str]] = ()  # (action, transition key) -> ledger, pending
    timers: Sequence[SlaTimer] = ()  # new or changed SLA timers
    # timer key -> steps_fired as this cycle read it: the commit claims those timers (refused if
    # another writer advanced one meanwhile), so an escalation step fires once
    timer_claims: Mapping[str, int] = field(default_factory=dict)
    owner_changes: Sequence[FieldChange] = ()  # from the tool's history (routing delay)
    baseline: bool = False
    # transition key -> the record as judged at that transition, and on which values ("" in
    # the status): kept with the transition so `preview` replays edited gates on them
    transition_values: Mapping[str, tuple[Record, str]] = field(default_factory=dict)
