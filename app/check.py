"""What `baton check` rejects, `baton run` refuses to start on: one function for both."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from baton.connectors.capabilities import CAPABILITIES
from baton.core.actions import ActionKind
from baton.core.config import Config, SalesforceSource
from baton.core.owners import OwnerRef
from baton.rules import Gate, LookupCheck, RuleFileError, RuleSet, load_rule_set
from baton.rules.templates import SLA_PLACEHOLDERS, STANDARD_PLACEHOLDERS, placeholders
from baton.rules.evaluate import fields_read
from baton.rules.examples import check_problems as example_problems


@dataclass(frozen=True)
class CheckReport:
    problems: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    rule_set: RuleSet | None = None  # None when the rule files did not load


def check_problems(config: Config) -> list[str]:
    """Every problem of the rule files against this config, each naming where and what."""
    return check(config).problems


def check(config: Config) -> CheckReport:
    problems: list[str] = []
    files = config.rule_files()
    if not files:
        problems.append(f"{config.path}: baton.rules matches no rule file ({config.baton.rules})")
    try:
        rule_set = load_rule_set(files)
    except RuleFileError as error:
        return CheckReport([*problems, *(str(p) for p in error.problems)], files)
    except Exception as error:  # noqa: BLE001 - whatever breaks the loader is a problem to report
        return CheckReport([*problems, f"rule files: {type(error).__name__}: {error}"], files)
    return CheckReport([*problems, *problems_against(config, rule_set, files)], files, rule_set)


def problems_against(config: Config, rule_set: RuleSet, files: list[Path]) -> list[str]:
    """What a rule set that loaded still gets wrong against this config: the part of `check`
    that hot reload runs too, so a reload never swaps in what `check` would reject."""
    problems = [f"{file}: defines nothing (empty, or comments only): a rule file that guards no "
                "handoff is a mistake; delete it or add a gate" for file in files if _empty(file)]
    if files and not rule_set.gates and not rule_set.slas:
        problems.append("the rule files define no gate and no SLA: every handoff would go "
                        "unchecked")
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
        problems.extend(_lookup_problems(config, gate, configured))
    # the rule tests beside the files
    problems.extend(example_problems(files, rule_set, lambda source: fetched_fields(config, source)))
    write_backs = _write_backs(rule_set)
    problems.extend(_unsupported_writes(config, write_backs))
    problems.extend(_unknown_placeholders(config, write_backs))
    return problems


@dataclass(frozen=True)
class _WriteBack:
    """One write-back a rule asks for: who asks, on which source, what, for whom, with which
    message templates (key path -> template)."""

    what: str
    source: str
    kind: ActionKind | None  # None: text only (a resolution note: how it goes out is the tool's)
    owner: OwnerRef | None = None
    templates: dict[str, str] = field(default_factory=dict)


def _write_backs(rule_set: RuleSet) -> list[_WriteBack]:
    found: list[_WriteBack] = []
    for gate in rule_set.gates:
        spec, what, source = gate.on_fail, f"gate {gate.id}", gate.source
        if spec.comment is not None:
            found.append(_WriteBack(what, source, ActionKind.COMMENT,
                                    templates={"on_fail.comment": spec.comment}))
        if spec.task is not None:
            found.append(_WriteBack(what, source, ActionKind.TASK, spec.task.owner,
                                    {"on_fail.task.subject": spec.task.subject,
                                     "on_fail.task.body": spec.task.body}))
        if spec.move_to:
            found.append(_WriteBack(what, source, ActionKind.MOVE_STATUS))
        if spec.digest_above is not None:
            found.append(_WriteBack(what, source, ActionKind.DIGEST))
        if spec.set:
            found.append(_WriteBack(what, source, ActionKind.SET_FIELD, templates={
                f"on_fail.set.{name}": value for name, value in spec.set.items()}))
        if gate.on_pass.resolve and gate.on_pass.note:
            found.append(_WriteBack(what, source, None, templates={"on_pass.note": gate.on_pass.note}))
    for sla in rule_set.slas:
        for number, step in enumerate(sla.steps, 1):
            what = f"sla {sla.id} step {number}"
            if step.comment:
                found.append(_WriteBack(what, sla.source, ActionKind.COMMENT,
                                        templates={"comment": step.comment}))
            if step.task:
                found.append(_WriteBack(what, sla.source, ActionKind.TASK, step.task.owner,
                                        {"task.subject": step.task.subject,
                                         "task.body": step.task.body}))
            if step.reassign:
                found.append(_WriteBack(what, sla.source, ActionKind.REASSIGN, step.reassign))
            if step.notify:
                found.append(_WriteBack(what, sla.source, ActionKind.NOTIFY,
                                        templates={"notify_text": step.notify_text}))
    return found


def _unknown_placeholders(config: Config, write_backs: list[_WriteBack]) -> list[str]:
    """A `{nmae}` in a task subject wrote a real Task titled "Handoff blocked: ". Where the
    fields a source reads are known here (Salesforce: the ones it fetches), a placeholder that
    is neither Baton's nor such a field is refused; for Asana and Sheets `baton doctor` checks
    them against the live project and header."""
    problems = []
    for wanted in write_backs:
        fetched = fetched_fields(config, wanted.source)
        if fetched is None:
            continue
        known = {*STANDARD_PLACEHOLDERS, *fetched,
                 *(SLA_PLACEHOLDERS if wanted.what.startswith("sla ") else ())}
        for where, template in wanted.templates.items():
            for name in dict.fromkeys(placeholders(template)):
                if name not in known:
                    problems.append(f"{wanted.what}: {where} uses {{{name}}}, which is neither "
                                    f"a Baton placeholder nor a field {wanted.source} fetches")
    return problems


def _unsupported_writes(config: Config, write_backs: list[_WriteBack]) -> list[str]:
    """A rule asking a tool for a write-back it cannot carry out (a task on a sheet row, a
    subtask for a queue in Asana) would fail on every violation: refuse it here."""
    problems = []
    for wanted in write_backs:
        if wanted.kind in (None, ActionKind.NOTIFY):
            continue  # text only, or posted by the engine (a chat webhook)
        try:
            tool = config.source_by_id(wanted.source).tool
        except KeyError:
            continue  # named above: the source is not configured
        refusal = CAPABILITIES[tool].refuses(wanted.kind, wanted.owner)
        if refusal:
            problems.append(f"{wanted.what}: {tool} {refusal}")
    return problems


def fetched_fields(config: Config, source_id: str) -> set[str] | None:
    """The fields a Salesforce source reads (it reads only those); None where only the live
    tool knows them (Asana custom fields, sheet headers) or the source is not configured."""
    try:
        source = config.source_by_id(source_id)
    except KeyError:
        return None
    if not isinstance(source, SalesforceSource):
        return None
    return {"Id", "Name", "OwnerId", source.status_field, *source.fields}


def _empty(file: Path) -> bool:
    try:
        return not tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # unreadable or invalid: the loader has named it already


def _unfetched_fields(config: Config, gate: Gate) -> list[str]:
    """Salesforce reads only the fields a source names: a gate reading another one would see
    nothing and fail every record."""
    fetched = fetched_fields(config, gate.source)
    if fetched is None:
        return []
    return [f"gate {gate.id}: reads {name!r}, which {gate.source} does not fetch "
            f"(add it to that source's `fields` in {config.path})"
            for name in sorted(fields_read(gate) - fetched)]


def _lookup_problems(config: Config, gate: Gate, configured: set[str]) -> list[str]:
    """A cross-tool check reads another source's snapshot: that source must be polled here,
    and, where its fetched fields are known (Salesforce), fetch the key and every field the
    check reads; `baton doctor` checks the others on the live tool."""
    problems = []
    for check in gate.checks:
        if not isinstance(check, LookupCheck):
            continue
        where = f"gate {gate.id}: check {check.id} looks up {check.source!r}"
        if check.source not in configured:
            problems.append(f"{where}, which is not a configured source (known: "
                            f"{', '.join(sorted(configured)) or 'none'}); configure it in "
                            f"{config.path} so Baton keeps a copy to look into")
            continue
        fetched = fetched_fields(config, check.source)
        if fetched is None:
            continue
        for name in sorted(check.their_fields - fetched - {"id", "name", "status"}):
            what = "its key" if name == check.key else "a field"
            problems.append(f"{where}: {what} {name!r} is not fetched by {check.source} (add "
                            f"it to that source's `fields` in {config.path})")
    return problems


def _workflow_of(config: Config, source_id: str) -> list[str]:
    try:
        return list(config.source_by_id(source_id).workflow)
    except KeyError:
        return []
