"""Running a gate against a record: the hot path.

No pydantic, no regex compilation, no template parsing here: every check was built at load.
A check that raises (a bug, or a value nobody foresaw) becomes a failure with a message, so one
odd record never stops a cycle.
"""
from __future__ import annotations

from typing import Any

from baton.core.records import Record

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


def fields_read(gate: Gate) -> set[str]:
    """Every record field a gate's checks may read (for `baton check` to compare with what the
    source fetches). `name` and `status` are the record's own; CEL over the whole `fields` map
    names nothing and is left out."""
    found: set[str] = set()
    for check in gate.checks:
        found.update(f for f in (check.field, getattr(check.when, "field", None)) if f)
        template = getattr(check, "template", None)
        if template is not None:
            found.update(p.equals_field for p in template.parts if p.equals_field)
        for param in getattr(getattr(check, "taxonomy", None), "params", ()):
            found.update(rule.field for rule in param.group_equals)
        expression = getattr(check, "expression", None)
        found.update(getattr(expression, "field_names", None) or ())
    return found - {"name", "status"}
