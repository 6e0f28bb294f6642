"""Values that go in and out of the state store."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import Action, Record, TimeSource


def stable_key(*parts: object) -> str:
    """A short, stable hash of the parts: the identity of a transition or a ledger entry."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Transition:
    source: str
    record_id: str
    from_status: str | None
    to_status: str
    at: datetime
    time_source: TimeSource
    backfilled: bool = False

    @property
    def key(self) -> str:
        # `from` is left out on purpose: the same change seen once from history and once from a
        # poll is one transition, and the first sighting wins.
        return stable_key(self.source, self.record_id, self.to_status, self.at.isoformat())


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
    baseline: bool = False
