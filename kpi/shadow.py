"""Gates in shadow mode (`mode = "observe"`), apart from the KPIs.

An observe gate wrote nothing, so its verdicts are not handoffs the team was held to: they are
left out of every KPI (first-pass yield, gate entries, failed checks, the audit, rework by gate)
and summarised here instead, per gate, for the period: how many entries it saw, how many it
would have failed (and on how many records), and what it would have flagged most. After the
promotion (`mode = "enforce"`), a record's first *enforced* verdict is its first pass or fail.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from .model import GateEvaluation, Period, ShadowGate


def shadow_gates(evaluations: Iterable[GateEvaluation], period: Period, top: int = 5
                 ) -> tuple[ShadowGate, ...]:
    by_gate: dict[tuple[str, str], list[GateEvaluation]] = defaultdict(list)
    for evaluation in evaluations:
        if evaluation.at in period:
            by_gate[(evaluation.source, evaluation.gate_id)].append(evaluation)
    out = []
    for (source, gate_id), entries in sorted(by_gate.items()):
        failed = [e for e in entries if not e.passed]
        checks = Counter(f.describe() for e in failed for f in e.failures)
        out.append(ShadowGate(source, gate_id, len(entries), len(failed),
                              len({e.record_id for e in failed}),
                              tuple(checks.most_common(top))))
    return tuple(out)
