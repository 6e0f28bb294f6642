"""`baton check`: validate config.toml and the rule files; every problem, each where and what."""
from __future__ import annotations

import argparse
import sys

from baton.app import exit_codes
from baton.app.check import check
from baton.core.config import load_config
from baton.core.errors import ConfigError


def command_check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"config: {error}", file=sys.stderr)
        return exit_codes.USAGE
    report = check(config)
    if report.problems:
        # the findings are check's report, on stdout as linters do (exit 1); a config that
        # does not load is an error, on stderr (exit 2)
        print(f"{len(report.problems)} problem(s):")
        for problem in report.problems:
            print(f"  {problem}")
        return exit_codes.PROBLEMS
    assert report.rule_set is not None
    print(f"OK: {len(config.source)} source(s), {len(report.rule_set.gates)} gate(s) in "
          f"{len(report.files)} rule file(s), rule version {report.rule_set.version}")
    return exit_codes.OK
