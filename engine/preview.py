"""`baton preview GATE`: try a gate before it goes live, or see what a shadow gate would write.

It evaluates the gate (from the rule files on disk, saved or not yet deployed) against the
current records in the state store, and replays it over the recorded transitions into its
status: "this gate would have fired 37 times last month". Each entry is judged on the values
Baton recorded with that transition (migration 6: the record as the cycle saw it, from the
tool's history for an entry the record had already left), so a record fixed since still shows
the fire. An entry recorded before that (or filled in by `backfill`) is judged on the record's
latest known values, and a field the gate reads that was not recorded at the time (a field the
source started fetching later) is taken from the latest values: the output counts and names both.

A gate in shadow mode (`mode = "observe"`) was evaluated by `run` and wrote nothing; the preview
lists what its failures would have written (the gate's current write-backs on the recorded
failures). Everything here reads Baton's stored snapshot, not the live tools, and says so.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime

from baton.core.records import Record, Transition
from baton.engine.planner import describe, failure_actions
from baton.rules import CheckFailure, Gate, GateResult, evaluate_gate, fields_read
from baton.store import StateStore, TransitionValues


@dataclass
class Preview:
    gate: Gate
    current_total: int = 0
    current_failing: list[tuple[Record, list[str]]] = field(default_factory=list)
    replayed: int = 0
    would_fire: list[tuple[datetime, Record, list[str]]] = field(default_factory=list)
    messages: Counter[str] = field(default_factory=Counter)
    unrecorded_entries: int = 0  # entries with no values of their time: judged on the latest
    unrecorded_fields: Counter[str] = field(default_factory=Counter)  # field -> entries without it
    shadow_evaluations: int = 0  # recorded in observe mode, since
    would_have_written: list[tuple[datetime, Record, list[str]]] = field(default_factory=list)
    location: str = ""  # the state it read


def preview(gate: Gate, store: StateStore, since: datetime) -> Preview:
    result = Preview(gate, location=str(store.location))
    records = {row.record_id: row.as_record() for row in store.stored_records(gate.source)}
    for record in records.values():
        if record.status != gate.enters:
            continue
        result.current_total += 1
        verdict = evaluate_gate(gate, record)
        if not verdict.passed:
            result.current_failing.append((record, verdict.messages))
    reads = sorted(fields_read(gate))
    at_time: dict[str, tuple[Transition, Record, str]] = {}  # transition key -> judged values
    for transition, seen in store.transition_values(gate.source, since=since):
        if not gate.fires(transition.to_status, transition.from_status):
            continue
        judged = _values_of_the_time(result, transition, seen, records.get(transition.record_id),
                                     reads)
        if judged is None:
            continue
        at_time[transition.key] = (transition, judged, seen.basis if seen else "")
        result.replayed += 1
        verdict = evaluate_gate(gate, judged)
        if not verdict.passed:
            result.would_fire.append((transition.at, judged, verdict.messages))
            result.messages.update(verdict.messages)
    for evaluation in store.evaluations(gate.source):
        if evaluation.gate_id != gate.id or not evaluation.observed:
            continue
        entry = at_time.get(evaluation.transition_key)
        if entry is None:
            continue  # before `since`
        result.shadow_evaluations += 1
        if evaluation.passed:
            continue
        transition, judged, basis = entry
        failures = tuple(CheckFailure(str(f.get("check", "")), f.get("field"),
                                      str(f.get("message", ""))) for f in evaluation.failures)
        actions = failure_actions(judged, gate, GateResult(gate.id, False, failures,
                                                           dict(evaluation.values)),
                                  evaluation.transition_key, None, still_there=not basis)
        result.would_have_written.append((transition.at, judged, describe(actions)))
    return result


def _values_of_the_time(result: Preview, transition: Transition, seen: TransitionValues | None,
                        latest: Record | None, reads: list[str]) -> Record | None:
    """The record as it was at `transition`, as far as Baton recorded it (see the docstring)."""
    status = transition.to_status
    if seen is None:
        if latest is None:
            return None
        result.unrecorded_entries += 1
        return replace(latest, status=status)
    fields = dict(seen.fields)
    missing = [name for name in reads if name not in fields]
    if missing:
        result.unrecorded_fields.update(missing)
        if latest is not None:
            fields.update({name: latest.fields[name] for name in missing if name in latest.fields})
    record = seen.as_record(transition.source, transition.record_id, status, transition.at)
    return replace(record, fields=fields)


def render(result: Preview, limit: int = 20) -> str:
    gate = result.gate
    mode = " [observe mode: it writes nothing]" if gate.observed else ""
    lines = [f"Gate {gate.id} ({gate.source}, entering {gate.enters!r}){mode}",
             f"Read from Baton's stored snapshot ({result.location}), not the live tools.",
             f"Now: {len(result.current_failing)} of {result.current_total} record(s) in "
             f"{gate.enters!r} would fail it (on their latest known values)."]
    lines += [f"  - {r.name} ({r.id}): " + "; ".join(m) for r, m in result.current_failing[:limit]]
    lines.append(f"Replay: it would have fired {len(result.would_fire)} time(s) over "
                 f"{result.replayed} recorded entr(y/ies), on the values recorded when each "
                 "happened.")
    lines += [f"  - {at:%Y-%m-%d %H:%M} {r.name} ({r.id}): " + "; ".join(m)
              for at, r, m in result.would_fire[:limit]]
    if result.unrecorded_entries:
        lines.append(f"  {result.unrecorded_entries} entr(y/ies) had no values recorded (from "
                     "before Baton kept them, or backfilled): judged on the latest known values.")
    if result.unrecorded_fields:
        named = ", ".join(f"{name!r} ({count})" for name, count
                          in sorted(result.unrecorded_fields.items()))
        lines.append(f"  Not recorded at the time, taken from the latest known values: {named}.")
    if result.messages:
        lines.append("Most common problems:")
        lines += [f"  {count:>4} x {message}" for message, count in result.messages.most_common(5)]
    if gate.observed or result.shadow_evaluations:
        lines.append(f"Shadow mode: {result.shadow_evaluations} evaluation(s) recorded in observe "
                     f"mode, {len(result.would_have_written)} failed; it would have written:")
        for at, r, written in result.would_have_written[:limit]:
            lines.append(f"  - {at:%Y-%m-%d %H:%M} {r.name} ({r.id}):")
            lines += [f"      {line.split('] ', 1)[-1]}" for line in written] or ["      nothing"]
        if not result.would_have_written:
            lines.append("  nothing")
    return "\n".join(lines)
