"""`baton explain RECORD` and `baton preview GATE`: one record's story, one gate's trial run."""
from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from baton.app import exit_codes
from baton.app.exit_codes import Refused
from baton.app.state import open_recorded
from baton.core.clock import utcnow
from baton.core.config import Config, load_config
from baton.rules import load_rule_set
from baton.rules.lookup import LOOKED_UP
from baton.store import EvaluationRow, LedgerRow, StateStore, StoredRecord

VALUE_WIDTH = 80  # a value longer than this is cut in `explain` (the store keeps all of it)


def command_explain(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = open_recorded(config, "explain")
    found = find(config, store, args.record)
    if not found:
        raise Refused(f"no record {args.record!r} in the state ({config.baton.state}): give "
                      "its id, its URL (Salesforce, Asana) or its name as the tool shows it")
    if len(found) > 1 and not any(r.record_id == args.record for r in found):
        print(f"{len(found)} records match {args.record!r}; explain one of them by its id:",
              file=sys.stderr)
        for record in found[:20]:
            print(f"  {record.record_id}  {record.name!r} ({record.source}, {record.status!r})",
                  file=sys.stderr)
        return exit_codes.PROBLEMS
    for record in found:
        print("\n".join(explain_lines(store, record)))
    return exit_codes.OK


# The id inside a record URL: Salesforce Lightning / Classic, Asana task links.
_URL_IDS = (re.compile(r"/lightning/r/\w+/([0-9A-Za-z]{15,18})(?:/|$)"),
            re.compile(r"salesforce\.com/([0-9A-Za-z]{15,18})(?:[/?#]|$)"),
            re.compile(r"/task/(\d+)"), re.compile(r"asana\.com/0/\d+/(\d+)"))


def find(config: Config, store: StateStore, text: str) -> list[StoredRecord]:
    """Records by id, by the id inside a URL, else by name (case-insensitive, exact first)."""
    wanted = text.strip()
    for pattern in _URL_IDS:
        match = pattern.search(wanted)
        if match:
            wanted = match.group(1)
            break
    found = store.find_records(wanted)
    if not found and len(wanted) == 18:
        found = store.find_records(wanted[:15])
    if found:
        return found
    records = [r for s in config.source for r in store.stored_records(s.id)]
    exact = [r for r in records if (r.name or "").casefold() == wanted.casefold()]
    return exact or [r for r in records if wanted.casefold() in (r.name or "").casefold()]


def explain_lines(store: StateStore, record: StoredRecord) -> list[str]:
    """Why Baton did what it did to one record, as lines a person reads."""
    lines = [f"{record.source} {record.record_id}: {record.name!r}, status {record.status!r} "
             f"since {_when(record.status_since)}, owner {record.owner_label}"]
    lines += [f"  {_when(t.at)}  {t.from_status!r} -> {t.to_status!r} ({t.time_source.value})"
              for t in store.transitions(source=record.source) if t.record_id == record.record_id]
    for evaluation in store.evaluations(record.source, record.record_id):
        lines += _evaluation_lines(evaluation)
    lines += [_ledger_line(entry) for entry in store.ledger_entries(record.record_id)]
    return lines


def _evaluation_lines(e: EvaluationRow) -> list[str]:
    verdict = "HELD (waits for a fresh lookup source)" if e.held else "passed" if e.passed \
        else "FAILED"
    shadow = "; observe mode, nothing written" if e.observed else ""
    lines = [f"  gate {e.gate_id} {verdict} (rules {e.rule_version}, {_when(e.evaluated_at)}{shadow})"]
    lines += [f"    - {f.get('message') or f.get('check', 'check')}" for f in e.failures]
    basis = f" ({e.basis})" if e.basis and not e.held else ""  # an entry the record had left
    lines.append(f"    values seen{basis}: {_values(e.values)}")
    return lines


def _ledger_line(entry: LedgerRow) -> str:
    remote = f", remote {entry.remote_id}" if entry.remote_id else ""
    error = f", last error: {_cut(entry.last_error)}" if entry.last_error and entry.state != "done" else ""
    return (f"  write-back {entry.kind} [{entry.gate_id}]: {entry.state}{remote}, "
            f"{entry.attempts} attempt(s){error}")


def _values(values: Mapping[str, Any]) -> str:
    """Field values, shortened; what a cross-tool lookup saw is shown whole (it says why)."""
    return ", ".join(f"{name} = {repr(value) if LOOKED_UP in name else _cut(repr(value))}"
                     for name, value in values.items()) or "none"


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
        raise Refused(f"no gate {args.gate!r}; the rule files define: "
                      f"{', '.join(g.id for g in rules.gates)}") from None
    store = open_recorded(config, "preview")
    print(render(preview(gate, store, parse_moment(args.since, utcnow()))))
    return exit_codes.OK
