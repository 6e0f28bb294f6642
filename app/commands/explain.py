"""`baton explain RECORD` and `baton preview GATE`: one record's story, one gate's trial run."""
from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from baton.app import exit_codes
from baton.app.state import open_store
from baton.core.clock import utcnow
from baton.core.config import load_config
from baton.rules import load_rule_set
from baton.store import EvaluationRow, LedgerRow, StateStore, StoredRecord

VALUE_WIDTH = 80  # a value longer than this is cut in `explain` (the store keeps all of it)


def command_explain(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = open_store(config)
    found = store.find_records(args.record)
    if not found:
        print(f"No record {args.record!r} in the state store ({config.baton.state}).")
        return exit_codes.PROBLEMS
    for record in found:
        print("\n".join(explain_lines(store, record)))
    return exit_codes.OK


def explain_lines(store: StateStore, record: StoredRecord) -> list[str]:
    """Why Baton did what it did to one record, as lines a person reads."""
    lines = [f"{record.source} {record.record_id}: {record.name!r}, status {record.status!r} "
             f"since {_when(record.status_since)}"]
    lines += [f"  {_when(t.at)}  {t.from_status!r} -> {t.to_status!r} ({t.time_source.value})"
              for t in store.transitions(source=record.source) if t.record_id == record.record_id]
    for evaluation in store.evaluations(record.source, record.record_id):
        lines += _evaluation_lines(evaluation)
    lines += [_ledger_line(entry) for entry in store.ledger_entries(record.record_id)]
    return lines


def _evaluation_lines(e: EvaluationRow) -> list[str]:
    verdict = "passed" if e.passed else "FAILED"
    lines = [f"  gate {e.gate_id} {verdict} (rules {e.rule_version}, {_when(e.evaluated_at)})"]
    lines += [f"    - {f.get('message') or f.get('check', 'check')}" for f in e.failures]
    lines.append(f"    values seen: {_values(e.values)}")
    return lines


def _ledger_line(entry: LedgerRow) -> str:
    remote = f", remote {entry.remote_id}" if entry.remote_id else ""
    error = f", last error: {_cut(entry.last_error)}" if entry.last_error and entry.state != "done" else ""
    return (f"  write-back {entry.kind} [{entry.gate_id}]: {entry.state}{remote}, "
            f"{entry.attempts} attempt(s){error}")


def _values(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} = {_cut(repr(value))}" for name, value in values.items()) or "none"


def _cut(text: str) -> str:
    return text if len(text) <= VALUE_WIDTH else text[:VALUE_WIDTH - 1] + "…"


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "unknown"


def command_preview(args: argparse.Namespace) -> int:
    from baton.engine.preview import preview, render
    from baton.kpi.commands import parse_moment

    config = load_config(args.config)
    rules = load_rule_set(config.rule_files())
    try:
        gate = rules.gate(args.gate)
    except KeyError:
        print(f"No gate {args.gate!r}; the rule files define: {', '.join(g.id for g in rules.gates)}")
        return exit_codes.PROBLEMS
    store = open_store(config)
    print(render(preview(gate, store, parse_moment(args.since, utcnow()))))
    return exit_codes.OK
