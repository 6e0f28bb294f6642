"""`baton doctor`: connect with the configured credentials and check, read-only, that every tool
has what the config and the rules name: a ✓/✗ checklist per source, the fix under each ✗.

What each source must have is worked out here from config.toml and the rule files (`Needs`);
each tool's probe (connectors/<tool>/doctor.py) looks it up with describe / metadata reads only.
Exit 0 when everything is ✓, 1 on any ✗ (2 for a config that does not load, as everywhere).
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from baton.app import exit_codes
from baton.app.check import check
from baton.app.runtime import load_secrets
from baton.connectors.diagnosis import Finding, Needs, bad, failure
from baton.connectors.retry import RetryPolicy
from baton.core import logs
from baton.core.config import AsanaSource, Config, SalesforceSource, Secrets, SheetsSource, load_config
from baton.core.errors import BatonError
from baton.core.owners import OwnerKind
from baton.rules import LookupCheck, RuleSet
from baton.rules.evaluate import fields_read
from baton.rules.templates import (
    SLA_PLACEHOLDERS, STANDARD_PLACEHOLDERS, TemplateSyntaxError, parse_template,
)


class _Collect:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = defaultdict(list)
        self.statuses: dict[str, list[str]] = defaultdict(list)
        self.owners: dict[str, list[str]] = defaultdict(list)
        self.placeholders: dict[str, list[str]] = defaultdict(list)
        self.comments: list[str] = []
        self.tasks: list[str] = []

    def texts(self, who: str, *templates: str | None, extra: Iterable[str] = ()) -> None:
        skip = {*STANDARD_PLACEHOLDERS, *extra}
        for template in templates:
            if not template:
                continue
            try:
                names = [name for _, name in parse_template(template) if name]
            except TemplateSyntaxError:
                continue  # `baton check` names it
            for name in names:
                if name not in skip and who not in self.placeholders[name]:
                    self.placeholders[name].append(who)

    def owner(self, who: str, reference: Any) -> None:
        text = str(reference) if reference is not None else ""
        if text.partition(":")[0] in (OwnerKind.USER.value, OwnerKind.QUEUE.value):
            self.owners[text].append(who)

    def needs(self, source_id: str) -> Needs:
        freeze = lambda d: {k: tuple(v) for k, v in d.items()}  # noqa: E731
        return Needs(source_id, freeze(self.fields), freeze(self.statuses), freeze(self.owners),
                     tuple(self.comments), tuple(self.tasks), freeze(self.placeholders),
                     STANDARD_PLACEHOLDERS)


def needs_of(config: Config, rules: RuleSet) -> dict[str, Needs]:
    """What each configured source must have for these rules."""
    collected = {source.id: _Collect() for source in config.source}
    for gate in rules.gates:
        need = collected.get(gate.source)
        if need is None:
            continue
        who = f"gate {gate.id}"
        for name in fields_read(gate):
            need.fields[name].append(who)
        for lookup in gate.checks:  # a cross-tool check reads fields of the source it looks into
            looked_into = collected.get(lookup.source) if isinstance(lookup, LookupCheck) else None
            if isinstance(lookup, LookupCheck) and looked_into is not None:
                for name in sorted(lookup.their_fields - {"id", "name", "status"}):
                    looked_into.fields[name].append(f"{who} (lookup from {gate.source})")
        for status in (gate.enters, *gate.from_statuses, gate.on_fail.move_to):
            if status:
                need.statuses[status].append(who)
        fail = gate.on_fail
        if fail.comment is not None or (gate.on_pass.resolve and gate.on_pass.note):
            need.comments.append(who)
        need.texts(who, fail.comment, gate.on_pass.note, *fail.set.values())
        if fail.task is not None:
            need.tasks.append(who)
            need.owner(who, fail.task.owner)
            need.texts(who, fail.task.subject, fail.task.body)
    for sla in rules.slas:
        need = collected.get(sla.source)
        if need is None:
            continue
        who = f"sla {sla.id}"
        for status in (sla.starts, *sla.reach):
            need.statuses[status].append(who)
        for step in sla.steps:
            if step.task is not None:
                need.tasks.append(who)
                need.owner(who, step.task.owner)
                need.texts(who, step.task.subject, step.task.body, extra=SLA_PLACEHOLDERS)
            if step.comment:
                need.comments.append(who)
                need.texts(who, step.comment, extra=SLA_PLACEHOLDERS)
            if step.reassign:
                need.owner(who, step.reassign)
    return {source_id: c.needs(source_id) for source_id, c in collected.items()}


def diagnose(config: Config, secrets: Secrets, rules: RuleSet,
             retry: RetryPolicy | None = None) -> dict[str, list[Finding]]:
    """source id -> its findings; every call a read."""
    retry = retry or RetryPolicy(attempts=2, max_elapsed=20.0)
    needs = needs_of(config, rules)
    clients: dict[str, Any] = {}
    out: dict[str, list[Finding]] = {}
    try:
        for source in config.source:
            counter: Counter[str] = Counter()
            try:
                out[source.id] = _probe(config, secrets, retry, clients, source, needs[source.id],
                                        counter)
            except BatonError as error:
                out[source.id] = [failure(source.tool, error)]
    finally:
        for client in clients.values():
            close = getattr(client, "close", None)
            if close is not None:
                close()
    return out


def _probe(config: Config, secrets: Secrets, retry: RetryPolicy, clients: dict[str, Any],
           source: Any, needs: Needs, counter: Counter[str]) -> list[Finding]:
    if isinstance(source, SalesforceSource):
        from baton.connectors.salesforce import SalesforceOrg
        from baton.connectors.salesforce.doctor import probe as sf_probe
        org = clients.get("salesforce") or SalesforceOrg(config.salesforce, secrets, retry)
        clients["salesforce"] = org
        return sf_probe(org, source, needs, counter)
    if isinstance(source, AsanaSource):
        from baton.connectors.asana import AsanaWorkspace
        from baton.connectors.asana.doctor import probe as asana_probe
        workspace = clients.get("asana") or AsanaWorkspace(config.asana, secrets, retry)
        clients["asana"] = workspace
        return asana_probe(workspace, source, needs, counter)
    if isinstance(source, SheetsSource):
        from baton.connectors.sheets import SheetsClient
        from baton.connectors.sheets.doctor import probe as sheets_probe
        client = clients.get("sheets") or SheetsClient(config.sheets, secrets, retry)
        clients["sheets"] = client
        return sheets_probe(client, source, needs, counter)
    return [bad(f"unknown tool {getattr(source, 'tool', '?')}", "see docs/going-live.md")]


def render(findings: dict[str, list[Finding]], config: Config) -> str:
    lines: list[str] = []
    tools = {s.id: s.tool for s in config.source}
    for source_id, items in findings.items():
        lines.append(f"{source_id} ({tools.get(source_id, 'config')})")
        for item in items:
            lines.append(f"  {'✓' if item.ok else '✗'} {item.what}")
            if not item.ok and item.fix:
                lines.append(f"      fix: {item.fix}")
    failed = sum(not f.ok for items in findings.values() for f in items)
    lines.append("all checks passed" if not failed else
                 f"{failed} problem(s) found: fix each ✗ and run `baton doctor` again")
    return "\n".join(lines)


def command_doctor(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    logs.configure(config.baton.log_format, level=logging.WARNING, stream=sys.stderr)
    report = check(config)
    if report.rule_set is None or report.problems:
        print(render({"config and rules": [bad(p, "see `baton check`") for p in report.problems]},
                     config))
        return exit_codes.PROBLEMS
    findings = diagnose(config, load_secrets(config), report.rule_set)
    print(render(findings, config))
    failed = any(not f.ok for items in findings.values() for f in items)
    return exit_codes.PROBLEMS if failed else exit_codes.OK
