"""Baton's command line and daemon loop.

    baton run [--once] [--dry-run]   poll every source on its interval and guard its handoffs
    baton check                      validate config.toml and the rule files; non-zero on problems
    baton demo                       the whole loop against the built-in sandbox, no credentials
    baton explain RECORD             why Baton did what it did to one record
    baton report                     KPIs: table, JSON, CSV or the HTML Handoff Health Scorecard
    baton audit --sample N           a random sample of last month's handoffs, for review
    baton map                        the workflows and gates as a Mermaid flowchart
    baton backfill --since 90d       fill the transition log from history, with no write-backs
    baton preview GATE               try a gate on the current records and the recorded history
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import schedule
import structlog

from baton.app.runtime import load_secrets, open_runtime
from baton.connectors.retry import RetryPolicy
from baton.core import logs
from baton.core.clock import utcnow
from baton.core.config import Config, SalesforceSource, load_config
from baton.core.errors import ConfigError
from baton.engine.runner import SourcePool
from baton.rules import RuleFileError, load_rule_set
from baton.rules.evaluate import fields_read
from baton.store import StateStore

log = structlog.get_logger()


def command_run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    logs.configure(config.baton.log_format)
    stopping = threading.Event()
    # Retry waits (a Retry-After of a minute) end early on SIGTERM: the remaining attempts run
    # at once and the cycle ends; what it leaves pending is safe in the ledger.
    runtime = open_runtime(config, retry=RetryPolicy(sleep=stopping.wait))
    runner = runtime.runner(dry_run=args.dry_run)
    if args.once or args.dry_run:
        reports = runner.run_all()
        runtime.close()
        for source_id, report in reports.items():
            if args.dry_run and report is not None:
                print(f"{source_id}: {len(report.planned)} action(s) planned (dry run, nothing written)")
                for line in report.planned:
                    print(f"  {line}")
        return 0 if all(h.consecutive_failures == 0 for h in runner.health.values()) else 1

    def stop(signum: int, _frame: object) -> None:
        log.info("daemon.stopping", signal=signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pool = SourcePool(runner, {s.id: s.tool for s in config.source})
    scheduler = schedule.Scheduler()
    for source in config.source:
        scheduler.every(config.interval_for(source)).seconds.do(pool.submit, source.id)
    if config.baton.health_port:
        from baton.app.health import serve

        serve(runner, config.baton.health_port)
    log.info("daemon.started", sources=[s.id for s in config.source],
             health_port=config.baton.health_port or None)
    for source in config.source:
        pool.submit(source.id)
    while not stopping.is_set():
        scheduler.run_pending()
        stopping.wait(min(1.0, max(0.05, scheduler.idle_seconds or 1.0)))
    pool.stop()
    runtime.close()
    log.info("daemon.stopped")
    return 0


def command_check(args: argparse.Namespace) -> int:
    problems: list[str] = []
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"config: {error}")
        return 2
    files = config.rule_files()
    if not files:
        problems.append(f"{config.path}: baton.rules matches no rule file ({config.baton.rules})")
    try:
        rule_set = load_rule_set(files)
    except RuleFileError as error:
        problems.extend(str(p) for p in error.problems)
    else:
        configured = {s.id for s in config.source}
        named = [(f"gate {g.id}", g.source, [g.enters, *g.from_statuses, g.on_fail.move_to])
                 for g in rule_set.gates]
        named += [(f"sla {s.id}", s.source, [s.starts, *s.reach]) for s in rule_set.slas]
        for what, source, statuses in named:
            if source not in configured:
                problems.append(f"{what}: source {source!r} is not configured "
                                f"(known: {', '.join(sorted(configured)) or 'none'})")
            workflow = _workflow_of(config, source)
            for status in statuses:
                if workflow and status and status not in workflow:
                    problems.append(f"{what}: status {status!r} is not in the workflow of "
                                    f"{source} ({', '.join(workflow)})")
        for gate in rule_set.gates:
            problems.extend(_unfetched_fields(config, gate))
    if problems:
        print(f"{len(problems)} problem(s):")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print(f"OK: {len(config.source)} source(s), {len(rule_set.gates)} gate(s) in {len(files)} "
          f"rule file(s), rule version {rule_set.version}")
    return 0


def _unfetched_fields(config: Config, gate: Any) -> list[str]:
    """Salesforce reads only the fields a source names: a gate reading another one would see
    nothing and fail every record."""
    try:
        source = config.source_by_id(gate.source)
    except KeyError:
        return []
    if not isinstance(source, SalesforceSource):
        return []  # Asana custom fields and sheet headers are only known to the live tool
    fetched = {"Id", "Name", "OwnerId", source.status_field, *source.fields}
    return [f"gate {gate.id}: reads {name!r}, which {source.id} does not fetch "
            f"(add it to that source's `fields` in {config.path})"
            for name in sorted(fields_read(gate) - fetched)]


def _workflow_of(config: Config, source_id: str) -> list[str]:
    try:
        return list(config.source_by_id(source_id).workflow)
    except KeyError:
        return []


def command_explain(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = StateStore.open(config.resolve(config.baton.state))
    found = store.find_records(args.record)
    if not found:
        print(f"No record {args.record!r} in the state store ({config.baton.state}).")
        return 1
    for record in found:
        print(f"{record['source']} {record['record_id']}: {record['name']!r}, "
              f"status {record['status']!r} since {record['status_since']}")
        for t in store.transitions(source=record["source"]):
            if t.record_id == record["record_id"]:
                print(f"  {t.at.isoformat()}  {t.from_status!r} -> {t.to_status!r} ({t.time_source.value})")
        for e in store.evaluations(record["source"], record["record_id"]):
            verdict = "passed" if e["passed"] else "FAILED"
            print(f"  gate {e['gate_id']} {verdict} (rules {e['rule_version']}, {e['evaluated_at']})")
            for failure in json.loads(e["failures_json"]):
                print(f"    - {failure['message']}")
            print(f"    values seen: {e['values_json']}")
        for entry in store.ledger_entries(record["record_id"]):
            print(f"  write-back {entry['kind']} [{entry['gate_id']}]: {entry['state']}"
                  f" remote={entry['remote_id']} attempts={entry['attempts']}")
    return 0


def command_report(args: argparse.Namespace) -> int:
    from baton.kpi import commands

    config = load_config(args.config)
    store = StateStore.open(config.resolve(config.baton.state))
    report = commands.report(config, store, since=args.since, until=args.until, now=utcnow())
    text = commands.RENDERERS[args.format](report)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text)
    if args.to_sheet:
        _write_kpi_tab(config, report, args.to_sheet)
    return 0


def _write_kpi_tab(config: Config, report: Any, target: str) -> None:
    from baton.connectors.sheets import write_rows
    from baton.kpi import rows_for_sheet

    spreadsheet_id, _, tab = target.partition("!")
    rows = rows_for_sheet(report)
    secrets = load_secrets(config)
    write_rows(config.sheets, secrets, spreadsheet_id, tab or "Baton KPIs", rows)
    print(f"KPI tab written: {spreadsheet_id} / {tab or 'Baton KPIs'} ({len(rows)} rows, RAW)")


def command_audit(args: argparse.Namespace) -> int:
    from baton.kpi import commands

    config = load_config(args.config)
    store = StateStore.open(config.resolve(config.baton.state))
    print(commands.audit(config, store, sample=args.sample, seed=args.seed, now=utcnow(),
                         since=args.since))
    return 0


def command_map(args: argparse.Namespace) -> int:
    from baton.kpi import commands

    config = load_config(args.config)
    print(commands.mermaid_map(config, load_rule_set(config.rule_files())))
    return 0


def command_backfill(args: argparse.Namespace) -> int:
    from baton.engine.backfill import backfill
    from baton.kpi.commands import parse_moment

    config = load_config(args.config)
    logs.configure(config.baton.log_format)
    runtime = open_runtime(config)
    since = parse_moment(args.since, utcnow())
    for source_id, connector in runtime.connectors.items():
        added = backfill(source_id, connector, runtime.store, since, utcnow())
        print(f"{source_id}: {added} transition(s) backfilled from history (no write-backs)")
    runtime.close()
    return 0


def command_preview(args: argparse.Namespace) -> int:
    from baton.engine.preview import preview, render
    from baton.kpi.commands import parse_moment

    config = load_config(args.config)
    rules = load_rule_set(config.rule_files())
    try:
        gate = rules.gate(args.gate)
    except KeyError:
        print(f"No gate {args.gate!r}; the rule files define: {', '.join(g.id for g in rules.gates)}")
        return 1
    store = StateStore.open(config.resolve(config.baton.state))
    print(render(preview(gate, store, parse_moment(args.since, utcnow()))))
    return 0


def command_demo(args: argparse.Namespace) -> int:
    from baton.app.demo import run_demo

    return run_demo(args.config, workdir=args.workdir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baton", description="Guards marketing handoffs.")
    parser.add_argument("--config", type=Path, default=Path("config.toml"),
                        help="the config file (default ./config.toml)")
    # --config is accepted before or after the command: `baton check --config x.toml`.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", parents=[common], help="poll the sources and guard their handoffs")
    run.add_argument("--once", action="store_true", help="one cycle per source, then exit")
    run.add_argument("--dry-run", action="store_true",
                     help="print the planned actions; write nothing to the tools or the state")
    run.set_defaults(handler=command_run)

    check = commands.add_parser("check", parents=[common], help="validate config and rules")
    check.set_defaults(handler=command_check)

    demo = commands.add_parser("demo", parents=[common], help="run the whole loop on the built-in sandbox")
    demo.add_argument("--workdir", type=Path, default=None,
                      help="where the demo keeps its state (default: a temporary folder)")
    demo.set_defaults(handler=command_demo)

    explain = commands.add_parser("explain", parents=[common], help="why Baton acted on a record")
    explain.add_argument("record")
    explain.set_defaults(handler=command_explain)

    report = commands.add_parser("report", parents=[common], help="KPI report / scorecard")
    report.add_argument("--since", default="30d", help="'30d', 'YYYY-MM-DD' or ISO (default 30d)")
    report.add_argument("--until", default=None, help="default: now")
    report.add_argument("--format", choices=["table", "json", "csv", "html"], default="table")
    report.add_argument("--out", type=Path, default=None, help="write to a file instead of stdout")
    report.add_argument("--to-sheet", default=None, metavar="SPREADSHEET_ID[!TAB]",
                        help="also write the KPIs into a Sheet tab (RAW values)")
    report.set_defaults(handler=command_report)

    audit = commands.add_parser("audit", parents=[common], help="sample last month's handoffs")
    audit.add_argument("--sample", type=int, default=20)
    audit.add_argument("--seed", type=int, default=None)
    audit.add_argument("--since", default=None, help="instead of last month: e.g. 30d")
    audit.set_defaults(handler=command_audit)

    mermaid = commands.add_parser("map", parents=[common], help="workflows and gates as Mermaid")
    mermaid.set_defaults(handler=command_map)

    backfill = commands.add_parser("backfill", parents=[common],
                                   help="fill the transition log from history, no write-backs")
    backfill.add_argument("--since", default="90d")
    backfill.set_defaults(handler=command_backfill)

    trial = commands.add_parser("preview", parents=[common],
                                help="try a gate on current records and recorded transitions")
    trial.add_argument("gate")
    trial.add_argument("--since", default="30d", help="how far back to replay (default 30d)")
    trial.set_defaults(handler=command_preview)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    except RuleFileError as error:
        print(f"rule files have problems:\n{error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
