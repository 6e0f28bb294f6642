"""Running a gate against a record: the hot path.

No pydantic, no regex compilation, no template parsing here: every check was built at load.
A check that raises (a bug, or a value nobody foresaw) becomes a failure with a message, so one
odd record never stops a cycle. Every check runs in time linear in its input (RE2 regexes,
bounded CEL); `CHECK_BUDGET_SECONDS` still bounds one record's checks as a whole.
"""
from __future__ import annotations

from time import perf_counter
from typing import Any

from baton.core.records import Record

from .lookup import NO_LOOKUPS, LookupCheck, Lookups
from .model import CheckFailure, Gate, GateResult, HeldCheck, LateCheck
from .templates import bullet_list, record_context

CHECK_BUDGET_SECONDS = 0.2  # one record's checks, in one gate; override with `budget=`


def evaluate_gate(gate: Gate, record: Record, *, budget: float | None = None,
                  lookups: Lookups = NO_LOOKUPS) -> GateResult:
    """Run every check of `gate` on `record`; all failures are reported, not just the first.

    Past `budget` seconds (default CHECK_BUDGET_SECONDS) the record is not checked further: the
    result fails with a "could not be checked in time" message naming the check that ran over
    (a `LateCheck` failure), and `GateResult.timed_out` is that check's id.

    Cross-tool checks (rules.lookup) read the other sources' snapshots through `lookups`; one
    whose source is stale under `on_stale = "hold"` reports a `HeldCheck` (`GateResult.held`)."""
    limit = CHECK_BUDGET_SECONDS if budget is None else budget
    checks = gate.checks
    last = checks[-1] if checks else None  # after the last check there is nothing to stop
    deadline = perf_counter() + limit if len(checks) > 1 else 0.0
    seen: dict[str, Any] = {}
    failures: list[CheckFailure] = []
    for check in checks:
        failure: type[CheckFailure] = CheckFailure
        try:
            if type(check) is LookupCheck:
                problems, held = check.judge(record, seen, lookups)
                failure = HeldCheck if held else CheckFailure
            else:
                problems = check.run(record, seen)
        except Exception as error:  # never let one record take the cycle down
            problems = (f"This check could not be run ({type(error).__name__}); "
                        "please tell your Baton admin",)
        if problems:
            for message in problems:
                failures.append(failure(check.id, check.field, message))
        if check is not last and perf_counter() > deadline:
            skipped = len(checks) - checks.index(check) - 1
            failures.append(LateCheck(check.id, check.field, _late(check.id, limit, skipped)))
            return GateResult(gate.id, False, tuple(failures), seen)
    return GateResult(gate.id, not failures, tuple(failures), seen)


def _late(check_id: str, limit: float, skipped: int) -> str:
    return (f"This record could not be checked in time: the checks passed Baton's {limit:g} s "
            f"limit at {check_id!r}, so {skipped} later check(s) did not run; please tell your "
            "Baton admin")


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
    source fetches), as each check tells (`Check.fields`). `name` and `status` are the record's
    own; CEL over the whole `fields` map names nothing and is left out."""
    found: set[str] = set()
    for check in gate.checks:
        found.update(check.fields)
    return found - {"name", "status"}
