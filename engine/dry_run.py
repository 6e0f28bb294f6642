"""`baton run --dry-run` on a source with no baseline yet: look before saying anything.

A first cycle takes a baseline (every record remembered, nothing written), so the plan of a real
first run is "write nothing". A dry run still reads the whole source through the connector — it
must reach and authenticate to the tool — and reports the baseline it would take, and what each
gate would do to the records that sit in its status now, if they entered it now.
Nothing is written to the tool or the state.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from baton.connectors.base import Connector
from baton.core.records import Record
from baton.rules import Gate, RuleSet, evaluate_gate


@dataclass
class GateLook:
    gate: Gate
    in_status: int = 0
    failing: list[tuple[Record, list[str]]] = field(default_factory=list)


@dataclass
class BaselineLook:
    source: str
    records: int = 0
    complete: bool = True
    gates: list[GateLook] = field(default_factory=list)


def look_at_baseline(source_id: str, connector: Connector, rules: RuleSet,
                     now: datetime) -> BaselineLook:
    """Read the source as a baseline would; evaluate each of its gates on the records in the
    gate's status. Raises what the connector raises (AuthError, TransientError, ...)."""
    looks = [GateLook(g) for g in rules.gates if g.source == source_id]
    result = BaselineLook(source_id, gates=looks)
    stream = connector.stream_baseline(now)
    for page in stream:
        result.records += len(page)
        for record in page:
            for look in looks:
                if record.status != look.gate.enters:
                    continue
                look.in_status += 1
                verdict = evaluate_gate(look.gate, record)
                if not verdict.passed:
                    look.failing.append((record, verdict.messages))
    result.complete = stream.complete
    return result


def render(look: BaselineLook, limit: int = 10) -> str:
    lines = [f"{look.source}: no baseline yet: a first run would take a baseline of "
             f"{look.records} record(s) and write nothing (dry run, nothing written)"]
    if not look.complete:
        lines.append("  (the read stopped early: a real first run would take the rest next cycle)")
    for gate_look in look.gates:
        gate = gate_look.gate
        shadow = " (observe mode: it writes nothing)" if gate.observed else ""
        lines.append(f"  gate {gate.id}{shadow}: {len(gate_look.failing)} of {gate_look.in_status} "
                     f"record(s) now in {gate.enters!r} would fail it if they entered now")
        for record, messages in gate_look.failing[:limit]:
            lines.append(f"    - {record.name}: " + "; ".join(messages))
        if len(gate_look.failing) > limit:
            lines.append(f"    … and {len(gate_look.failing) - limit} more")
    return "\n".join(lines)
