"""What the scorecard shows beside the KPI values: the violation burndown, rule-change markers,
breakdowns by owner and segment, the human labels of checks and the records behind a number.

All of it is computed from the same context as the KPIs (the same observations, the same
as-of time), so a breakdown row can never disagree with the number it breaks down.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .context import Context
from .model import BreakdownValue, BurndownWeek, RecordLink, RuleChange, iso_week
from .observe import _ordered_evaluations, check_group, check_label
from .stats import Aggregate, Observation

# KPIs broken down by owner and segment, and what counts against a KPI ("the records behind").
BREAKDOWN = ("gate_entries", "first_pass_yield", "speed_to_lead_median",
             "speed_to_lead_within_target", "sla_compliance", "on_time_delivery")
BEHIND: dict[str, Callable[[Observation], bool]] = {
    "check_failures": lambda o: o.value > 0,
    "first_pass_yield": lambda o: o.value == 0,
    "gate_rework": lambda o: o.value > 0,
    "sla_compliance": lambda o: o.value == 0,
    "speed_to_lead_within_target": lambda o: o.value == 0,
    "on_time_delivery": lambda o: o.value == 0,
}
BEHIND_LIMIT = 10  # records listed per number (the latest first); the page stays small
AGES = (("under 1 week", timedelta(weeks=1)), ("1–4 weeks", timedelta(weeks=4)),
        ("over 4 weeks", None))
NO_VALUE = "(none)"

Observed = Callable[[str], Sequence[Observation]]  # KPI name -> its observations in the period


def report_extras(ctx: Context, aggregates: dict[str, Aggregate],
                  observed: Observed) -> dict[str, Any]:
    return {"burndown": burndown(ctx), "rule_changes": rule_changes(ctx),
            "breakdowns": breakdowns(ctx, aggregates, observed), "labels": check_labels(ctx),
            "behind": records_behind(ctx, observed)}


def burndown(ctx: Context) -> tuple[BurndownWeek, ...]:
    """Per ISO week of the period: violations opened, resolved, and open at the week's end (or
    the report's as-of time, if earlier) by age. A violation is a failed gate entry; a later
    failed entry of the same gate continues it, a passing one resolves it."""
    episodes: list[tuple[datetime, datetime | None]] = []
    open_since: dict[tuple[str, str, str], datetime] = {}
    for e in ctx.memo(_ordered_evaluations):
        key = (e.source, e.record_id, e.gate_id)
        if not e.passed:
            open_since.setdefault(key, e.at)
        elif key in open_since:
            episodes.append((open_since.pop(key), e.at))
    episodes.extend((start, None) for start in open_since.values())
    weeks = []
    for week in ctx.period.weeks():
        monday = _week_start(week)
        start, end = max(monday, ctx.period.start), min(monday + timedelta(days=7), ctx.period.end)
        cut = min(end, ctx.as_of)
        opened = sum(1 for s, _ in episodes if start <= s < end)
        resolved = sum(1 for _, r in episodes if r is not None and start <= r < end)
        ages = dict.fromkeys((label for label, _ in AGES), 0)
        for s, r in episodes:
            if s < cut and (r is None or r >= cut):
                age = cut - s
                ages[next(label for label, limit in AGES if limit is None or age < limit)] += 1
        weeks.append(BurndownWeek(week, opened, resolved, tuple(ages.items())))
    return tuple(weeks)


def _week_start(week: str) -> datetime:
    year, number = week.split("-W")
    return datetime.fromisocalendar(int(year), int(number), 1).replace(tzinfo=UTC)


def rule_changes(ctx: Context) -> tuple[RuleChange, ...]:
    """Each rule version's first verdict, where it falls in the period, after the first version
    the log knows (that one is where the log starts, not a change)."""
    first: dict[str, datetime] = {}
    for e in ctx.memo(_ordered_evaluations):
        if e.rule_version and e.rule_version not in first:
            first[e.rule_version] = e.at
    ordered = sorted(first.items(), key=lambda item: (item[1], item[0]))[1:]
    return tuple(RuleChange(at, iso_week(at), version) for version, at in ordered
                 if at in ctx.period)


def breakdowns(ctx: Context, aggregates: dict[str, Aggregate],
               observed: Observed) -> tuple[BreakdownValue, ...]:
    """The breakdown KPIs per current owner and per value of each segment field."""
    dimensions: list[tuple[str, Callable[[Any], str]]] = [
        ("owner", lambda r: (r.owner if r else None) or "(unassigned)")]
    for name in ctx.settings.segment_fields:
        dimensions.append((name, _segment_of(name)))
    found = []
    for kpi in BREAKDOWN:
        observations = observed(kpi)
        for dimension, segment_of in dimensions:
            groups: dict[str, list[Observation]] = defaultdict(list)
            for o in observations:
                groups[segment_of(ctx.records.get((o.source, o.unit)))].append(o)
            for segment in sorted(groups):
                items = groups[segment]
                value = aggregates[kpi](items)
                size = int(sum(o.value for o in items)) if kpi == "gate_entries" else len(items)
                found.append(BreakdownValue(dimension, segment, kpi,
                                            None if value is None else round(value, 4), size))
    return tuple(found)


def _segment_of(name: str) -> Callable[[Any], str]:
    def segment(record: Any) -> str:
        return (str(record.segments.get(name) or "") if record else "") or NO_VALUE
    return segment


def check_labels(ctx: Context) -> tuple[tuple[str, str, str], ...]:
    labels: dict[tuple[str, str], str] = {}
    for e in ctx.memo(_ordered_evaluations):
        for f in e.failures:
            labels.setdefault((e.source, check_group(e.gate_id, f)), check_label(f))
    return tuple((source, group, label) for (source, group), label in sorted(labels.items()))


def records_behind(ctx: Context, observed: Observed
                   ) -> tuple[tuple[str, str, str, tuple[RecordLink, ...]], ...]:
    """Per KPI group: the latest records that count against it, with their URLs."""
    found = []
    for kpi, against in BEHIND.items():
        by_group: dict[tuple[str, str], dict[str, datetime]] = defaultdict(dict)
        for o in observed(kpi):
            if against(o):
                units = by_group[(o.source, o.group)]
                units[o.unit] = max(units.get(o.unit, o.at), o.at)
        for (source, group), units in sorted(by_group.items()):
            latest = sorted(units, key=lambda unit: (-units[unit].timestamp(), unit))
            links = tuple(_link(ctx, source, unit) for unit in latest[:BEHIND_LIMIT])
            found.append((kpi, source, group, links))
    return tuple(found)


def _link(ctx: Context, source: str, record_id: str) -> RecordLink:
    record = ctx.records.get((source, record_id))
    return RecordLink(source, record_id, record.name if record else "",
                      record.url if record else "")


__all__ = ["BEHIND", "BREAKDOWN", "burndown", "report_extras"]
