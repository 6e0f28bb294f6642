"""Running a gate against a record: the hot path.

No pydantic, no regex compilation, no template parsing here: every check was built at load.
A check that raises (a bug, or a value nobody foresaw) becomes a failure with a message, so one
odd record never stops a cycle.
"""
from __future__ import annotations

from typing import Any

from connectors.base import Record

from .model import CheckFailure, Gate, GateResult
from .templates import bullet_list, record_context


def evaluate_gate(gate: Gate, record: Record) -> GateResult:
    """Run every check of `gate` on `record`; all failures are reported, not just the first."""
    seen: dict[str, Any] = {}
    failures: list[CheckFailure] = []
    for check in gate.checks:
        try:
            problems = check.run(record, seen)
        except Exception as error:  # never let one record take the cycle down
            problems = (f"This check could not be run ({type(error).__name__}); "
                        "please tell your Baton admin",)
        if problems:
            for message in problems:
                failures.append(CheckFailure(check.id, check.field, message))
    return GateResult(gate.id, not failures, tuple(failures), seen)


def failure_context(gate: Gate, record: Record, result: GateResult) -> dict[str, Any]:
    """What a message template can use: the record's fields and values, the gate, the failures."""
    context = record_context(record)
    context.update(
        gate=gate.id, enters=gate.enters,
        failures=bullet_list([failure.message for failure in result.failures]),
        failure_count=len(result.failures),
    )
    return context
