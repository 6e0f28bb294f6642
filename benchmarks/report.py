"""Report generation at scale: 100,000 transitions and 5,000 violations into the HTML scorecard.

`python -m benchmarks.report` prints the figures the README's performance section quotes: the
time to compute the KPIs (with the previous period and the extras), to render the HTML and the
JSON, and the size of the page. The inputs are synthetic but shaped like the demo workspace:
leads through MQL → Working → SQL with a gate on MQL, content tasks through a five-status
project with a gate on Ready for Design, 50 owners in four teams, thirteen weeks.
"""
from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta

from baton.core.kpi_settings import KpiSettings
from baton.core.records import TimeSource, Transition
from baton.kpi import compute_kpis
from baton.kpi.model import (
    CheckFailure, GateEvaluation, KpiInputs, OwnerChange, Period, RecordSnapshot, SlaOutcome,
)
from baton.kpi.render import render_html, render_json

LEADS, CONTENT = "salesforce:leads", "asana:content-calendar"
START = datetime(2025, 1, 6, tzinfo=UTC)
PERIOD = Period(START, START + timedelta(weeks=13))
FLOW = ["Backlog", "Drafting", "Ready for Design", "In Design", "Ready for Web", "Live"]
LEAD_FLOW = ["Open - Not Contacted", "MQL", "Data Remediation", "Working - Contacted", "SQL"]
CHECKS = [("Email.pattern", "Email"), ("Company.required", "Company"),
          ("Phone.length", "Phone"), ("LeadSource.allowed", "LeadSource")]


def synthetic(transitions: int = 100_000, violations: int = 5_000, seed: int = 14) -> KpiInputs:
    rng = random.Random(seed)
    span = (PERIOD.end - PERIOD.start).total_seconds()
    moves: list[Transition] = []
    evals: list[GateEvaluation] = []
    slas: list[SlaOutcome] = []
    owners: list[OwnerChange] = []
    records: list[RecordSnapshot] = []
    failing = set(rng.sample(range(transitions // 8), violations))  # gate entries that fail
    entry = 0
    record = 0
    while len(moves) < transitions:
        record += 1
        at = PERIOD.start + timedelta(seconds=rng.uniform(0, span * 0.95))
        owner = f"005{record % 50:03d}"
        lead = record % 2 == 0
        source = LEADS if lead else CONTENT
        rid = f"{'00Q' if lead else 'T'}{record:07d}"
        records.append(RecordSnapshot(source, rid, f"Record {record}", owner, None,
                                      f"https://example.test/{rid}",
                                      {"Team__c": ["East", "West", "North", "South"][record % 4]}))
        flow = LEAD_FLOW if lead else FLOW
        status, gated = flow[0], flow[1] if lead else "Ready for Design"
        for nxt in flow[1:4] if lead else flow[1:]:
            if nxt == "Data Remediation":
                continue
            at += timedelta(minutes=rng.expovariate(1 / (8 if lead else 600)))
            t = Transition(source, rid, status, nxt, at, TimeSource.HISTORY)
            moves.append(t)
            if nxt == gated:
                fails = entry in failing
                entry += 1
                check, field = CHECKS[entry % len(CHECKS)]
                failures = (CheckFailure(check, field, f"{field} {rid!r} is wrong"),) if fails else ()
                evals.append(GateEvaluation(source, rid, "mql-entry" if lead else "design-handoff",
                                            not fails, at, failures, t.key,
                                            "v1" if at < START + timedelta(weeks=6) else "v2"))
                if lead and not fails:
                    slas.append(SlaOutcome(source, rid, "speed-to-lead", at, at + timedelta(minutes=5),
                                           at + timedelta(minutes=rng.expovariate(1 / 6)), False,
                                           transition_key=t.key))
                    owners.append(OwnerChange(source, rid, at + timedelta(minutes=rng.random() * 3),
                                              owner))
                if fails:
                    break
            status = nxt
    workflows = {LEADS: LEAD_FLOW, CONTENT: FLOW}
    return KpiInputs(moves[:transitions], evals, slas, workflows, records, PERIOD.end, owners)


def main() -> int:
    inputs = synthetic()
    violations = sum(1 for e in inputs.evaluations if not e.passed)
    settings = KpiSettings(segment_fields=["Team__c"])
    began = time.perf_counter()
    report = compute_kpis(inputs, PERIOD, settings)
    computed = time.perf_counter()
    html = render_html(report)
    rendered = time.perf_counter()
    data = render_json(report)
    size = len(html.encode("utf-8"))
    print(f"inputs: {len(inputs.transitions):,} transitions, {len(inputs.evaluations):,} gate "
          f"entries, {violations:,} violations, {len(inputs.records):,} records, "
          f"{len(report.weeks)} weeks")
    print(f"compute (period, weekly, previous period, extras): {computed - began:.2f} s")
    print(f"render HTML: {rendered - computed:.2f} s; total {rendered - began:.2f} s")
    print(f"HTML: {size:,} bytes ({size / 1e6:.2f} MB); JSON: {len(data.encode()):,} bytes")
    return 0 if size < 1_500_000 and rendered - began < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
