"""Reading a report's inputs out of the state store: the only module of `kpi` that touches it.

`compute_kpis` stays a pure function; this gathers what it needs in one place for the CLI.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from baton.store.models import SlaTimer
from baton.core.records import Transition
from baton.store.state import StateStore

from .model import (
    KpiInputs,
    RecordSnapshot,
    evaluations_from_rows,
    records_from_rows,
    sla_outcomes_from_timers,
    utc,
)
from baton.core.kpi_settings import KpiSettings


def load_inputs(store: StateStore, workflows: Mapping[str, Sequence[str]], settings: KpiSettings,
                until: datetime | None = None, as_of: datetime | None = None) -> KpiInputs:
    """Everything up to `until` for the given sources (whole history: a stay or a first gate
    attempt may have started before the report's period). Sources: the workflows' keys plus
    the lead source and the delivery sources."""
    sources = sorted(set(workflows) | {settings.lead.source} | set(settings.delivery))
    transitions: list[Transition] = []
    evaluation_rows: list[dict[str, Any]] = []
    timers: list[SlaTimer] = []
    records: list[RecordSnapshot] = []
    cut = utc(until) if until else None
    for source in sources:
        transitions.extend(store.transitions(source, until=cut))
        evaluation_rows.extend(store.evaluations(source))
        timers.extend(store.timers(source))
        delivery = settings.delivery.get(source)
        records.extend(records_from_rows(source, store.stored_records(source),
                                         delivery.due_field if delivery else ""))
    return KpiInputs(transitions, evaluations_from_rows(evaluation_rows, transitions),
                     sla_outcomes_from_timers(timers), dict(workflows), records,
                     as_of or cut)
