"""Gate evaluation alone: records per second, per gate of benchmarks/rules/gates.toml.

Records are content tasks built in memory (about one in five fails something), so only
`rules.evaluate_gate` is measured: no I/O, no store. The rule set is loaded (and compiled) once,
outside the timing, as the daemon does.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.scale import ROOT
from baton.core.records import Record
from baton.rules import evaluate_gate, load_rule_set

GATE_RULES = [ROOT / "rules" / "demo" / "taxonomy.toml", ROOT / "benchmarks" / "rules" / "gates.toml"]
CHANNELS = ["email", "paid-social", "organic-social", "webinar", "display", "blog"]
STAGES = ["awareness", "consideration", "decision", "retention"]


def make_records(n: int) -> list[Record]:
    now = datetime.now(UTC)
    records = []
    for i in range(n):
        campaign = 1000 + i % 9000
        channel = CHANNELS[i % len(CHANNELS)]
        bad = i % 5 == 0
        fields: dict[str, Any] = {
            "Campaign ID": f"CMP-{campaign}" if not bad else f"cmp{campaign}",
            "Channel": channel,
            "Funnel stage": STAGES[i % 4],
            "Headline": f"Spring launch headline number {i}",
            "Approved": i % 7 != 0,
            "Due date": "2026-11-20",
            "Launch date": "2026-11-24" if i % 11 else "2026-11-01",
            "Visual brief": "1080x1080 carousel" if i % 13 else "",
            "Owner email": f"owner{i % 50}@acme.example",
            "Region": ["emea", "amer", "apac", ""][i % 4],
            "Landing URL": (f"https://acme.example/p/{i}?utm_source=linkedin&utm_medium=paid-social"
                            f"&utm_campaign=cmp-{campaign}-spring" + ("&utm_source=x" if bad else "")),
            "Budget": (i % 17) * 100,
        }
        name = f"CMP-{campaign}_{channel}_spring-asset-{i % 97}_v{1 + i % 3}_20261124"
        records.append(Record("bench:gates", str(i), f"https://acme.example/t/{i}", name,
                              "Ready" if i % 3 else "Draft", None, fields, now))
    return records


def run_gates(n: int, minimum_seconds: float = 0.5) -> dict[str, dict[str, float]]:
    """{gate id: {"records_per_s", "checks", "failed_share"}} for every gate of gates.toml."""
    rule_set = load_rule_set(GATE_RULES)
    records = make_records(n)
    out: dict[str, dict[str, float]] = {}
    for gate in rule_set.gates:
        evaluated, failed = 0, 0
        started = time.perf_counter()
        while True:
            for record in records:
                if not evaluate_gate(gate, record).passed:
                    failed += 1
            evaluated += len(records)
            elapsed = time.perf_counter() - started
            if elapsed >= minimum_seconds:
                break
        out[gate.id] = {"records_per_s": round(evaluated / elapsed), "checks": len(gate.checks),
                        "failed_share": round(failed / evaluated, 3)}
    return out
