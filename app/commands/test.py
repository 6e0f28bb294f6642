"""`baton test`: run the rule tests (`tests/*.toml` beside the rule files) like a test suite.

Each example is a record entering a gate's status with the decision the admin expects; it runs
through the same loader and evaluator as `baton run`. A mismatch prints the expected and the
actual decision (and the messages) naming the example, and the exit code is 1; a test file that
does not validate is a configuration error (exit 2), every problem with its file and line.
"""
from __future__ import annotations

import argparse
from datetime import UTC, datetime

from baton.app import exit_codes
from baton.app.check import fetched_fields
from baton.app.exit_codes import Refused
from baton.core.config import load_config
from baton.rules import load_rule_set
from baton.rules import Problem, RuleFileError
from baton.rules.examples import (EXAMPLES_FOLDER, example_files, load_examples, orphan_files,
                                  run_examples)


def command_test(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    rule_files = config.rule_files()
    rules = load_rule_set(rule_files)
    files = example_files(rule_files)
    orphans = orphan_files(rule_files)
    if orphans:
        raise RuleFileError([Problem(str(p), "(file)", "expected a rule file of the same name in "
                                     f"{p.parent.parent}: this test file tests none")
                             for p in orphans])
    if not files:
        folders = sorted({str(f.parent / EXAMPLES_FOLDER) for f in rule_files}) or ["(no rule files)"]
        raise Refused(f"no rule tests: put a file of [[example]] tables named like its rule file "
                      f"in {', '.join(folders)} (see rules/README.md, \"Rule tests\")")
    examples = load_examples(files, rules, lambda source: fetched_fields(config, source))
    outcomes = run_examples(examples, datetime.now(UTC))
    failed = [o for o in outcomes if not o.ok]
    for outcome in outcomes:
        mark = "ok  " if outcome.ok else "FAIL"
        print(f"{mark} {outcome.example.gate.id}: {outcome.example.name} "
              f"({outcome.actual()})")
    for outcome in failed:
        print()
        print("\n".join(outcome.diff()))
    print(f"\n{len(outcomes)} example(s) in {len(files)} file(s), rules {rules.version}: "
          f"{len(outcomes) - len(failed)} as expected, {len(failed)} not")
    return exit_codes.PROBLEMS if failed else exit_codes.OK
