"""The monthly handoff audit: a seeded random sample of the period's gate entries.

The article's step 7: "pick 10–20 handoffs and inspect for missing fields, missing artifacts,
SLA breaches, and unclear ownership". Each row says what the gate found missing, what became
of the SLA timers the handoff started, and who owns the record.
"""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from baton.core.records import Transition

from .model import GateEvaluation, Period, RecordSnapshot, SlaOutcome, utc


@dataclass(frozen=True, slots=True)
class AuditRow:
    at: datetime
    source: str
    record_id: str
    name: str
    gate_id: str
    move: str  # "Drafting → Ready for Design", or the status entered when the origin is unknown
    passed: bool
    missing: tuple[str, ...]
    sla: str  # "speed-to-lead met after 3m12s; …", "none"
    owner: str


def audit_sample(evaluations: Sequence[GateEvaluation], transitions: Iterable[Transition],
                 sla_outcomes: Iterable[SlaOutcome], n: int, seed: int | str,
                 period: Period, records: Iterable[RecordSnapshot] = ()) -> list[AuditRow]:
    """Up to `n` gate entries of the period, drawn with `random.Random(seed)`: the same inputs
    and seed give the same sample. Rows come back in time order."""
    in_period = sorted((e for e in evaluations if e.at in period),
                       key=lambda e: (e.at, e.source, e.record_id, e.gate_id, e.transition_key))
    chosen = sorted(random.Random(seed).sample(range(len(in_period)), min(max(n, 0),
                                                                          len(in_period))))
    by_key = {t.key: t for t in transitions}
    moves: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for t in by_key.values():
        moves[(t.source, t.record_id)].append(utc(t.at))
    for times in moves.values():
        times.sort()
    timers: dict[tuple[str, str], list[SlaOutcome]] = defaultdict(list)
    for o in sla_outcomes:
        timers[(o.source, o.record_id)].append(o)
    snapshots = {(r.source, r.record_id): r for r in records}

    rows = []
    for index in chosen:
        e = in_period[index]
        key = (e.source, e.record_id)
        entered = by_key.get(e.transition_key)
        move = (f"{entered.from_status} → {entered.to_status}" if entered and entered.from_status
                else (f"→ {entered.to_status}" if entered else ""))
        following = next((m for m in moves.get(key, ()) if m > e.at), None)
        started = [o for o in timers.get(key, ())
                   if (o.transition_key == e.transition_key if o.transition_key and e.transition_key
                       else utc(o.started_at) >= e.at
                       and (following is None or utc(o.started_at) < following))]
        snapshot = snapshots.get(key)
        rows.append(AuditRow(
            e.at, e.source, e.record_id, snapshot.name if snapshot else "", e.gate_id, move,
            e.passed, tuple(dict.fromkeys(f.describe() for f in e.failures)),
            "; ".join(_describe(o, period.end) for o in sorted(started, key=lambda o: (o.started_at, o.sla_id)))
            or "none",
            (snapshot.owner_label or snapshot.owner or "unassigned") if snapshot else "unknown"))
    return rows


def _describe(outcome: SlaOutcome, as_of: datetime) -> str:
    state = outcome.state_as_of(as_of)
    if state == "cancelled":
        return f"{outcome.sla_id} cancelled (the record moved on)"
    if state == "running":
        return f"{outcome.sla_id} running (due {utc(outcome.deadline):%Y-%m-%d %H:%M} UTC)"
    if state == "breached":
        return f"{outcome.sla_id} BREACHED (due {utc(outcome.deadline):%Y-%m-%d %H:%M} UTC)"
    assert outcome.met_at is not None
    seconds = int((utc(outcome.met_at) - utc(outcome.started_at)).total_seconds())
    return f"{outcome.sla_id} met after {_duration(seconds)}"


def _duration(seconds: int) -> str:
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"


def render_audit(rows: Sequence[AuditRow], period: Period | None = None) -> str:
    """The audit as plain text: one block per handoff, for a person to go through."""
    head = "Handoff audit" + (f"  {period.label()}" if period else "")
    out = [head, f"{len(rows)} handoff{'s' if len(rows) != 1 else ''} sampled", ""]
    for i, row in enumerate(rows, 1):
        verdict = "passed" if row.passed else "FAILED"
        title = f"{row.name} ({row.record_id})" if row.name else row.record_id
        out.append(f"{i:>2}. {row.at:%Y-%m-%d %H:%M} UTC  {row.source}  {title}")
        out.append(f"    gate {row.gate_id}: {verdict}" + (f"  [{row.move}]" if row.move else ""))
        out.extend(f"    missing: {item}" for item in row.missing)
        out.append(f"    SLA: {row.sla}")
        out.append(f"    owner: {row.owner}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
