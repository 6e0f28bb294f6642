"""Loading rule files: read → resolve → validate → build, collecting every problem.

1. read: each file is parsed as TOML; each top-level table goes to its reader (TABLE_READERS),
   which validates its shape (rules.schema) and keeps it. Unknown tables are problems.
2. resolve + build: taxonomies first, then naming templates and UTM taxonomies (which may use
   taxonomies), then gates (which may use all three, from any file). Regexes and CEL expressions
   are compiled here, so the runtime never meets an invalid one.
3. If anything was wrong, `RuleFileError` lists every problem; otherwise a new `RuleSet`.

A reload builds a whole new RuleSet and the caller swaps it in only if this succeeds.

Adding a table kind (e.g. `[[sla]]`): add a reader to TABLE_READERS (and a build step), or pass
`accept=("sla",)` to load the table unparsed and read it from `RuleSet.raw_tables("sla")`.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .checks import (
    AllowedCheck, Check, Condition, DateOrderCheck, IsTrueCheck, LengthCheck, PatternCheck,
    RequiredCheck,
)
from .errors import Problem, RuleFileError
from .expressions import Expression, ExpressionCheck, ExpressionError
from baton.core.owners import OwnerRef

from .model import Gate, OnFail, OnPass, RawTable, RuleSet, Taxonomy
from .tasks import TaskSpec
from .naming import NamingCheck, NamingError, NamingTemplate
from .schema import (
    CHECK_KINDS, KIND_KEYS, CheckSpec, GateSpec, NamingSpec, OnFailSpec, OnPassSpec, TaxonomySpec,
    UtmSpec, found, key_path, problems_from,
)
from .templates import parse_template
from .utm import GroupEquals, UtmCheck, UtmParam, UtmTaxonomy
from .values import field_reader

_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


@dataclass
class _Loading:
    """Everything read so far, and every problem found."""

    problems: list[Problem] = field(default_factory=list)
    definitions: dict[str, dict[str, tuple[str, Any]]] = field(
        default_factory=lambda: {"taxonomy": {}, "naming": {}, "utm": {}}
    )
    gates: list[tuple[str, str, GateSpec]] = field(default_factory=list)  # file, label, spec
    raw: list[RawTable] = field(default_factory=list)
    broken: set[tuple[str, str]] = field(default_factory=set)  # (kind, name) defined but invalid
    kept: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)  # kind → (file, table)

    def problem(self, file: str, where: str, message: str) -> None:
        self.problems.append(Problem(file, where, message))

    def validate(self, model: type[BaseModel], value: Any, file: str, where: str) -> Any:
        try:
            return model.model_validate(value)
        except ValidationError as error:
            self.problems.extend(problems_from(error, file, where, model))
            return None


# ---------------------------------------------------------------- read
TableReader = Callable[[_Loading, str, Any], None]


def _definitions_reader(kind: str, model: type[BaseModel]) -> TableReader:
    def read(loading: _Loading, file: str, value: Any) -> None:
        if not isinstance(value, dict):
            loading.problem(file, kind, f"expected tables like [{kind}.<name>], found {found(value)}")
            return
        for name, table in value.items():
            where = key_path("", (kind, name))
            known = loading.definitions[kind]
            if name in known:
                loading.problem(file, where, f"{kind} {name!r} is already defined in {known[name][0]}")
                continue
            spec = loading.validate(model, table, file, where)
            if spec is None:
                loading.broken.add((kind, name))
            else:
                known[name] = (file, spec)

    return read


def _read_gates(loading: _Loading, file: str, value: Any) -> None:
    if not isinstance(value, list):
        loading.problem(file, "gate", f"expected [[gate]] tables (note the double brackets), "
                        f"found {found(value)}")
        return
    for index, table in enumerate(value):
        gate_id = table.get("id") if isinstance(table, dict) else None
        label = f"gate[{gate_id}]" if isinstance(gate_id, str) and gate_id else f"gate[{index + 1}]"
        spec = loading.validate(GateSpec, table, file, label)
        if spec is not None:
            loading.gates.append((file, label, spec))


def _keep_raw(kind: str, shape: type) -> TableReader:
    """For tables parsed by another module after reading (calendars, SLAs): keep them as read."""
    def read(loading: _Loading, file: str, value: Any) -> None:
        if not isinstance(value, shape):
            expected = f"[[{kind}]] tables" if shape is list else f"tables like [{kind}.<name>]"
            loading.problem(file, kind, f"expected {expected}, found {found(value)}")
            return
        loading.kept.setdefault(kind, []).append((file, value))

    return read


TABLE_READERS: dict[str, TableReader] = {
    "taxonomy": _definitions_reader("taxonomy", TaxonomySpec),
    "naming": _definitions_reader("naming", NamingSpec),
    "utm": _definitions_reader("utm", UtmSpec),
    "gate": _read_gates,
    "calendar": _keep_raw("calendar", dict),  # parsed by rules.sla
    "sla": _keep_raw("sla", list),  # parsed by rules.sla
}


def load_rule_set(paths: Sequence[Path], *, accept: Collection[str] = ()) -> RuleSet:
    """Load and build every rule file together; raises RuleFileError listing every problem.

    Definitions (taxonomies, naming templates, UTM taxonomies) may live in any of the files.
    `accept` names extra top-level tables to keep unparsed (see `RuleSet.raw_tables`).
    """
    loading = _Loading()
    contents: list[tuple[str, bytes]] = []
    for path in paths:
        file = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            loading.problem(file, "(file)", f"expected a readable rule file: {error.strerror}")
            continue
        contents.append((file, data))
        _read_file(loading, file, data, accept)
    taxonomies = _build_taxonomies(loading)
    naming = _build_naming(loading, taxonomies)
    utm = _build_utm(loading, taxonomies)
    gates = _build_gates(loading, taxonomies, naming, utm)
    calendars, slas = _build_slas(loading, {gate.id for gate in gates})
    if loading.problems:
        order = {str(path): index for index, path in enumerate(paths)}
        raise RuleFileError(sorted(loading.problems, key=lambda p: order.get(p.file, len(order))))
    return RuleSet(
        version=_version(contents), gates=tuple(gates), taxonomies=taxonomies,
        naming_templates=naming, utm_taxonomies=utm, calendars=calendars, slas=tuple(slas),
        files=tuple(file for file, _ in contents), raw=tuple(loading.raw),
    )


def _version(contents: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for file, data in sorted(contents):
        digest.update(Path(file).name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:12]


def _read_file(loading: _Loading, file: str, data: bytes, accept: Collection[str]) -> None:
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        loading.problem(file, "(file)", "expected UTF-8 text, found other bytes")
        return
    except tomllib.TOMLDecodeError as error:
        position = _TOML_LINE.search(str(error))
        where = f"line {position.group(1)}" if position else "(file)"
        reason = _TOML_LINE.sub("", str(error)).strip()
        loading.problem(file, where, f"expected valid TOML: {reason}")
        return
    for name, value in document.items():
        loading.raw.append(RawTable(file, name, value))
        reader = TABLE_READERS.get(name)
        if reader is not None:
            reader(loading, file, value)
        elif name not in accept:
            expected = ", ".join([*TABLE_READERS, *accept])
            loading.problem(file, key_path("", (name,)), f"unknown table; expected one of: {expected}")


# ---------------------------------------------------------------- build definitions
def _build_taxonomies(loading: _Loading) -> dict[str, Taxonomy]:
    return {
        name: Taxonomy(name, tuple(spec.values), dict(spec.labels), spec.description)
        for name, (_, spec) in loading.definitions["taxonomy"].items()
    }


def _unknown(kind: str, name: str, known: Collection[str]) -> str:
    return f"unknown {kind} {name!r}; defined: {', '.join(sorted(known)) or 'none'}"


def _build_naming(loading: _Loading, taxonomies: dict[str, Taxonomy]) -> dict[str, NamingTemplate]:
    vocabularies = {name: taxonomy.values for name, taxonomy in taxonomies.items()}
    built = {}
    for name, (file, spec) in loading.definitions["naming"].items():
        parts = {part: constraints.model_dump(exclude_none=True)
                 for part, constraints in spec.parts.items()}
        try:
            built[name] = NamingTemplate(name, spec.template, parts, vocabularies, spec.example)
        except NamingError as error:
            loading.problem(file, key_path("", ("naming", name, *error.key.split("."))), str(error))
            loading.broken.add(("naming", name))
    return built


def _compile(loading: _Loading, file: str, where: str, pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error as error:
        loading.problem(file, where, f"expected a regular expression, found {pattern!r}: "
                        f"{error.msg} at position {error.pos}")
        return None


def _build_utm(loading: _Loading, taxonomies: dict[str, Taxonomy]) -> dict[str, UtmTaxonomy]:
    built = {}
    for name, (file, spec) in loading.definitions["utm"].items():
        before = len(loading.problems)
        params = []
        for param, rule in spec.params.items():
            where = key_path("", ("utm", name, "params", param))
            given = [key for key in ("values", "taxonomy") if getattr(rule, key) is not None]
            if len(given) > 1:
                loading.problem(file, where, "expected values or taxonomy, found both")
            values: tuple[str, ...] = tuple(rule.values or ())
            if rule.taxonomy is not None:
                if rule.taxonomy in taxonomies:
                    values = taxonomies[rule.taxonomy].values
                else:
                    loading.problem(file, f"{where}.taxonomy",
                                    _unknown("taxonomy", rule.taxonomy, taxonomies))
            pattern = None
            if rule.pattern is not None:
                pattern = _compile(loading, file, f"{where}.pattern", rule.pattern)
                if pattern is not None and rule.example is not None \
                        and not pattern.fullmatch(rule.example):
                    loading.problem(file, f"{where}.example", f"expected an example matching "
                                    f"{rule.pattern!r}, found {rule.example!r}")
            groups = []
            for group, target in rule.group_equals.items():
                group_where = key_path(where, ("group_equals", group))
                if pattern is None:
                    if rule.pattern is None:
                        loading.problem(file, group_where, "expected a pattern with a named group "
                                        f"(?P<{group}>…) on this parameter, found no pattern")
                    continue
                if group not in pattern.groupindex:
                    loading.problem(file, group_where, f"expected the pattern to have a group "
                                    f"named {group!r} (write (?P<{group}>…)), found "
                                    f"{', '.join(pattern.groupindex) or 'no named groups'}")
                    continue
                field_pattern = None
                if target.pattern is not None:
                    field_pattern = _compile(loading, file, f"{group_where}.pattern", target.pattern)
                groups.append(GroupEquals(group, target.field, field_reader(target.field),
                                          field_pattern))
            params.append(UtmParam(param, values, pattern, rule.example, tuple(groups)))
        if len(loading.problems) == before:
            built[name] = UtmTaxonomy(name, tuple(spec.required), spec.lowercase,
                                      spec.no_duplicates, tuple(params), spec.description)
        else:
            loading.broken.add(("utm", name))
    return built


def _build_slas(loading: _Loading, gate_ids: set[str]) -> tuple[dict[str, Any], list[Any]]:
    """Calendars and SLA timers, parsed by rules.sla once every file is read."""
    from .sla import SlaProblems, parse_calendar, parse_sla

    calendars: dict[str, Any] = {}
    for file, tables in loading.kept.get("calendar", []):
        for name, table in tables.items():
            problems = SlaProblems()
            if name in calendars:
                problems.append((key_path("", ("calendar", name)), f"calendar {name!r} is "
                                 "defined twice"))
            calendar = parse_calendar(name, table, problems)
            loading.problems.extend(Problem(file, where, message) for where, message in problems)
            if calendar is not None and not problems:
                calendars[name] = calendar
    slas: list[Any] = []
    seen: dict[str, str] = {}
    for file, tables in loading.kept.get("sla", []):
        for index, table in enumerate(tables):
            problems = SlaProblems()
            rule = parse_sla(index, table, calendars, problems)
            if rule is not None:
                where = f"sla[{rule.id}]"
                if rule.id in seen:
                    problems.append((f"{where}.id", f"expected a unique SLA id, found {rule.id!r} "
                                     f"already used in {seen[rule.id]}"))
                if rule.after_gate is not None and rule.after_gate not in gate_ids:
                    problems.append((f"{where}.after_gate", _unknown("gate", rule.after_gate,
                                                                     gate_ids)))
            loading.problems.extend(Problem(file, where, message) for where, message in problems)
            if rule is not None and not problems:
                seen[rule.id] = file
                slas.append(rule)
    return calendars, slas


# ---------------------------------------------------------------- build gates
def _build_gates(loading: _Loading, taxonomies: dict[str, Taxonomy],
                 naming: dict[str, NamingTemplate], utm: dict[str, UtmTaxonomy]) -> list[Gate]:
    gates: list[Gate] = []
    seen_ids: dict[str, str] = {}
    for file, label, spec in loading.gates:
        if spec.id in seen_ids:
            loading.problem(file, f"{label}.id", f"expected a unique gate id, found {spec.id!r} "
                            f"already used in {seen_ids[spec.id]}")
            continue
        seen_ids[spec.id] = file
        checks: list[Check] = []
        check_ids: dict[str, int] = {}
        for index, raw in enumerate(spec.checks, 1):
            where = f"{label}.checks[{index}]"
            check = _build_check(loading, file, where, raw, taxonomies, naming, utm)
            if check is None:
                continue
            if check.id in check_ids:
                if "id" in raw:
                    loading.problem(file, f"{where}.id", f"expected a unique check id in this "
                                    f"gate, found {check.id!r} already used by "
                                    f"checks[{check_ids[check.id]}]")
                    continue
                suffix = 2
                while f"{check.id}-{suffix}" in check_ids:
                    suffix += 1
                check.id = f"{check.id}-{suffix}"
            check_ids[check.id] = index
            checks.append(check)
        on_fail = _build_on_fail(loading, file, label, spec)
        on_pass = _build_on_pass(loading, file, label, spec.on_pass)
        gates.append(Gate(
            id=spec.id, source=spec.source, enters=spec.enters, checks=tuple(checks),
            from_statuses=frozenset(spec.from_), on_fail=on_fail, on_pass=on_pass,
            description=spec.description, file=file,
        ))
    return gates


def _template(loading: _Loading, file: str, where: str, template: str | None) -> None:
    if template is None:
        return
    try:
        parse_template(template)
    except ValueError as error:
        loading.problem(file, where, f"{error}, found {found(template)}")


def _build_on_fail(loading: _Loading, file: str, label: str, spec: GateSpec) -> OnFail:
    rule: OnFailSpec | None = spec.on_fail
    if rule is None:
        return OnFail()
    where = f"{label}.on_fail"
    _template(loading, file, f"{where}.comment", rule.comment)
    task = None
    if rule.task is not None:
        _template(loading, file, f"{where}.task.subject", rule.task.subject)
        _template(loading, file, f"{where}.task.body", rule.task.body)
        try:
            owner = OwnerRef.parse(rule.task.owner)
        except ValueError as error:
            loading.problem(file, f"{where}.task.owner", str(error))
            owner = OwnerRef.parse("owner")
        task = TaskSpec(rule.task.subject, rule.task.body, owner)
    for name, value in rule.set.items():
        _template(loading, file, key_path(where, ("set", name)), value)
    if rule.move_to is not None and rule.move_to == spec.enters:
        loading.problem(file, f"{where}.move_to", f"expected a status other than the one this gate "
                        f"guards, found {rule.move_to!r} (the record would bounce into itself)")
    return OnFail(comment=rule.comment, task=task, move_to=rule.move_to, set=dict(rule.set))


def _build_on_pass(loading: _Loading, file: str, label: str, rule: OnPassSpec) -> OnPass:
    _template(loading, file, f"{label}.on_pass.note", rule.note)
    return OnPass(resolve=rule.resolve, note=rule.note)


def _build_check(loading: _Loading, file: str, where: str, raw: dict[str, Any],
                 taxonomies: dict[str, Taxonomy], naming: dict[str, NamingTemplate],
                 utm: dict[str, UtmTaxonomy]) -> Check | None:
    kinds = [kind for kind, (keys, _) in CHECK_KINDS.items()
             if kind != "required" and any(key in raw for key in keys)]
    if len(kinds) > 1:
        keys = [key for key in KIND_KEYS if key in raw and key != "required"]
        loading.problem(file, where, f"expected one kind of check, found {' and '.join(keys)} "
                        "(split them into separate checks)")
        return None
    if not kinds:
        if "required" not in raw:
            loading.problem(file, where, f"expected one of the check keys "
                            f"{', '.join(KIND_KEYS)}, found {', '.join(raw) or 'an empty table'}")
            return None
        kinds = ["required"]
    kind = kinds[0]
    model = CHECK_KINDS[kind][1]
    spec: CheckSpec | None = loading.validate(model, raw, file, where)
    if spec is None:
        return None
    before = len(loading.problems)
    _template(loading, file, f"{where}.message", spec.message)
    when = None
    if spec.when is not None:
        if spec.when.present is not None:
            when = Condition(spec.when.field, present=spec.when.present)
        else:
            expected = [spec.when.equals] if spec.when.equals is not None else spec.when.in_
            when = Condition(spec.when.field, expected=expected)
    default_id = "expr" if spec.field is None else f"{spec.field}.{kind}"
    common: dict[str, Any] = {
        "id": spec.id or default_id, "field": spec.field, "message": spec.message, "when": when,
        "optional": spec.optional,
    }
    check: Check | None = None
    if kind == "required":
        check = RequiredCheck(**common)
    elif kind == "pattern":
        regex = _compile(loading, file, f"{where}.pattern", spec.pattern)  # type: ignore[attr-defined]
        example = spec.example  # type: ignore[attr-defined]
        if regex is not None and example is not None and not regex.fullmatch(example):
            loading.problem(file, f"{where}.example", f"expected an example matching the pattern, "
                            f"found {example!r}")
        if regex is not None:
            check = PatternCheck(regex=regex, example=example, **common)
    elif kind == "allowed":
        check = AllowedCheck(values=spec.allowed, ignore_case=spec.ignore_case, **common)  # type: ignore[attr-defined]
    elif kind == "taxonomy":
        name = spec.taxonomy  # type: ignore[attr-defined]
        if name in taxonomies:
            check = AllowedCheck(values=taxonomies[name].values, ignore_case=spec.ignore_case,  # type: ignore[attr-defined]
                                 **common)
        else:
            loading.problem(file, f"{where}.taxonomy", _unknown("taxonomy", name, taxonomies))
    elif kind == "length":
        check = LengthCheck(min_length=spec.min_length, max_length=spec.max_length, **common)  # type: ignore[attr-defined]
    elif kind == "is_true":
        check = IsTrueCheck(**common)
    elif kind == "date_order":
        check = DateOrderCheck(before=spec.before_field, after=spec.after_field,  # type: ignore[attr-defined]
                               allow_equal=spec.allow_equal, **common)  # type: ignore[attr-defined]
    elif kind == "naming":
        name = spec.naming  # type: ignore[attr-defined]
        if name in naming:
            check = NamingCheck(template=naming[name], **common)
        elif ("naming", name) not in loading.broken:
            loading.problem(file, f"{where}.naming", _unknown("naming template", name, naming))
    elif kind == "utm":
        name = spec.utm  # type: ignore[attr-defined]
        if name in utm:
            check = UtmCheck(taxonomy=utm[name], **common)
        elif ("utm", name) not in loading.broken:
            loading.problem(file, f"{where}.utm", _unknown("UTM taxonomy", name, utm))
    elif kind == "expr":
        try:
            check = ExpressionCheck(expression=Expression(spec.expr), **common)  # type: ignore[attr-defined]
        except ExpressionError as error:
            loading.problem(file, f"{where}.expr", f"expected a valid CEL expression, found "
                            f"{found(spec.expr)}: {error}")  # type: ignore[attr-defined]
    return check if len(loading.problems) == before else None
