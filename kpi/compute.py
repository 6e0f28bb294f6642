"""The KPI engine: every KPI defined once, computed per group, for the period and each ISO week.

A KPI is a `KpiDefinition`: a name, a one-sentence definition (the README prints it), an
`observe` function that turns the inputs into timestamped observations, and an aggregate that
turns the observations of one bucket into a number. The period value and each weekly value
aggregate the same observations, so a trend can never disagree with its total.

Shared rules, applied by every KPI:

* **Buckets.** An observation belongs to the period if its time is in [start, end); to the ISO
  week (Monday–Sunday, UTC) its time falls in. Weeks are clipped to the period. Everything is on
  the UTC timeline, so daylight-saving changes cannot move anything between weeks.
* **Percentiles** are nearest-rank: the p-th percentile of n sorted values is the value at rank
  ceil(p/100 × n). The median is the 50th percentile (the lower middle value when n is even),
  so every median or p90 shown is a duration that really happened.
* **No data is n/a**, never zero and never a division by zero; counts of nothing are 0.
* **Missing history.** The start of a status is known when Baton saw the move into it (a
  transition with a from-status) or the tool's history dated it. A record's first sighting
  (from-status None) dated by its modification time or the poll time only says "it was already
  there": such a start is not used for durations (time in stage, speed-to-lead) nor as a funnel
  entry, and is reported in the notes. A gap in the log (the next move starts from a different
  status) ends no stay either.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from baton.core.records import TimeSource
from baton.core.records import Transition

from .model import (
    GateEvaluation,
    KpiInputs,
    KpiReport,
    KpiValue,
    Period,
    RecordSnapshot,
    iso_week,
    utc,
)
from baton.core.kpi_settings import KpiSettings

ALL = "all"
PERIOD = "period"

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Observation:
    """One fact a KPI counts: `value` for `(source, group)` at time `at`; `unit` groups
    observations that belong to one record (per-record KPIs aggregate per unit first)."""

    source: str
    group: str
    at: datetime
    value: float
    unit: str = ""


Aggregate = Callable[[Sequence[Observation]], float | None]


@dataclass(frozen=True, slots=True)
class KpiDefinition:
    name: str
    title: str
    unit: str  # "%", "min", "h", "rounds", "count"
    scope: str  # what a group is: "gate", "check", "stage", "workflow", "sla", "lead funnel"
    definition: str  # one sentence, printed in the README and the scorecard
    observe: Callable[[_Context], list[Observation]]
    aggregate: Aggregate
    pooled: bool = False  # also report an "all" group pooling every group's observations
    higher_is_better: bool | None = None


# -- aggregates ------------------------------------------------------------------------------

def nearest_rank(values: Sequence[float], p: int) -> float | None:
    """The p-th percentile (0 < p <= 100) by nearest rank; None for no values."""
    if not values:
        return None
    if not 0 < p <= 100:
        raise ValueError("p must be in (0, 100]")
    ordered = sorted(values)
    rank = max(1, -(-p * len(ordered) // 100))  # ceil(p * n / 100) in integers
    return ordered[rank - 1]


def _count(observations: Sequence[Observation]) -> float | None:
    return float(sum(o.value for o in observations))


def _share(observations: Sequence[Observation]) -> float | None:
    if not observations:
        return None
    return 100.0 * sum(o.value for o in observations) / len(observations)


def _percentile(p: int) -> Aggregate:
    def aggregate(observations: Sequence[Observation]) -> float | None:
        return nearest_rank([o.value for o in observations], p)
    return aggregate


def _mean_per_unit(observations: Sequence[Observation]) -> float | None:
    totals: dict[str, float] = defaultdict(float)
    for o in observations:
        totals[o.unit] += o.value
    return sum(totals.values()) / len(totals) if totals else None


def _share_of_units(observations: Sequence[Observation]) -> float | None:
    totals: dict[str, float] = defaultdict(float)
    for o in observations:
        totals[o.unit] += o.value
    return 100.0 * sum(1 for v in totals.values() if v > 0) / len(totals) if totals else None


def _sample_size(definition: KpiDefinition, observations: Sequence[Observation]) -> int:
    if definition.aggregate in (_mean_per_unit, _share_of_units):
        return len({o.unit for o in observations})
    if definition.aggregate is _count:
        return int(sum(o.value for o in observations))
    return len(observations)


# -- the context the observe functions share ---------------------------------------------------

@dataclass
class _Context:
    inputs: KpiInputs
    period: Period
    settings: KpiSettings
    as_of: datetime
    by_record: dict[tuple[str, str], list[Transition]]
    records: dict[tuple[str, str], RecordSnapshot]
    notes: dict[str, str] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict)

    def memo(self, function: Callable[[_Context], Any]) -> Any:
        if function not in self._memo:
            self._memo[function] = function(self)
        return self._memo[function]

    def note(self, key: str, count: int, text: str) -> None:
        """A sentence for the report about what was left out (only when something was)."""
        if count:
            self.notes[key] = text.format(n=count)


def _build_context(inputs: KpiInputs, period: Period, settings: KpiSettings) -> _Context:
    as_of = utc(inputs.as_of) if inputs.as_of else period.end
    by_record: dict[tuple[str, str], list[Transition]] = defaultdict(list)
    for t in inputs.transitions:
        if utc(t.at) < as_of:
            by_record[(t.source, t.record_id)].append(t)
    for log in by_record.values():
        log.sort(key=lambda t: utc(t.at))  # stable: ties keep the store's (at, key) order
    records = {(r.source, r.record_id): r for r in inputs.records}
    return _Context(inputs, period, settings, as_of, dict(by_record), records)


def start_known(t: Transition) -> bool:
    """Whether a transition dates the start of its status (see "Missing history")."""
    return t.from_status is not None or t.time_source == TimeSource.HISTORY


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


# -- gates -----------------------------------------------------------------------------------

def _ordered_evaluations(ctx: _Context) -> list[GateEvaluation]:
    return sorted((e for e in ctx.inputs.evaluations if e.at < ctx.as_of),
                  key=lambda e: (e.at, e.transition_key, e.gate_id))


def _observe_entries(ctx: _Context) -> list[Observation]:
    return [Observation(e.source, e.gate_id, e.at, 1.0, e.record_id)
            for e in ctx.memo(_ordered_evaluations)]


def _observe_first_pass(ctx: _Context) -> list[Observation]:
    seen: set[tuple[str, str, str]] = set()
    found, reentries = [], 0
    for e in ctx.memo(_ordered_evaluations):
        key = (e.source, e.record_id, e.gate_id)
        if key in seen:
            reentries += e.at in ctx.period
            continue
        seen.add(key)
        found.append(Observation(e.source, e.gate_id, e.at, 1.0 if e.passed else 0.0, e.record_id))
    ctx.note("first_pass_yield", reentries,
             "first-pass yield: gate re-entries in the period, not counted as first attempts: {n}")
    return found


def _observe_check_failures(ctx: _Context) -> list[Observation]:
    found = []
    for e in ctx.memo(_ordered_evaluations):
        for failure in dict.fromkeys(f.describe() for f in e.failures):
            found.append(Observation(e.source, f"{e.gate_id}: {failure}", e.at, 1.0, e.record_id))
    return found


# -- workflows -------------------------------------------------------------------------------

def _observe_stays(ctx: _Context) -> list[Observation]:
    found: list[Observation] = []
    unknown = open_at_end = gaps = 0
    for (source, record_id), log in ctx.by_record.items():
        for i, entered in enumerate(log):
            if utc(entered.at) >= ctx.period.end:
                break
            left = log[i + 1] if i + 1 < len(log) else None
            if left is None or utc(left.at) >= ctx.period.end:
                open_at_end += 1
                continue
            if left.from_status is not None and left.from_status != entered.to_status:
                gaps += utc(left.at) in ctx.period
                continue
            if not start_known(entered):
                unknown += utc(left.at) in ctx.period
                continue
            found.append(Observation(source, entered.to_status, utc(left.at),
                                     _hours(utc(left.at) - utc(entered.at)), record_id))
    ctx.note("time_in_stage.open", open_at_end,
             "time in stage: stays still open at the period end, excluded: {n}")
    ctx.note("time_in_stage.unknown", unknown,
             "time in stage: stays whose start Baton did not see (first sighting dated by "
             "modification or poll time), excluded: {n}")
    ctx.note("time_in_stage.gap", gaps,
             "time in stage: stays with a gap in the history, excluded: {n}")
    return found


def _observe_backward_moves(ctx: _Context) -> list[Observation]:
    found = []
    for (source, record_id), log in ctx.by_record.items():
        order = {status: i for i, status in enumerate(ctx.inputs.workflows.get(source, ()))}
        if not order:
            continue
        position: int | None = None
        for t in log:
            if t.from_status is None:
                position = order.get(t.to_status, position)
                found.append(Observation(source, ALL, utc(t.at), 0.0, record_id))
                continue
            if t.from_status in order:
                position = order[t.from_status]
            target = order.get(t.to_status)
            backward = target is not None and position is not None and target < position
            found.append(Observation(source, ALL, utc(t.at), 1.0 if backward else 0.0,
                                     record_id))
            if target is not None:
                position = target
    return found


def _observe_on_time(ctx: _Context) -> list[Observation]:
    found: list[Observation] = []
    no_due = unknown = 0
    for source, delivery in ctx.settings.delivery.items():
        logs = {rid: log for (src, rid), log in ctx.by_record.items() if src == source}
        snapshots = {rid: r for (src, rid), r in ctx.records.items() if src == source}
        for record_id in sorted(set(logs) | set(snapshots)):
            snapshot = snapshots.get(record_id)
            due = snapshot.due if snapshot else None
            if due is None:
                no_due += any(utc(t.at) in ctx.period for t in logs.get(record_id, ()))
                continue
            if due not in ctx.period:
                continue
            reached = next((t for t in logs.get(record_id, ())
                            if t.to_status == delivery.final_status), None)
            if reached is not None and utc(reached.at) <= due:
                found.append(Observation(source, ALL, due, 1.0, record_id))
            elif reached is not None and not start_known(reached):
                unknown += 1  # first seen already done, after the due date: can't tell
            elif due < ctx.as_of:
                found.append(Observation(source, ALL, due, 0.0, record_id))
    ctx.note("on_time_delivery.no_due", no_due,
             "on-time delivery: records active in the period without a due date, left out: {n}")
    ctx.note("on_time_delivery.unknown", unknown,
             "on-time delivery: records first seen already delivered after their due date "
             "(delivery time unknown), excluded: {n}")
    return found


def _observe_sla(ctx: _Context) -> list[Observation]:
    found: list[Observation] = []
    running = cancelled = 0
    for o in ctx.inputs.sla_outcomes:
        started = utc(o.started_at)
        if started >= ctx.as_of:
            continue
        state = o.state_as_of(ctx.as_of)
        if state in ("running", "cancelled"):
            running += state == "running" and started in ctx.period
            cancelled += state == "cancelled" and started in ctx.period
            continue
        found.append(Observation(o.source, o.sla_id, started, 1.0 if state == "met" else 0.0,
                                 o.record_id))
    ctx.note("sla_compliance.running", running,
             "SLA compliance: timers started in the period still running, excluded: {n}")
    ctx.note("sla_compliance.cancelled", cancelled,
             "SLA compliance: timers cancelled because the record left the status, excluded: {n}")
    return found


# -- the lead funnel -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Lead:
    record_id: str
    mql_at: datetime | None  # first known entry into MQL
    touch_at: datetime | None  # first entry into an accepted status after it
    accepted: bool | None  # first decision after MQL: True accepted, False rejected, None pending
    reached_sql: bool
    sql_at: datetime | None  # first known entry into SQL
    reached_opportunity_after_sql: bool


def _leads(ctx: _Context) -> list[_Lead]:
    lead = ctx.settings.lead
    accepted = set(lead.accepted) | {lead.sql, lead.opportunity}
    found, unknown = [], 0
    for (source, record_id), log in sorted(ctx.by_record.items()):
        if source != lead.source:
            continue
        mql = next((t for t in log if t.to_status == lead.mql), None)
        if mql is not None and not start_known(mql):
            unknown += utc(mql.at) in ctx.period
            mql = None
        mql_at = utc(mql.at) if mql else None
        after = [t for t in log if mql_at is not None and utc(t.at) > mql_at]
        touch = next((t for t in after if t.to_status in lead.accepted), None)
        decision = next((t.to_status in accepted for t in after
                         if t.to_status in accepted or t.to_status in lead.rejected), None)
        sql = next((t for t in log if t.to_status == lead.sql and start_known(t)), None)
        sql_at = utc(sql.at) if sql else None
        found.append(_Lead(
            record_id, mql_at, utc(touch.at) if touch else None, decision,
            any(t.to_status in (lead.sql, lead.opportunity) for t in after),
            sql_at,
            sql_at is not None and any(t.to_status == lead.opportunity and utc(t.at) > sql_at
                                       for t in log)))
    ctx.note("lead.unknown", unknown,
             "lead funnel: leads first seen already at MQL (entry time unknown), excluded: {n}")
    return found


def _observe_speed_to_lead(ctx: _Context) -> list[Observation]:
    source = ctx.settings.lead.source
    return [Observation(source, ALL, lead.mql_at, _minutes(lead.touch_at - lead.mql_at),
                        lead.record_id)
            for lead in ctx.memo(_leads) if lead.mql_at and lead.touch_at]


def _observe_within_target(ctx: _Context) -> list[Observation]:
    source = ctx.settings.lead.source
    target = timedelta(minutes=ctx.settings.lead.speed_to_lead_target_minutes)
    found = []
    for lead in ctx.memo(_leads):
        if lead.mql_at is None:
            continue
        if lead.touch_at is not None:
            hit = lead.touch_at - lead.mql_at <= target
        elif ctx.as_of - lead.mql_at > target:
            hit = False  # never touched and the window has passed: a miss
        else:
            continue  # the window is still open
        found.append(Observation(source, ALL, lead.mql_at, 1.0 if hit else 0.0, lead.record_id))
    return found


def _observe_acceptance(ctx: _Context) -> list[Observation]:
    source = ctx.settings.lead.source
    return [Observation(source, ALL, lead.mql_at, 1.0 if lead.accepted else 0.0, lead.record_id)
            for lead in ctx.memo(_leads) if lead.mql_at and lead.accepted is not None]


def _observe_mql_to_sql(ctx: _Context) -> list[Observation]:
    source = ctx.settings.lead.source
    return [Observation(source, ALL, lead.mql_at, 1.0 if lead.reached_sql else 0.0, lead.record_id)
            for lead in ctx.memo(_leads) if lead.mql_at]


def _observe_sql_to_opportunity(ctx: _Context) -> list[Observation]:
    source = ctx.settings.lead.source
    return [Observation(source, ALL, lead.sql_at,
                        1.0 if lead.reached_opportunity_after_sql else 0.0, lead.record_id)
            for lead in ctx.memo(_leads) if lead.sql_at]


# -- the registry ----------------------------------------------------------------------------

KPIS: tuple[KpiDefinition, ...] = (
    KpiDefinition(
        "gate_entries", "Gate entries", "count", "gate",
        "Every evaluation of a gate, i.e. every time a record entered a gated status "
        "(re-entries included), counted at the time of the transition.",
        _observe_entries, _count, pooled=True),
    KpiDefinition(
        "first_pass_yield", "First-pass yield", "%", "gate",
        "Share of records whose first evaluation of a gate passed (the article's brief "
        "compliance); only a record's first attempt ever counts, in the bucket it happened in, "
        "so re-entries after a fix are never first attempts.",
        _observe_first_pass, _share, pooled=True, higher_is_better=True),
    KpiDefinition(
        "check_failures", "Missing at handoff", "count", "check",
        "Gate entries that failed a given check (what was missing), counted once per entry.",
        _observe_check_failures, _count, higher_is_better=False),
    KpiDefinition(
        "time_in_stage_median", "Time in stage (median)", "h", "stage",
        "Nearest-rank median of the hours a record spent in a status, from the transition into "
        "it to the next one, counted when the stay ended; stays still open at the period end and "
        "stays whose start Baton did not see are excluded.",
        _observe_stays, _percentile(50), higher_is_better=False),
    KpiDefinition(
        "time_in_stage_p90", "Time in stage (p90)", "h", "stage",
        "Nearest-rank 90th percentile of the same stays as the time-in-stage median.",
        _observe_stays, _percentile(90), higher_is_better=False),
    KpiDefinition(
        "rework_rounds", "Rework rounds", "rounds", "workflow",
        "Backward moves per record, by the workflow's status order (statuses outside the "
        "workflow are skipped), averaged over the records that moved in the bucket.",
        _observe_backward_moves, _mean_per_unit, pooled=True, higher_is_better=False),
    KpiDefinition(
        "reworked_share", "Records reworked", "%", "workflow",
        "Share of the records that moved in the bucket with at least one backward move.",
        _observe_backward_moves, _share_of_units, pooled=True, higher_is_better=False),
    KpiDefinition(
        "on_time_delivery", "On-time delivery", "%", "workflow",
        "Share of records due in the bucket (by their due-date field) that reached the "
        "workflow's final status by the due date; a record not delivered once its due date has "
        "passed is late, records without a due date are left out.",
        _observe_on_time, _share, pooled=True, higher_is_better=True),
    KpiDefinition(
        "sla_compliance", "SLA compliance", "%", "sla",
        "Met / (met + breached) over the SLA timers started in the bucket; a timer met late or "
        "still open past its deadline is breached, timers still running or cancelled are left "
        "out.",
        _observe_sla, _share, pooled=True, higher_is_better=True),
    KpiDefinition(
        "speed_to_lead_median", "Speed-to-lead (median)", "min", "lead funnel",
        "Nearest-rank median minutes from a lead's first entry into MQL to its first touch (the "
        "first entry into an accepted status after it), over the leads touched, counted in the "
        "bucket of the MQL entry.",
        _observe_speed_to_lead, _percentile(50), higher_is_better=False),
    KpiDefinition(
        "speed_to_lead_p90", "Speed-to-lead (p90)", "min", "lead funnel",
        "Nearest-rank 90th percentile of the same speed-to-lead minutes.",
        _observe_speed_to_lead, _percentile(90), higher_is_better=False),
    KpiDefinition(
        "speed_to_lead_within_target", "Touched within target", "%", "lead funnel",
        "Share of MQLs first touched within the target (5 minutes by default, the boundary "
        "included); a lead not touched once the target has passed is a miss, one whose target "
        "has not passed yet is left out.",
        _observe_within_target, _share, higher_is_better=True),
    KpiDefinition(
        "lead_acceptance_rate", "Lead acceptance", "%", "lead funnel",
        "Share of MQLs whose first decision was acceptance (an accepted status, SQL or "
        "Opportunity) rather than rejection; leads with no decision yet are left out.",
        _observe_acceptance, _share, higher_is_better=True),
    KpiDefinition(
        "mql_to_sql", "MQL → SQL", "%", "lead funnel",
        "Share of the leads that entered MQL in the bucket that have since reached SQL (or "
        "Opportunity); recent cohorts are still maturing.",
        _observe_mql_to_sql, _share, higher_is_better=True),
    KpiDefinition(
        "sql_to_opportunity", "SQL → Opportunity", "%", "lead funnel",
        "Share of the leads that entered SQL in the bucket that have since reached the "
        "Opportunity (converted) status.",
        _observe_sql_to_opportunity, _share, higher_is_better=True),
)

KPI_BY_NAME = {k.name: k for k in KPIS}


def compute_kpis(inputs: KpiInputs, period: Period, settings: KpiSettings | None = None,
                 progress: Progress | None = None) -> KpiReport:
    """Every KPI of the registry for the period and each of its ISO weeks. Pure: reads only
    its arguments. `progress(done, total)` is called after each KPI."""
    settings = settings or KpiSettings()
    ctx = _build_context(inputs, period, settings)
    weeks = period.weeks()
    values: list[KpiValue] = []
    for done, definition in enumerate(KPIS, 1):
        values.extend(_values_of(definition, ctx, weeks))
        if progress is not None:
            progress(done, len(KPIS))
    workflows = tuple((source, tuple(statuses))
                      for source, statuses in sorted(inputs.workflows.items()))
    return KpiReport(period, ctx.as_of, tuple(weeks), tuple(values),
                     tuple(ctx.notes[k] for k in sorted(ctx.notes)), workflows)


def _bucketed(ctx: _Context, observe: Callable[[_Context], list[Observation]]
              ) -> list[tuple[str, Observation]]:
    """The period's observations of one observe function with their ISO weeks (computed once
    for the KPIs that share the function)."""
    key = ("bucketed", observe)
    if key not in ctx._memo:
        start, end = ctx.period.start, ctx.period.end
        ctx._memo[key] = [(iso_week(o.at), o) for o in ctx.memo(observe) if start <= o.at < end]
    return ctx._memo[key]  # type: ignore[no-any-return]


def _values_of(definition: KpiDefinition, ctx: _Context, weeks: list[str]) -> list[KpiValue]:
    in_period = _bucketed(ctx, definition.observe)
    groups: dict[tuple[str, str], list[tuple[str, Observation]]] = defaultdict(list)
    if definition.pooled:
        groups[("", ALL)] = list(in_period)
    if definition.scope == "lead funnel":
        groups[(ctx.settings.lead.source, ALL)]  # always shown, n/a when empty
    for item in sorted(in_period, key=lambda item: (item[1].source, item[1].group)):
        groups[(item[1].source, item[1].group)].append(item)
    found = []
    for (source, group), items in groups.items():
        found.append(_value(definition, source, group, PERIOD, [o for _, o in items]))
        by_week: dict[str, list[Observation]] = defaultdict(list)
        for week, o in items:
            by_week[week].append(o)
        found.extend(_value(definition, source, group, week, by_week.get(week, []))
                     for week in weeks)
    return found


def _value(definition: KpiDefinition, source: str, group: str, bucket: str,
           observations: Sequence[Observation]) -> KpiValue:
    value = definition.aggregate(observations)
    return KpiValue(definition.name, source, group, bucket,
                    None if value is None else round(value, 4),
                    _sample_size(definition, observations))


RULES = (
    "Buckets: an observation counts in the period if its time is in [start, end) and in the "
    "ISO week (Monday to Sunday, UTC) it falls in; weeks are clipped to the period, and "
    "daylight-saving changes move nothing.",
    "Percentiles are nearest-rank: the p-th percentile of n sorted values is the value at rank "
    "ceil(p/100 × n); the median is the 50th (the lower middle value when n is even).",
    "No data is n/a, never 0 and never a division by zero; counts of nothing are 0.",
    "Missing history: a record's first sighting dated by its modification time or by the poll "
    "(from-status unknown) starts no duration and no funnel entry; it still sets the record's "
    "position for rework. What was left out is listed in the report's notes.",
)


def definitions_markdown(definitions: Iterable[KpiDefinition] = KPIS) -> str:
    """The README's KPI section: a table in registry order and the shared rules. Deterministic."""
    lines = ["| KPI | Unit | Per | Definition |", "|---|---|---|---|"]
    for d in definitions:
        text = d.definition.replace("|", "\\|")
        lines.append(f"| {d.title} (`{d.name}`) | {d.unit} | {d.scope} | {text} |")
    lines.append("")
    lines.extend(f"- {rule}" for rule in RULES)
    return "\n".join(lines) + "\n"


__all__ = ["KPIS", "KPI_BY_NAME", "KpiDefinition", "Observation", "compute_kpis",
           "definitions_markdown", "nearest_rank", "start_known"]
