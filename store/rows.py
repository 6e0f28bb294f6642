"""What the store's read side returns: typed, frozen rows, decoded once here.

Callers (explain, preview, reports, backfill, the soak) read attributes, never column names or
JSON text; a stored record becomes a `Record` again through `StoredRecord.as_record`, the one
place that knows how.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from baton.core.actions import Action
from baton.core.records import Record
from baton.store.action_codec import action_from_dict

HELD = "held: "  # the basis of an evaluation that waits for a fresh lookup (engine.cycle)


@dataclass(frozen=True, slots=True)
class SourceState:
    """Where a source stands: its cursor, when its baseline was taken (None: never), a pause,
    and when its last complete poll was made durable (how fresh its snapshot is)."""

    cursor: str | None = None
    baseline_at: datetime | None = None
    paused_until: datetime | None = None
    polled_at: datetime | None = None

    @property
    def has_baseline(self) -> bool:
        return self.baseline_at is not None


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """The last known snapshot of one record (the `records` table)."""

    source: str
    record_id: str
    name: str
    status: str | None
    status_since: datetime | None
    owner: str | None
    url: str | None
    fingerprint: str
    fields: Mapping[str, Any]
    seen_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> StoredRecord:
        return cls(row.source, row.record_id, row.name, row.status, row.status_since, row.owner,
                   row.url, row.fingerprint, _json(row.fields_json, {}), row.seen_at)

    @property
    def owner_label(self) -> str:
        """The owner as a person reads it: the name the tool gave with the record (Asana's
        assignee name, Salesforce's Owner.Name when the source fetches it, a sheet's Owner
        column) and the tool's id; "unassigned" when there is none."""
        name = next((str(self.fields[key]) for key in ("assignee_name", "Owner.Name", "Owner",
                                                        "owner", "Owner email", "owner email")
                     if self.fields.get(key)), "")
        if not self.owner:
            return name or "unassigned"
        return f"{name} ({self.owner})" if name and name != self.owner else self.owner

    def as_record(self) -> Record:
        """The snapshot as a `Record`; its time is when it entered its status (else when seen)."""
        return Record(self.source, self.record_id, self.url or "", self.name, self.status,
                      self.owner, self.fields, self.status_since or self.seen_at, self.fingerprint)


@dataclass(frozen=True, slots=True)
class EvaluationRow:
    """One recorded gate verdict, with the failures and the values the gate saw."""

    id: int
    transition_key: str
    source: str
    record_id: str
    gate_id: str
    rule_version: str
    passed: bool
    failures: Sequence[Mapping[str, Any]]  # each {"check", "field", "message", ...}
    values: Mapping[str, Any]
    evaluated_at: datetime
    basis: str = ""  # see store.models.Evaluation
    mode: str = "enforce"  # "observe": a gate in shadow mode (it wrote nothing)

    @property
    def observed(self) -> bool:
        return self.mode == "observe"

    @property
    def held(self) -> bool:
        """Not decided yet: a cross-tool lookup's source was stale (`on_stale = "hold"`)."""
        return self.basis.startswith(HELD)

    @classmethod
    def from_row(cls, row: Any) -> EvaluationRow:
        failures = _json(row.failures_json, [])
        return cls(row.id, row.transition_key, row.source, row.record_id, row.gate_id,
                   row.rule_version, bool(row.passed),
                   tuple(f for f in failures if isinstance(f, dict)) if isinstance(failures, list)
                   else (), _json(row.values_json, {}), row.evaluated_at,
                   getattr(row, "values_basis", "") or "", getattr(row, "mode", "") or "enforce")


def values_at(record: Record, basis: str) -> dict[str, Any]:
    """What a transition keeps of the record (`transitions.values_json`)."""
    return {"name": record.name, "owner": record.owner, "url": record.url,
            "fields": dict(record.fields), "basis": basis}


@dataclass(frozen=True, slots=True)
class TransitionValues:
    """The record as Baton saw it for one transition: what `preview` replays a gate on."""

    name: str
    owner: str | None
    url: str
    fields: Mapping[str, Any]
    basis: str  # "": the record in that status; else which values (see store.models.Evaluation)

    @classmethod
    def from_json(cls, text: str | None) -> TransitionValues | None:
        value = _json(text, {}) if text else {}
        if not value:
            return None
        fields = value.get("fields")
        return cls(str(value.get("name") or ""), value.get("owner"), str(value.get("url") or ""),
                   fields if isinstance(fields, dict) else {}, str(value.get("basis") or ""))

    def as_record(self, source: str, record_id: str, status: str, at: datetime) -> Record:
        return Record(source, record_id, self.url, self.name, status, self.owner, self.fields, at)


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One write-back in the ledger, as `explain`, the tests and the soak read it."""

    key: str
    source: str
    record_id: str
    gate_id: str
    transition_key: str
    kind: str  # an ActionKind value, kept as text so rows of retired kinds still read
    state: str  # pending | done | failed
    attempts: int
    remote_id: str | None
    last_error: str | None
    created_at: datetime
    done_at: datetime | None
    action: Action  # what was (or is to be) written, as the planner made it

    @classmethod
    def from_row(cls, row: Any) -> LedgerRow:
        return cls(row.key, row.source, row.record_id, row.gate_id, row.transition_key, row.kind,
                   row.state, row.attempts, row.remote_id, row.last_error, row.created_at,
                   row.done_at, action_from_dict(json.loads(row.action_json)))


def _json(text: str | None, empty: Any) -> Any:
    """The store wrote this text; a value that does not decode reads as empty, not as a crash."""
    try:
        value = json.loads(text or "null")
    except (TypeError, ValueError):
        return empty
    return empty if value is None or type(value) is not type(empty) else value
