"""What each KPI observes: gate evaluations, stays in a stage, backward moves, on-time delivery,
SLA timers and the lead funnel, turned into `Observation`s (the shared rules are in compute.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .context import Context, hours, minutes, start_known
from .model import GateEvaluation, utc
from .stats import ALL, Observation


# -- gates -----------------------------------------------------------------------------------

def _ordered_evaluations(ctx: Context) -> list[GateEvaluation]:
    return sorted((e for e in ctx.inputs.evaluations if e.at < ctx.as_of),
                  key=lambda e: (e.at, e.transition_key, e.gate_id))


def observe_entries(ctx: Context) -> list[Observation]:
    return [Observation(e.source, e.gate_id, e.at, 1.0, e.record_id)
            for e in ctx.memo(_ordered_evaluations)]


def observe_first_pass(ctx: Context) -> list[Observation]:
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


def observe_check_failures(ctx: Context) -> list[Observation]:
    found = []
    for e in ctx.memo(_ordered_evaluations):
        for failure in dict.fromkeys(f.describe() for f in e.failures):
            found.append(Observation(e.source, f"{e.gate_id}: {failure}", e.at, 1.0, e.record_id))
    return found


# -- workflows -------------------------------------------------------------------------------

def observe_stays(ctx: Context) -> list[Observation]:
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
                                     hours(utc(left.at) - utc(entered.at)), record_id))
    ctx.note("time_in_stage.open", open_at_end,
             "time in stage: stays still open at the period end, excluded: {n}")
    ctx.note("time_in_stage.unknown", unknown,
             "time in stage: stays whose start Baton did not see (first sighting dated by "
             "modification or poll time), excluded: {n}")
    ctx.note("time_in_stage.gap", gaps,
             "time in stage: stays with a gap in the history, excluded: {n}")
    return found


def observe_backward_moves(ctx: Context) -> list[Observation]:
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


def observe_on_time(ctx: Context) -> list[Observation]:
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


def observe_sla(ctx: Context) -> list[Observation]:
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


def _leads(ctx: Context) -> list[_Lead]:
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


def observe_speed_to_lead(ctx: Context) -> list[Observation]:
    source = ctx.settings.lead.source
    return [Observation(source, ALL, lead.mql_at, minutes(lead.touch_at - lead.mql_at),
                        lead.record_id)
            for lead in ctx.memo(_leads) if lead.mql_at and lead.touch_at]


def observe_within_target(ctx: Context) -> list[Observation]:
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


def observe_acceptance(ctx: Context) -> list[Observation]:
    source = ctx.settings.lead.source
    return [Observation(source, ALL, lead.mql_at, 1.0 if lead.accepted else 0.0, lead.record_id)
            for lead in ctx.memo(_leads) if lead.mql_at and lead.accepted is not None]


def observe_mql_to_sql(ctx: Context) -> list[Observation]:
    source = ctx.settings.lead.source
    return [Observation(source, ALL, lead.mql_at, 1.0 if lead.reached_sql else 0.0, lead.record_id)
            for lead in ctx.memo(_leads) if lead.mql_at]


def observe_sql_to_opportunity(ctx: Context) -> list[Observation]:
    source = ctx.settings.lead.source
    return [Observation(source, ALL, lead.sql_at,
                        1.0 if lead.reached_opportunity_after_sql else 0.0, lead.record_id)
            for lead in ctx.memo(_leads) if lead.sql_at]
