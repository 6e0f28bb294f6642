"""Reading a report's inputs out of the state store: the only module of `kpi` that touches it.

`compute_kpis` stays a pure function; this gathers what it needs in one place for the CLI and
turns the store's typed rows into the KPI engine's values.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from baton.core.kpi_settings import KpiSettings
from baton.core.records import FieldChange, Transition
from baton.store import EvaluationRow, SlaTimer, StateStore, StoredRecord

from .model import (
    CheckFailure,
    GateEvaluation,
    KpiInputs,
    OwnerChange,
    RecordSnapshot,
    parse_due,
    sla_outcomes_from_timers,
    utc,
)

_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)  # the owner before the first change told


def load_inputs(store: StateStore, workflows: Mapping[str, Sequence[str]], settings: KpiSettings,
                until: datetime | None = None, as_of: datetime | None = None) -> KpiInputs:
    """Everything up to `until` for the given sources (whole history: a stay or a first gate
    attempt may have started before the report's period). Sources: the workflows' keys plus
    the lead source and the delivery sources."""
    sources = sorted(set(workflows) | {settings.lead.source} | set(settings.delivery))
    transitions: list[Transition] = []
    evaluation_rows: list[EvaluationRow] = []
    timers: list[SlaTimer] = []
    records: list[RecordSnapshot] = []
    cut = utc(until) if until else None
    for source in sources:
        transitions.extend(store.transitions(source, until=cut))
        evaluation_rows.extend(store.evaluations(source))
        timers.extend(store.timers(source))
        delivery = settings.delivery.get(source)
        records.extend(snapshots(store.stored_records(source), delivery.due_field if delivery else "",
                                 settings.segment_fields))
    # Owner history where the tool's history told it (Salesforce's Owner rows); a lead source
    # without any keeps routing and rep delay n/a (owner_changes None), rather than guess from
    # today's owner.
    owners = owner_timeline(settings.lead.source, store.owner_changes(settings.lead.source))
    enforced = [row for row in evaluation_rows if not row.observed]
    shadow = [row for row in evaluation_rows if row.observed]  # kpi.shadow: apart from the KPIs
    return KpiInputs(transitions, gate_evaluations(enforced, transitions),
                     sla_outcomes_from_timers(timers), dict(workflows), records,
                     as_of or cut, owner_changes=owners or None,
                     shadow_evaluations=gate_evaluations(shadow, transitions))


def owner_timeline(source: str, changes: Iterable[FieldChange]) -> list[OwnerChange]:
    """Stored owner changes as "owner from `at` on": a record's first change also tells who
    owned it before (from the beginning); a Salesforce queue (00G…) is no person."""
    out: list[OwnerChange] = []
    seen: set[str] = set()
    for change in sorted(changes, key=lambda c: (c.record_id, utc(c.at))):
        if change.record_id not in seen and change.old:
            out.append(OwnerChange(source, change.record_id, _BEGINNING, str(change.old),
                                   _is_person(str(change.old))))
        seen.add(change.record_id)
        out.append(OwnerChange(source, change.record_id, utc(change.at), str(change.new),
                               _is_person(str(change.new))))
    return out


def _is_person(owner: str) -> bool:
    return not owner.startswith("00G")


def gate_evaluations(rows: Iterable[EvaluationRow],
                     transitions: Iterable[Transition] = ()) -> list[GateEvaluation]:
    """Stored verdicts as KPI values; the handoff time is the judged transition's. A held
    verdict (a cross-tool lookup waiting for a fresh snapshot) is no verdict yet: left out."""
    at_by_key = {t.key: t.at for t in transitions}
    return [GateEvaluation(
        source=row.source, record_id=row.record_id, gate_id=row.gate_id, passed=row.passed,
        at=at_by_key.get(row.transition_key) or row.evaluated_at,
        failures=tuple(CheckFailure(str(f.get("check", "")), str(f.get("field", "") or ""),
                                    str(f.get("message", "") or "")) for f in row.failures),
        transition_key=row.transition_key, rule_version=row.rule_version)
        for row in rows if not row.held]


def snapshots(rows: Iterable[StoredRecord], due_field: str = "",
              segment_fields: Sequence[str] = ()) -> list[RecordSnapshot]:
    """Stored records as report snapshots; an unreadable due date is None."""
    return [RecordSnapshot(row.source, row.record_id, row.name or "", row.owner,
                           parse_due(row.fields.get(due_field)) if due_field else None,
                           row.url or "",
                           {f: _segment(row.fields.get(f)) for f in segment_fields},
                           owner_label=row.owner_label)
            for row in rows]


def _segment(value: object) -> str:
    """A segment field's value as text: a picklist or text as is, a list joined, None empty."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return str(value.get("name") or value.get("display_value") or "")
    return str(value)
