"""`baton preview GATE`: try a gate before it goes live.

It evaluates the gate (from the rule files on disk, saved or not yet deployed) against the
current records in the state store, and replays it over the recorded transitions into its
status: "this gate would have fired 37 times last month". The replay uses each record's latest
known field values (Baton keeps the values a gate saw, not every field's history), and says so.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from baton.core.records import Record
from baton.rules import Gate, evaluate_gate
from baton.store import StateStore


@dataclass
class Preview:
    gate: Gate
    current_total: int = 0
    current_failing: list[tuple[Record, list[str]]] = field(default_factory=list)
    replayed: int = 0
    would_fire: list[tuple[datetime, Record, list[str]]] = field(default_factory=list)
    messages: Counter[str] = field(default_factory=Counter)


def preview(gate: Gate, store: StateStore, since: datetime) -> Preview:
    result = Preview(gate)
    records = {row.record_id: row.as_record() for row in store.stored_records(gate.source)}
    for record in records.values():
        if record.status != gate.enters:
            continue
        result.current_total += 1
        verdict = evaluate_gate(gate, record)
        if not verdict.passed:
            result.current_failing.append((record, verdict.messages))
    for transition in store.transitions(gate.source, since=since):
        entered = records.get(transition.record_id)
        if entered is None or not gate.fires(transition.to_status, transition.from_status):
            continue
        result.replayed += 1
        verdict = evaluate_gate(gate, entered)
        if not verdict.passed:
            result.would_fire.append((transition.at, entered, verdict.messages))
            result.messages.update(verdict.messages)
    return result


def render(result: Preview, limit: int = 20) -> str:
    gate = result.gate
    lines = [f"Gate {gate.id} ({gate.source}, entering {gate.enters!r})",
             f"Now: {len(result.current_failing)} of {result.current_total} record(s) in "
             f"{gate.enters!r} would fail it."]
    lines += [f"  - {r.name} ({r.id}): " + "; ".join(m) for r, m in result.current_failing[:limit]]
    lines.append(f"Replay: it would have fired {len(result.would_fire)} time(s) over "
                 f"{result.replayed} recorded entr(y/ies) (on each record's latest known values).")
    lines += [f"  - {at:%Y-%m-%d %H:%M} {r.name} ({r.id}): " + "; ".join(m)
              for at, r, m in result.would_fire[:limit]]
    if result.messages:
        lines.append("Most common problems:")
        lines += [f"  {count:>4} x {message}" for message, count in result.messages.most_common(5)]
    return "\n".join(lines)

