"""The context the observe functions share: the inputs, each record's transition log up to the
as-of time, the record snapshots, memoised intermediate results and the report's notes.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from baton.core.kpi_settings import KpiSettings
from baton.core.records import TimeSource, Transition

from .model import KpiInputs, Period, RecordSnapshot, utc


@dataclass
class Context:
    inputs: KpiInputs
    period: Period
    settings: KpiSettings
    as_of: datetime
    by_record: dict[tuple[str, str], list[Transition]]
    records: dict[tuple[str, str], RecordSnapshot]
    notes: dict[str, str] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict)

    def memo(self, function: Callable[[Context], Any]) -> Any:
        if function not in self._memo:
            self._memo[function] = function(self)
        return self._memo[function]

    def note(self, key: str, count: int, text: str) -> None:
        """A sentence for the report about what was left out (only when something was)."""
        if count:
            self.notes[key] = text.format(n=count)


def build_context(inputs: KpiInputs, period: Period, settings: KpiSettings) -> Context:
    as_of = utc(inputs.as_of) if inputs.as_of else period.end
    by_record: dict[tuple[str, str], list[Transition]] = defaultdict(list)
    for t in inputs.transitions:
        if utc(t.at) < as_of:
            by_record[(t.source, t.record_id)].append(t)
    for log in by_record.values():
        log.sort(key=lambda t: utc(t.at))  # stable: ties keep the store's (at, key) order
    records = {(r.source, r.record_id): r for r in inputs.records}
    return Context(inputs, period, settings, as_of, dict(by_record), records)


def start_known(t: Transition) -> bool:
    """Whether a transition dates the start of its status (see "Missing history")."""
    return t.from_status is not None or t.time_source == TimeSource.HISTORY


def hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60
