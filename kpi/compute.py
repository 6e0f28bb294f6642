"""The KPI engine: every KPI defined once, computed per group, for the period and each ISO week.

A KPI is a `KpiDefinition`: a name, a one-sentence definition (the README prints it), an
`observe` function that turns the inputs into timestamped observations, and an aggregate that
turns the observations of one bucket into a number. The period value and each weekly value
aggregate the same observations, so a trend can never disagree with its total.

Shared rules, applied by every KPI:

* **Buckets.** An observation belongs to the period if its time is in [start, end); to the ISO
  week (Monday–Sunday, UTC) its time falls in. Weeks are clipped to the period. Everything is on
  the UTC timeline, so daylight-saving changes cannot move anything between weeks.
* **Percentiles** are interpolated linearly (PERCENTILE_CONT, numpy's default): the p-th
  percentile of n sorted values is at position (n − 1) × p/100, between its two neighbours.
  The median is the 50th percentile: the mean of the two middle values when n is even.
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
from dataclasses import dataclass, replace

from baton.core.kpi_settings import KpiSettings

from .context import Context, build_context
from .model import KpiInputs, KpiReport, KpiValue, Period, iso_week
from .extras import report_extras
from .shadow import shadow_gates
from .leads import (
    observe_acceptance,
    observe_funnel,
    observe_mql_to_sql,
    observe_rep_delay,
    observe_routing_delay,
    observe_speed_bands,
    observe_speed_to_lead,
    observe_sql_to_opportunity,
    observe_within_target,
)
from .observe import (
    observe_backward_moves,
    observe_check_failures,
    observe_check_shares,
    observe_entries,
    observe_first_pass,
    observe_gate_rework,
    observe_on_time,
    observe_sla,
    observe_stays,
)
from .stats import (
    ALL,
    PERIOD,
    Aggregate,
    Observation,
    count,
    mean_per_unit,
    percentile,
    share,
    share_of_units,
)

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class KpiDefinition:
    name: str
    title: str
    unit: str  # "%", "min", "h", "rounds", "count"
    scope: str  # what a group is: "gate", "check", "stage", "workflow", "sla", "lead funnel"
    definition: str  # one sentence, printed in the README and the scorecard
    observe: Callable[[Context], list[Observation]]
    aggregate: Aggregate
    pooled: bool = False  # also report an "all" group pooling every group's observations
    higher_is_better: bool | None = None


def _sample_size(definition: KpiDefinition, observations: Sequence[Observation]) -> int:
    if definition.aggregate in (mean_per_unit, share_of_units):
        return len({o.unit for o in observations})
    if definition.aggregate is count:
        return int(sum(o.value for o in observations))
    return len(observations)


# -- the registry ----------------------------------------------------------------------------

KPIS: tuple[KpiDefinition, ...] = (
    KpiDefinition(
        "gate_entries", "Gate entries", "count", "gate",
        "Every evaluation of a gate, i.e. every time a record entered a gated status "
        "(re-entries included), counted at the time of the transition.",
        observe_entries, count, pooled=True),
    KpiDefinition(
        "first_pass_yield", "First-pass yield", "%", "gate",
        "Share of records whose first evaluation of a gate passed (the article's brief "
        "compliance); only a record's first attempt ever counts, in the bucket it happened in, "
        "so re-entries after a fix are never first attempts.",
        observe_first_pass, share, pooled=True, higher_is_better=True),
    KpiDefinition(
        "check_failures", "Missing at handoff", "count", "check",
        "Gate entries that failed a given check (gate and check id, what was missing, whatever "
        "the bad value), counted once per entry.",
        observe_check_failures, count, higher_is_better=False),
    KpiDefinition(
        "check_failure_share", "Entries blocked by the check", "%", "check",
        "Share of the gate's entries in the bucket that failed the check (for every check that "
        "failed at least once).",
        observe_check_shares, share, higher_is_better=False),
    KpiDefinition(
        "gate_rework", "Rework per gate", "rounds", "gate",
        "Backward moves out of the gate's status to an earlier status of the workflow, per "
        "record, averaged over the records that entered the gate or moved back out of it in "
        "the bucket: which handoff causes rework.",
        observe_gate_rework, mean_per_unit, higher_is_better=False),
    KpiDefinition(
        "time_in_stage_median", "Time in stage (median)", "h", "stage",
        "Median of the hours a record spent in a status, from the transition into "
        "it to the next one, counted when the stay ended; stays still open at the period end and "
        "stays whose start Baton did not see are excluded.",
        observe_stays, percentile(50), higher_is_better=False),
    KpiDefinition(
        "time_in_stage_p90", "Time in stage (p90)", "h", "stage",
        "90th percentile (linear interpolation) of the same stays as the time-in-stage median.",
        observe_stays, percentile(90), higher_is_better=False),
    KpiDefinition(
        "rework_rounds", "Rework rounds", "rounds", "workflow",
        "Backward moves per record, by the workflow's status order (statuses outside the "
        "workflow are skipped), averaged over the records that moved in the bucket.",
        observe_backward_moves, mean_per_unit, pooled=True, higher_is_better=False),
    KpiDefinition(
        "reworked_share", "Records reworked", "%", "workflow",
        "Share of the records that moved in the bucket with at least one backward move.",
        observe_backward_moves, share_of_units, pooled=True, higher_is_better=False),
    KpiDefinition(
        "on_time_delivery", "On-time delivery", "%", "workflow",
        "Share of records due in the bucket (by their due-date field) that reached the "
        "workflow's final status by the due date; a record not delivered once its due date has "
        "passed is late, records without a due date are left out.",
        observe_on_time, share, pooled=True, higher_is_better=True),
    KpiDefinition(
        "sla_compliance", "SLA compliance", "%", "sla",
        "Met / (met + breached) over the SLA timers started in the bucket; a timer met late or "
        "still open past its deadline is breached, timers still running or cancelled are left "
        "out.",
        observe_sla, share, pooled=True, higher_is_better=True),
    KpiDefinition(
        "speed_to_lead_median", "Speed-to-lead (median)", "min", "lead funnel",
        "Median minutes from a lead's SLA entry (its first MQL entry that started an SLA "
        "timer, else its first MQL entry the gates passed) to its first touch (the first entry into "
        "an accepted status after it), over the leads touched, counted in the bucket of the entry.",
        observe_speed_to_lead, percentile(50), higher_is_better=False),
    KpiDefinition(
        "speed_to_lead_p90", "Speed-to-lead (p90)", "min", "lead funnel",
        "90th percentile (linear interpolation) of the same speed-to-lead minutes.",
        observe_speed_to_lead, percentile(90), higher_is_better=False),
    KpiDefinition(
        "speed_to_lead_within_target", "Touched within target", "%", "lead funnel",
        "Share of the SLA entries first touched within the target (5 minutes by default, the "
        "boundary included); a lead not touched once the target has passed is a miss, one whose "
        "target has not passed yet is left out.",
        observe_within_target, share, higher_is_better=True),
    KpiDefinition(
        "speed_to_lead_bands", "Speed-to-lead distribution", "count", "speed band",
        "The touched SLA entries per band of minutes to the first touch (0–5, 5–15, 15–60, 60+ "
        "by default; a band includes its upper edge).",
        observe_speed_bands, count),
    KpiDefinition(
        "routing_delay_median", "Routing delay (median)", "min", "lead funnel",
        "Median minutes from the SLA entry until a person (not a queue) owned the lead, from "
        "owner history; 0 when a person owned it at entry.",
        observe_routing_delay, percentile(50), higher_is_better=False),
    KpiDefinition(
        "routing_delay_p90", "Routing delay (p90)", "min", "lead funnel",
        "90th percentile (linear interpolation) of the same routing delays.",
        observe_routing_delay, percentile(90), higher_is_better=False),
    KpiDefinition(
        "rep_delay_median", "Rep delay (median)", "min", "lead funnel",
        "Median minutes from a person owning the lead (or the SLA entry, if later) to the "
        "first touch, over the touched leads with owner history.",
        observe_rep_delay, percentile(50), higher_is_better=False),
    KpiDefinition(
        "rep_delay_p90", "Rep delay (p90)", "min", "lead funnel",
        "90th percentile (linear interpolation) of the same rep delays.",
        observe_rep_delay, percentile(90), higher_is_better=False),
    KpiDefinition(
        "lead_acceptance_rate", "Lead acceptance", "%", "lead funnel",
        "Share of MQLs whose first decision was acceptance (an accepted status, SQL or "
        "Opportunity) rather than rejection; leads with no decision yet are left out.",
        observe_acceptance, share, higher_is_better=True),
    KpiDefinition(
        "mql_to_sql", "MQL → SQL", "%", "lead funnel",
        "Share of the leads that entered MQL in the bucket that have since reached SQL (or "
        "Opportunity); recent cohorts are still maturing.",
        observe_mql_to_sql, share, higher_is_better=True),
    KpiDefinition(
        "sql_to_opportunity", "SQL → Opportunity", "%", "lead funnel",
        "Share of the leads that entered SQL in the bucket that have since reached the "
        "Opportunity (converted) status.",
        observe_sql_to_opportunity, share, higher_is_better=True),
    KpiDefinition(
        "funnel", "Stage funnel", "count", "funnel stage",
        "The leads that entered MQL in the bucket (first known entry), and how many of them "
        "have since reached SQL and Opportunity.",
        observe_funnel, count),
)

KPI_BY_NAME = {k.name: k for k in KPIS}
# The scorecard's tiles: also computed for the period before, for the change against it.
HEADLINE = ("gate_entries", "first_pass_yield", "rework_rounds", "reworked_share",
            "speed_to_lead_median", "speed_to_lead_p90", "speed_to_lead_within_target",
            "lead_acceptance_rate", "mql_to_sql", "sql_to_opportunity", "sla_compliance",
            "on_time_delivery")


def compute_kpis(inputs: KpiInputs, period: Period, settings: KpiSettings | None = None,
                 progress: Progress | None = None, compare: bool = True) -> KpiReport:
    """Every KPI of the registry for the period and each of its ISO weeks, plus what the
    scorecard shows besides (see `extras`). Pure: reads only its arguments. `progress(done,
    total)` is called after each KPI; `compare` adds the headline KPIs of the period before."""
    settings = settings or KpiSettings()
    ctx = build_context(inputs, period, settings)
    weeks = period.weeks()
    values: list[KpiValue] = []
    for done, definition in enumerate(KPIS, 1):
        values.extend(_values_of(definition, ctx, weeks))
        if progress is not None:
            progress(done, len(KPIS))
    workflows = tuple((source, tuple(statuses))
                      for source, statuses in sorted(inputs.workflows.items()))
    extras = report_extras(ctx, {d.name: d.aggregate for d in KPIS},
                           lambda kpi: [o for _, o in _bucketed(ctx, KPI_BY_NAME[kpi].observe)])
    previous: list[KpiValue] = []
    before = None
    if compare:
        length = period.end - period.start
        before = Period(period.start - length, period.start)
        earlier = build_context(replace(inputs, as_of=min(ctx.as_of, before.end)), before, settings)
        for name in HEADLINE:
            previous.extend(v for v in _values_of(KPI_BY_NAME[name], earlier, []) if not v.source
                            or v.group == ALL)
    return KpiReport(period, ctx.as_of, tuple(weeks), tuple(values),
                     tuple(ctx.notes[k] for k in sorted(ctx.notes)), workflows,
                     previous=tuple(previous), previous_period=before, settings=settings,
                     shadow=shadow_gates(inputs.shadow_evaluations, period), **extras)


def _bucketed(ctx: Context, observe: Callable[[Context], list[Observation]]
              ) -> list[tuple[str, Observation]]:
    """The period's observations of one observe function with their ISO weeks (computed once
    for the KPIs that share the function)."""
    key = ("bucketed", observe)
    if key not in ctx._memo:
        start, end = ctx.period.start, ctx.period.end
        ctx._memo[key] = [(iso_week(o.at), o) for o in ctx.memo(observe) if start <= o.at < end]
    return ctx._memo[key]


def _values_of(definition: KpiDefinition, ctx: Context, weeks: list[str]) -> list[KpiValue]:
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
    "Percentiles are interpolated linearly between the closest ranks (SQL's PERCENTILE_CONT, "
    "numpy's default, Excel's PERCENTILE.INC): the p-th percentile of n sorted values lies at "
    "position (n − 1) × p/100. The median is the 50th: the mean of the two middle values when n "
    "is even (6,900 s and 8,400 s give 7,650 s).",
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


__all__ = ["KPIS", "KPI_BY_NAME", "KpiDefinition", "compute_kpis", "definitions_markdown"]
