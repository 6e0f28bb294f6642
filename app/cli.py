"""Baton's command line: the parser, the dispatch, and errors turned into exit codes.

    baton run [--once] [--dry-run]   poll every source on its interval and guard its handoffs
    baton check                      validate config.toml and the rule files; non-zero on problems
    baton test                       run the rule tests (example records, expected decisions)
    baton doctor                     check, read-only, that the tools have what config and rules name
    baton demo                       the whole loop against the built-in sandbox, no credentials
    baton sandbox                    the emulated tools in the foreground, and a config for them
    baton explain RECORD             why Baton did what it did to one record
    baton report                     KPIs: table, JSON, CSV or the HTML Handoff Health Scorecard
    baton audit --sample N           a random sample of last month's handoffs, for review
    baton map                        the workflows and gates as a Mermaid flowchart
    baton backfill --since 90d       fill the transition log from history, with no write-backs
    baton preview GATE               try a gate on the current records and the recorded history
    baton reset-state                move the state file aside; the next run takes a new baseline
    baton migrate-state --to URL     copy the SQLite state into an empty PostgreSQL database
    baton status                     instances, the sources each holds, last success per source

The commands live in `baton.app.commands`; the exit codes in `baton.app.exit_codes`.
A user error (a bad option value, a missing folder, an empty state) is one line on stderr that
says what to do, never a traceback; output cut short by a closed pipe (`| head`) is not an error.
`NO_COLOR` turns colours off in the pretty logs.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from importlib import metadata
from pathlib import Path

from baton.app import exit_codes
from baton.app.exit_codes import Refused, UsageError
from baton.core.clock import utcnow
from baton.core.errors import ConfigError, StateFileError, StateLocked, StateNotWritable
from baton.rules.errors import RuleFileError

# What each error a command raises on purpose means for the exit code, most specific first.
EXIT_CODES: list[tuple[type[Exception], int, str]] = [
    (UsageError, exit_codes.USAGE, "baton: {error}"),
    (Refused, exit_codes.PROBLEMS, "baton: {error}"),
    (ConfigError, exit_codes.USAGE, "configuration error: {error}"),
    (RuleFileError, exit_codes.USAGE, "rule files have problems:\n{error}"),
    (StateLocked, exit_codes.STATE_LOCKED, "{error}"),
    (StateNotWritable, exit_codes.STATE_NOT_WRITABLE, "{error}"),
    (StateFileError, exit_codes.STATE_FILE, "{error}"),
]


def lazy(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """A command's handler, imported when it runs: `baton check` never loads the sandbox, the
    KPI code or a tool SDK it does not use, and the daemon stays light (PRODUCT: memory)."""

    def handler(args: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module(module), name)(args) or 0)

    return handler


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line: what was wrong and where help is."""

    def error(self, message: str) -> None:  # type: ignore[override]  # typeshed says NoReturn; exit() never returns either
        self.exit(exit_codes.USAGE, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def version() -> str:
    try:
        return metadata.version("baton-revops")
    except metadata.PackageNotFoundError:
        return "unknown"


def moment(text: str, *, future: bool = False) -> str:
    """--since: '30d', 'YYYY-MM-DD' or ISO, not in the future (checked, kept as text)."""
    from baton.kpi.commands import parse_moment

    now = utcnow()
    try:
        when = parse_moment(text, now)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not future and when > now + timedelta(minutes=1):
        raise argparse.ArgumentTypeError(f"{text!r} is in the future; give a past moment, "
                                         "e.g. '30d' or a date before today")
    return text


def end_moment(text: str) -> str:
    """--until: like --since, and it may be in the future."""
    return moment(text, future=True)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="baton", description="Guards marketing handoffs.",
                    epilog="exit codes: 0 ok, 1 problems found, 2 usage or configuration, "
                           "65 unusable state file, 73 state not writable, 75 state locked "
                           "by another Baton")
    parser.add_argument("--version", action="version", version=f"baton {version()}")
    parser.add_argument("--config", type=Path, default=Path("config.toml"),
                        help="the config file (default ./config.toml)")
    # --config is accepted before or after the command: `baton check --config x.toml`.
    common = Parser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                        help="the config file (default ./config.toml; relative paths in it are "
                             "relative to its folder)")
    commands = parser.add_subparsers(dest="command", required=True)
    wait_help = "if another Baton writes this state, wait for it to end instead of exiting 75"

    run = commands.add_parser("run", parents=[common], help="poll the sources and guard their handoffs")
    run.add_argument("--once", action="store_true", help="one cycle per source, then exit")
    run.add_argument("--dry-run", action="store_true",
                     help="print the planned actions; write nothing to the tools or the state")
    run.add_argument("--wait-for-lock", action="store_true", help=wait_help)
    run.set_defaults(handler=lazy("baton.app.commands.run", "command_run"))

    check = commands.add_parser("check", parents=[common], help="validate config and rules")
    check.set_defaults(handler=lazy("baton.app.commands.check", "command_check"))

    test = commands.add_parser("test", parents=[common],
                               help="run the rule tests: example records and expected decisions")
    test.set_defaults(handler=lazy("baton.app.commands.test", "command_test"))

    doctor = commands.add_parser("doctor", parents=[common],
                                 help="check, read-only, that the tools have what the rules name")
    doctor.set_defaults(handler=lazy("baton.app.doctor", "command_doctor"))

    demo = commands.add_parser("demo", parents=[common], help="run the whole loop on the built-in sandbox")
    demo.add_argument("--keep", type=Path, default=None, metavar="DIR",
                      help="keep the state, a config for it and the scorecard in DIR, and "
                           "print the commands to try next (default: a temporary folder)")
    demo.add_argument("--workdir", type=Path, default=None, help=argparse.SUPPRESS)
    demo.set_defaults(handler=lazy("baton.app.commands.run", "command_demo"))

    sandbox = commands.add_parser("sandbox", parents=[common],
                                  help="run the emulated tools in the foreground, with a config")
    sandbox.add_argument("--dir", type=Path, default=Path("baton-sandbox"),
                         help="where its CA, config and state go (default ./baton-sandbox)")
    sandbox.set_defaults(handler=lazy("baton.app.commands.sandbox", "command_sandbox"))

    explain = commands.add_parser("explain", parents=[common], help="why Baton acted on a record")
    explain.add_argument("record", help="a record id, its URL, or its name (matches are listed)")
    explain.set_defaults(handler=lazy("baton.app.commands.explain", "command_explain"))

    report = commands.add_parser("report", parents=[common], help="KPI report / scorecard")
    report.add_argument("--since", default="30d", type=moment,
                        help="'30d', 'YYYY-MM-DD' or ISO (default 30d)")
    report.add_argument("--until", default=None, type=end_moment, help="default: now")
    report.add_argument("--format", choices=["table", "json", "csv", "html"], default="table")
    report.add_argument("--out", type=Path, default=None, help="write to a file instead of stdout")
    report.add_argument("--to-sheet", default=None, metavar="SPREADSHEET_ID[!TAB]",
                        help="also write the KPIs into a Sheet tab (RAW values)")
    report.set_defaults(handler=lazy("baton.app.commands.reports", "command_report"))

    audit = commands.add_parser("audit", parents=[common], help="sample last month's handoffs")
    audit.add_argument("--sample", type=int, default=20)
    audit.add_argument("--seed", type=int, default=None)
    audit.add_argument("--since", default=None, type=moment, help="instead of last month: e.g. 30d")
    audit.set_defaults(handler=lazy("baton.app.commands.reports", "command_audit"))

    mermaid = commands.add_parser("map", parents=[common], help="workflows and gates as Mermaid")
    mermaid.set_defaults(handler=lazy("baton.app.commands.reports", "command_map"))

    backfill = commands.add_parser("backfill", parents=[common],
                                   help="fill the transition log from history, no write-backs")
    backfill.add_argument("--since", default="90d", type=moment, help="how far back (default 90d)")
    backfill.add_argument("--wait-for-lock", action="store_true", help=wait_help)
    backfill.set_defaults(handler=lazy("baton.app.commands.run", "command_backfill"))

    trial = commands.add_parser("preview", parents=[common],
                                help="try a gate on current records and recorded transitions")
    trial.add_argument("gate")
    trial.add_argument("--since", default="30d", type=moment, help="how far back to replay (default 30d)")
    trial.set_defaults(handler=lazy("baton.app.commands.explain", "command_preview"))

    reset = commands.add_parser("reset-state", parents=[common],
                                help="move the state file aside (kept); the next run takes a new baseline")
    reset.set_defaults(handler=lazy("baton.app.commands.state", "command_reset_state"))

    status = commands.add_parser("status", parents=[common],
                                 help="instances, the sources each holds, last success per source")
    status.add_argument("--format", choices=["text", "json"], default="text")
    status.set_defaults(handler=lazy("baton.app.commands.status", "command_status"))

    migrate = commands.add_parser("migrate-state", parents=[common],
                                  help="copy the SQLite state into an empty PostgreSQL database")
    migrate.add_argument("--to", required=True, metavar="postgresql://USER@HOST/DB",
                         help="the target database (password from BATON_STATE_PASSWORD)")
    migrate.set_defaults(handler=lazy("baton.app.commands.state", "command_migrate_state"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except tuple(kind for kind, _, _ in EXIT_CODES) as error:
        code, message = next((c, m) for kind, c, m in EXIT_CODES if isinstance(error, kind))
        print(message.format(error=error), file=sys.stderr)
        return code
    except BrokenPipeError:
        # `baton report | head`: the reader left; say nothing more (and let the interpreter's
        # final flush go nowhere instead of raising again)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return exit_codes.OK


if __name__ == "__main__":
    sys.exit(main())
