"""The plain values the KPI engine reads and writes. No store access here.

Inputs are built by the caller (the CLI reads the store, SLA timers produce `SlaOutcome`s);
the helpers `evaluations_from_rows` and `records_from_rows` turn the store's dicts into values.
All times are timezone-aware UTC; naive datetimes are rejected so that a local clock can never
shift a week or a deadline.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from baton.core.kpi_settings import KpiSettings
from baton.store.models import SlaTimer
from baton.core.records import Transition


def utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is a bug in the caller."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: KPI times must be timezone-aware")
    return value.astimezone(UTC)


def iso_week(value: datetime) -> str:
    """The ISO week of an instant, in UTC: '2025-W01' (2024-12-30 is in 2025-W01)."""
    return _week_of(utc(value).date())


@lru_cache(maxsize=8192)
def _week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open interval [start, end) in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start))
        object.__setattr__(self, "end", utc(self.end))
        if self.end <= self.start:
            raise ValueError("a period must end after it starts")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return cls(start, end)

    @classmethod
    def last_month(cls, now: datetime) -> Period:
        """The calendar month before the one `now` is in (the monthly audit's period)."""
        first = utc(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        previous = first - timedelta(days=1)
        return cls.month(previous.year, previous.month)

    @classmethod
    def last_days(cls, now: datetime, days: int) -> Period:
        end = utc(now)
        return cls(end - timedelta(days=days), end)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, datetime) and self.start <= utc(value) < self.end

    def weeks(self) -> list[str]:
        """Every ISO week the period touches, in order (first and last may be partial)."""
        found: list[str] = []
        day = self.start
        while day < self.end:
            label = iso_week(day)
            if not found or found[-1] != label:
                found.append(label)
            day += timedelta(days=1)
        last = iso_week(self.end - timedelta(microseconds=1))
        if found[-1] != last:
            found.append(last)
        return found

    def label(self) -> str:
        end = self.end - timedelta(microseconds=1)
        return f"{self.start.date().isoformat()} – {end.date().isoformat()}"


@dataclass(frozen=True, slots=True)
class CheckFailure:
    check: str
    field: str
    message: str

    def describe(self) -> str:
        """What was missing, in the team's words when the rule had a message."""
        return self.message or (f"{self.field}: {self.check}" if self.field else self.check)


@dataclass(frozen=True, slots=True)
class GateEvaluation:
    """One gate entry: a record entered a gated status and the gate was evaluated."""

    source: str
    record_id: str
    gate_id: str
    passed: bool
    at: datetime  # when the handoff happened: the judged transition's time, else evaluated_at
    failures: tuple[CheckFailure, ...] = ()
    transition_key: str = ""
    rule_version: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", utc(self.at))


@dataclass(frozen=True, slots=True)
class ShadowGate:
    """A gate in shadow mode over the period (kpi.shadow): what it saw, what it would have failed."""

    source: str
    gate_id: str
    entries: int
    would_fail: int
    records: int  # distinct records it would have failed
    top_checks: tuple[tuple[str, int], ...] = ()  # (what was missing, entries), most first

    @property
    def would_fail_share(self) -> float | None:
        return round(100 * self.would_fail / self.entries, 4) if self.entries else None


@dataclass(frozen=True, slots=True)
class SlaOutcome:
    """One SLA timer: met, breached, cancelled (the record left and the rule cancels on leave)
    or still running."""

    source: str
    record_id: str
    sla_id: str
    started_at: datetime
    deadline: datetime
    met_at: datetime | None
    breached: bool
    cancelled: bool = False
    transition_key: str = ""  # the transition that started the timer, when known

    def state_as_of(self, as_of: datetime) -> str:
        """'met', 'breached', 'cancelled' or 'running'. Met after the deadline, or still open
        once the deadline has passed, is a breach even if the producer had not flagged it yet."""
        if self.breached or (self.met_at is not None and utc(self.met_at) > utc(self.deadline)):
            return "breached"
        if self.met_at is not None:
            return "met"
        if self.cancelled:
            return "cancelled"
        return "breached" if utc(self.deadline) < utc(as_of) else "running"

    @property
    def state(self) -> str:
        """The state as the producer recorded it (no clock)."""
        if self.breached or (self.met_at is not None and utc(self.met_at) > utc(self.deadline)):
            return "breached"
        if self.met_at is not None:
            return "met"
        return "cancelled" if self.cancelled else "running"


@dataclass(frozen=True, slots=True)
class RecordSnapshot:
    """What the reports need from a record's current state."""

    source: str
    record_id: str
    name: str = ""
    owner: str | None = None
    due: datetime | None = None  # due at or before this instant (a date: the last instant of that UTC day)
    url: str = ""  # the record in its tool, when the connector stored one
    segments: Mapping[str, str] = field(default_factory=dict)  # segment field -> value
    owner_label: str = ""  # the owner as a person reads it (a name where the tool gave one)


@dataclass(frozen=True, slots=True)
class OwnerChange:
    """A lead's owner from `at` on; `person` False for a queue (Salesforce ids 00G…)."""

    source: str
    record_id: str
    at: datetime
    owner: str
    person: bool = True


@dataclass(frozen=True, slots=True)
class KpiInputs:
    """Everything a report reads. Pass history from before the period too: a stage entered
    last month and left this month, or a first gate attempt last month, needs it."""

    transitions: Sequence[Transition] = ()
    evaluations: Sequence[GateEvaluation] = ()  # enforced gates' verdicts
    sla_outcomes: Sequence[SlaOutcome] = ()
    workflows: Mapping[str, Sequence[str]] = field(default_factory=dict)
    records: Sequence[RecordSnapshot] = ()
    as_of: datetime | None = None  # when the data was read; None: the period's end
    # Owner history (routing delay); None: the store keeps none, only each record's current owner.
    owner_changes: Sequence[OwnerChange] | None = None
    shadow_evaluations: Sequence[GateEvaluation] = ()  # gates in shadow mode: apart (kpi.shadow)


@dataclass(frozen=True, slots=True)
class KpiValue:
    """One number of the report: a KPI for one group in one bucket (the period or a week)."""

    kpi: str
    source: str  # "" when the group spans sources
    group: str  # gate id, status, SLA id, or "all"
    bucket: str  # "period" or an ISO week "2025-W01"
    value: float | None  # None: no data (n/a), never a division by zero
    count: int  # how many observations the value is made of


@dataclass(frozen=True, slots=True)
class BurndownWeek:
    """Violations (a failed gate entry until a passing re-entry of the same gate) in one week:
    opened, resolved, and open at the week's end by age."""

    week: str
    opened: int
    resolved: int
    open_by_age: tuple[tuple[str, int], ...]  # ("under 1 week", 3), ("1-4 weeks", 1), ...


@dataclass(frozen=True, slots=True)
class RuleChange:
    """The first gate verdict under a rule version: where a trend line gets a marker."""

    at: datetime
    week: str
    rule_version: str


@dataclass(frozen=True, slots=True)
class BreakdownValue:
    """One KPI for the records of one owner or one segment value, for the period."""

    dimension: str  # "owner" or a segment field
    segment: str  # the owner / the field's value; "(none)" when empty
    kpi: str
    value: float | None
    count: int


@dataclass(frozen=True, slots=True)
class RecordLink:
    """A record behind a number: what the scorecard links to."""

    source: str
    record_id: str
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class KpiReport:
    period: Period
    as_of: datetime
    weeks: tuple[str, ...]
    values: tuple[KpiValue, ...]
    notes: tuple[str, ...] = ()  # what was left out and why
    workflows: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (source, ordered statuses)
    previous: tuple[KpiValue, ...] = ()  # the headline KPIs for the period before, same length
    previous_period: Period | None = None
    burndown: tuple[BurndownWeek, ...] = ()
    rule_changes: tuple[RuleChange, ...] = ()
    breakdowns: tuple[BreakdownValue, ...] = ()
    labels: tuple[tuple[str, str, str], ...] = ()  # (source, group, human label) of check groups
    behind: tuple[tuple[str, str, str, tuple[RecordLink, ...]], ...] = ()  # (kpi, source, group, records)
    settings: KpiSettings | None = field(default=None, compare=False)  # targets, bands, segments
    shadow: tuple[ShadowGate, ...] = ()  # gates in shadow mode, apart from the KPIs
    _index: dict[tuple[str, str, str], list[KpiValue]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for item in self.values:
            self._index.setdefault((item.kpi, item.group, item.bucket), []).append(item)

    def value(self, kpi: str, group: str = "all", source: str | None = None,
              bucket: str = "period") -> KpiValue | None:
        """One value; with `source` None the first group of that name (for "all": the pooled
        group across sources, where the KPI has one)."""
        for item in self._index.get((kpi, group, bucket), ()):
            if source is None or item.source == source:
                return item
        return None

    def groups(self, kpi: str) -> list[tuple[str, str]]:
        """(source, group) pairs that have a period value for a KPI, in report order."""
        return [(v.source, v.group) for v in self.values if v.kpi == kpi and v.bucket == "period"]

    def previous_value(self, kpi: str, group: str = "all",
                       source: str | None = None) -> KpiValue | None:
        return next((v for v in self.previous if v.kpi == kpi and v.group == group
                     and (source is None or v.source == source)), None)

    def label(self, source: str, group: str) -> str:
        return next((text for s, g, text in self.labels if s == source and g == group), group)

    def records_behind(self, kpi: str, source: str, group: str) -> tuple[RecordLink, ...]:
        return next((links for k, s, g, links in self.behind
                     if (k, s, g) == (kpi, source, group)), ())

    def series(self, kpi: str, group: str = "all", source: str | None = None) -> list[KpiValue]:
        """The weekly values of one KPI group, one per week of the period, in order."""
        found = [self.value(kpi, group, source, week) for week in self.weeks]
        return [v for v in found if v is not None]


# -- building inputs from the store's dicts ------------------------------------------------------

def evaluations_from_rows(rows: Iterable[Mapping[str, Any]],
                          transitions: Iterable[Transition] = ()) -> list[GateEvaluation]:
    """`StateStore.evaluations()` dicts -> values; the handoff time is the judged transition's."""
    at_by_key = {t.key: t.at for t in transitions}
    found = []
    for row in rows:
        failures = tuple(
            CheckFailure(str(f.get("check", "")), str(f.get("field", "") or ""),
                         str(f.get("message", "") or ""))
            for f in _json_list(row.get("failures_json")))
        key = str(row.get("transition_key") or "")
        found.append(GateEvaluation(
            source=str(row["source"]), record_id=str(row["record_id"]), gate_id=str(row["gate_id"]),
            passed=bool(row["passed"]), at=at_by_key.get(key) or _aware(row["evaluated_at"]),
            failures=failures, transition_key=key, rule_version=str(row.get("rule_version") or "")))
    return found


def sla_outcomes_from_timers(timers: Iterable[SlaTimer]) -> list[SlaOutcome]:
    """`StateStore.timers()` -> outcomes; a timer closed without being met was cancelled."""
    return [SlaOutcome(t.source, t.record_id, t.sla_id, _aware(t.started_at), _aware(t.deadline),
                       _aware(t.met_at) if t.met_at else None, bool(t.breached),
                       cancelled=t.closed_at is not None and t.met_at is None and not t.breached,
                       transition_key=t.transition_key)
            for t in timers]


def records_from_rows(source: str, rows: Iterable[Mapping[str, Any]],
                      due_field: str = "") -> list[RecordSnapshot]:
    """`StateStore.stored_records(source)` dicts -> snapshots; an unreadable due date is None."""
    found = []
    for row in rows:
        fields = row.get("fields") or {}
        due = parse_due(fields.get(due_field)) if due_field else None
        found.append(RecordSnapshot(source, str(row["record_id"]), str(row.get("name") or ""),
                                    row.get("owner"), due))
    return found


def parse_due(value: Any) -> datetime | None:
    """A due date or time as an instant: a date means the end of that day in UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return utc(value) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, 23, 59, 59, 999999, tzinfo=UTC)
    text = str(value).strip()
    try:
        if len(text) == 10:
            return parse_due(date.fromisoformat(text))
        return parse_due(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _json_list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    try:
        loaded = json.loads(value or "[]")
    except (TypeError, ValueError):
        return []
    return [v for v in loaded if isinstance(v, dict)] if isinstance(loaded, list) else []
