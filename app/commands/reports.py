"""`baton report`, `baton audit` and `baton map`: read the state, the config and the rules."""
from __future__ import annotations

import argparse
from typing import Any

from baton.app import exit_codes
from baton.app.runtime import load_secrets
from baton.app.exit_codes import Refused, UsageError
from baton.app.state import open_recorded
from baton.core.clock import utcnow
from baton.core.config import Config, SheetsSource, load_config
from baton.core.errors import ConfigError, SourceError
from baton.rules import load_rule_set


def command_report(args: argparse.Namespace) -> int:
    from baton.kpi import commands

    config = load_config(args.config)
    if args.to_sheet:
        _refuse_watched_tab(config, args.to_sheet)
    if args.out and not args.out.parent.is_dir():
        raise UsageError(f"--out {args.out}: the folder {args.out.parent} does not exist; "
                         "create it first or name another file")
    store = open_recorded(config, "report")
    report = commands.report(config, store, since=args.since, until=args.until, now=utcnow())
    text = commands.RENDERERS[args.format](report)
    if args.out:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as error:
            raise UsageError(f"--out {args.out}: cannot write it ({error.strerror})") from None
    else:
        print(text)
    if args.to_sheet:
        _write_kpi_tab(config, report, args.to_sheet)
    return exit_codes.OK


def _refuse_watched_tab(config: Config, target: str) -> None:
    """The KPI tab must not be a tab a source watches: it would replace the team's rows."""
    spreadsheet_id, _, tab = target.partition("!")
    for source in config.source:
        if (isinstance(source, SheetsSource) and source.spreadsheet_id == spreadsheet_id
                and source.tab == (tab or "Baton KPIs")):
            raise ConfigError(f"--to-sheet {target}: that tab is source {source.id}, which Baton "
                              "watches; name another tab for the KPI report")


def _write_kpi_tab(config: Config, report: Any, target: str) -> None:
    from baton.connectors.sheets import write_rows
    from baton.kpi.render import rows_for_sheet

    spreadsheet_id, _, tab = target.partition("!")
    rows = rows_for_sheet(report)
    secrets = load_secrets(config)
    try:
        write_rows(config.sheets, secrets, spreadsheet_id, tab or "Baton KPIs", rows)
    except SourceError as error:
        raise Refused(f"--to-sheet {target}: the KPI tab could not be written ({error}); share "
                      "the spreadsheet with the service account's email as Editor") from None
    print(f"KPI tab written: {spreadsheet_id} / {tab or 'Baton KPIs'} ({len(rows)} rows, RAW)")


def command_audit(args: argparse.Namespace) -> int:
    from baton.kpi import commands

    config = load_config(args.config)
    store = open_recorded(config, "audit")
    print(commands.audit(config, store, sample=args.sample, seed=args.seed, now=utcnow(),
                         since=args.since))
    return exit_codes.OK


def command_map(args: argparse.Namespace) -> int:
    from baton.kpi import commands

    config = load_config(args.config)
    print(commands.mermaid_map(config, load_rule_set(config.rule_files())))
    return exit_codes.OK
