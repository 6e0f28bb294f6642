"""What each KPI observes: gate evaluations, stays in a stage, backward moves, on-time delivery,
SLA timers and the lead funnel, turned into `Observation`s (the shared rules are in compute.py).
"""
from __future__ import annotations

from collections import defaultdict

from .context import Context, hours, start_known
from .model import CheckFailure, GateEvaluation, utc
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


def check_group(gate_id: str, failure: CheckFailure) -> str:
    """A check's group: "gate: check id" (the message holds the bad value, the id does not)."""
    return f"{gate_id}: {failure.check or failure.describe()}"


def check_label(failure: CheckFailure) -> str:
    """A check in words without the value that failed it: 'Email: wrong format'."""
    kind = failure.check.rsplit(".", 1)[-1] if failure.check else ""
    words = _KIND_WORDS.get(kind, kind or failure.describe())
    return f"{failure.field}: {words}" if failure.field else words


_KIND_WORDS = {
    "required": "missing", "pattern": "wrong format", "allowed": "not an allowed value",
    "taxonomy": "not in the taxonomy", "length": "wrong length", "is_true": "not checked",
    "date_order": "dates out of order", "naming": "name off the template",
    "utm": "UTM parameters wrong", "expr": "rule expression failed",
}


def observe_check_failures(ctx: Context) -> list[Observation]:
    """One observation per gate entry per check it failed (a check failing twice in one entry
    counts once)."""
    found = []
    for e in ctx.memo(_ordered_evaluations):
        for group in dict.fromkeys(check_group(e.gate_id, f) for f in e.failures):
            found.append(Observation(e.source, group, e.at, 1.0, e.record_id))
    return found


def observe_check_shares(ctx: Context) -> list[Observation]:
    """For every check that failed at least once in a gate, every entry of that gate: 1 when the
    check blocked it, 0 when not, so the share is "of the gate's entries, how many it blocked"."""
    checks: dict[tuple[str, str], set[str]] = defaultdict(set)
    evaluations = ctx.memo(_ordered_evaluations)
    for e in evaluations:
        checks[(e.source, e.gate_id)].update(check_group(e.gate_id, f) for f in e.failures)
    found: list[Observation] = []
    for e in evaluations:
        failed = {check_group(e.gate_id, f) for f in e.failures}
        found.extend(Observation(e.source, group, e.at, 1.0 if group in failed else 0.0,
                                 e.record_id)
                     for group in sorted(checks.get((e.source, e.gate_id), ())))
    return found


def observe_gate_rework(ctx: Context) -> list[Observation]:
    """Per gate: each entry (0) and each backward move out of the gate's status to an earlier
    status of the workflow (1), per record; the gate's status is the one its verdicts judged."""
    status_of: dict[tuple[str, str], str] = {}
    by_key = {t.key: t for log in ctx.by_record.values() for t in log}
    for e in ctx.memo(_ordered_evaluations):
        judged = by_key.get(e.transition_key)
        if judged is not None:
            status_of.setdefault((e.source, e.gate_id), judged.to_status)
    found = [Observation(e.source, e.gate_id, e.at, 0.0, e.record_id)
             for e in ctx.memo(_ordered_evaluations) if (e.source, e.gate_id) in status_of]
    gates_of: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (source, gate), status in status_of.items():
        gates_of[(source, status)].append(gate)
    for (source, record_id), log in ctx.by_record.items():
        order = {status: i for i, status in enumerate(ctx.inputs.workflows.get(source, ()))}
        for t in log:
            gates = gates_of.get((source, t.from_status or ""))
            if not gates or t.from_status not in order or t.to_status not in order:
                continue
            if order[t.to_status] < order[t.from_status]:
                found.extend(Observation(source, gate, utc(t.at), 1.0, record_id)
                             for gate in gates)
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
