"""Rule tests: example records with the decision an admin expects, run like a test suite.

They live in a `tests/` folder beside the rule files, one file per rule file and named like it:
`rules/tests/leads.toml` tests the gates of `rules/leads.toml` (the demo's are in
`rules/demo/tests/`). A rules glob never loads them as rules; a test file runs whenever its rule
file is loaded, and one whose rule file does not exist is a problem. Each holds `[[example]]`
tables:

    [[example]]
    name = "lead without consent"          # unique in its file; the diff names it
    gate = "mql-entry"
    fields = { Email = "ada@example.com", Company = "Acme", Consent__c = false }
    expect = "fail"                        # or "pass"
    failing = ["Consent__c"]               # optional: exactly these fields (or check ids) fail
    # record = "Ada Lovelace"              # optional: the record's name (for `name` checks)

The example is a record of the gate's source entering the gate's status; it runs through the
real evaluator (`evaluate_gate`). Validation is like the rule files': every problem with its
file and line (an unknown gate, a field the gate does not read, a bad `expect`).
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from baton.core.records import Record

from .build import Build, NonEmpty, Spec
from .errors import RuleFileError, found
from .evaluate import evaluate_gate, fields_read
from .expressions import ExpressionCheck
from .model import Gate, GateResult, RuleSet

EXAMPLES_FOLDER = "tests"
_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*example[ \t]*\]\]", re.MULTILINE)
_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


class ExampleSpec(Spec):
    name: NonEmpty
    gate: NonEmpty
    fields: dict[str, Any] = {}
    expect: Literal["pass", "fail"]
    failing: list[NonEmpty] | None = None
    record: NonEmpty = Field("Example record")  # the record's name
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class Example:
    file: str
    line: int | None  # the line of its [[example]] header
    name: str
    gate: Gate
    fields: Mapping[str, Any]
    expect_pass: bool
    failing: frozenset[str] | None  # None: any failures will do
    record_name: str
    owner: str | None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def record(self, now: datetime) -> Record:
        gate = self.gate
        return Record(gate.source, f"example:{self.name}", "", self.record_name, gate.enters,
                      self.owner, dict(self.fields), now)

    def expected(self) -> str:
        if self.expect_pass:
            return "pass"
        return "fail" + (f" on {_listed(self.failing)}" if self.failing else "")


@dataclass(frozen=True, slots=True)
class Outcome:
    example: Example
    result: GateResult

    @property
    def failing(self) -> frozenset[str]:
        """What failed, as an example names it: the check's field, else its id."""
        return frozenset(f.field or f.check_id for f in self.result.failures)

    @property
    def ok(self) -> bool:
        e = self.example
        if e.expect_pass:
            return self.result.passed
        return not self.result.passed and (e.failing is None or e.failing == self.failing)

    def actual(self) -> str:
        if self.result.passed:
            return "pass"
        return f"fail on {_listed(self.failing)}"

    def diff(self) -> list[str]:
        """What a person reads for a mismatch: expected, actual, and the messages."""
        e = self.example
        lines = [f"{e.where}: example {e.name!r} (gate {e.gate.id})",
                 f"  - expected: {e.expected()}", f"  + actual:   {self.actual()}"]
        lines += [f"      {f.field or f.check_id}: {f.message}" for f in self.result.failures]
        return lines


def example_files(rule_files: Sequence[Path]) -> list[Path]:
    """The test file of each rule file (`<folder>/tests/<its name>`) that exists, in order."""
    found = (Path(file).parent / EXAMPLES_FOLDER / Path(file).name for file in rule_files)
    return [path for path in found if path.is_file()]


def orphan_files(rule_files: Sequence[Path]) -> list[Path]:
    """Test files beside the rule files that name no rule file there (a renamed rule file, a
    typo): their examples would never run."""
    folders = dict.fromkeys(Path(file).parent for file in rule_files)
    return sorted(p for folder in folders for p in (folder / EXAMPLES_FOLDER).glob("*.toml")
                  if not (folder / p.name).is_file())


KnownFields = Callable[[str], "set[str] | None"]  # a source id -> the fields it reads, if known


def load_examples(files: Sequence[Path], rules: RuleSet,
                  known: KnownFields = lambda source: None) -> list[Example]:
    """Every example of every file; raises RuleFileError listing every problem.

    An example's field must be one its source has: `known(source)` where the config tells
    (Salesforce reads only the fields it names), else one some gate of that source reads; a
    field a rule edit stopped reading is still a field, so the example stays valid."""
    ctx = Build()
    examples: list[Example] = []
    for path in files:
        examples += _read(ctx.in_file(str(path)), Path(path), rules, known)
    if ctx.problems:
        raise RuleFileError(ctx.problems)
    return examples


def run_examples(examples: Sequence[Example], now: datetime | None = None) -> list[Outcome]:
    moment = now or datetime.now(UTC)
    return [Outcome(e, evaluate_gate(e.gate, e.record(moment))) for e in examples]


def _read(ctx: Build, path: Path, rules: RuleSet, known: KnownFields) -> list[Example]:
    try:
        text = path.read_text(encoding="utf-8")
        document = tomllib.loads(text)
    except OSError as error:
        ctx.problem("(file)", f"expected a readable rule test file: {error.strerror}")
        return []
    except UnicodeDecodeError:
        ctx.problem("(file)", "expected UTF-8 text, found other bytes")
        return []
    except tomllib.TOMLDecodeError as error:
        position = _TOML_LINE.search(str(error))
        ctx.problem(f"line {position.group(1)}" if position else "(file)",
                    f"expected valid TOML: {_TOML_LINE.sub('', str(error)).strip()}")
        return []
    except RecursionError:
        ctx.problem("(file)", "expected TOML of reasonable depth, found arrays or tables "
                              "nested thousands deep")
        return []
    for key in document:
        if key != "example":
            ctx.problem(key, "unknown table; a rule test file holds [[example]] tables only")
    tables = document.get("example", [])
    if not isinstance(tables, list) or not tables:
        ctx.problem("example", f"expected [[example]] tables (note the double brackets), "
                    f"found {found(tables) if tables else 'none'}")
        return []
    lines = [text.count("\n", 0, m.start()) + 1 for m in _HEADER.finditer(text)]
    out: list[Example] = []
    seen: set[str] = set()
    for index, table in enumerate(tables):
        line = lines[index] if len(lines) == len(tables) else None
        where = f"line {line}: example[{index + 1}]" if line else f"example[{index + 1}]"
        spec = ctx.validate(ExampleSpec, table, where)
        if spec is None:
            continue
        where = f"line {line}: example {spec.name!r}" if line else f"example {spec.name!r}"
        if spec.name in seen:
            ctx.problem(where, "expected a unique example name in this file, found it twice")
        seen.add(spec.name)
        example = _build(ctx, where, str(path), line, spec, rules, known)
        if example is not None:
            out.append(example)
    return out


def _build(ctx: Build, where: str, file: str, line: int | None, spec: ExampleSpec,
           rules: RuleSet, known: KnownFields) -> Example | None:
    try:
        gate = rules.gate(spec.gate)
    except KeyError:
        ctx.problem(f"{where}.gate", f"expected a gate the rule files define "
                    f"({_listed({g.id for g in rules.gates})}), found {spec.gate!r}")
        return None
    before = ctx.count()
    read = fields_read(gate)
    fields = known(gate.source)
    if fields is None:
        same_source = [g for g in rules.gates if g.source == gate.source]
        # CEL over the whole `fields` map may read any field: then no field name is unknown
        if not any(isinstance(c, ExpressionCheck) and c.expression.field_names is None
                   for g in same_source for c in g.checks):
            fields = set().union(*(fields_read(g) for g in same_source))
    for name in spec.fields:
        if fields is not None and name not in fields:
            ctx.problem(f"{where}.fields", f"expected fields of {gate.source} "
                        f"({_listed(fields)}), found {name!r}")
    if spec.failing is not None:
        if spec.expect == "pass":
            ctx.problem(f"{where}.failing", "expected no `failing` on an example that passes")
        # a field the example gives, or the source has, may stop failing after a rule edit:
        # that is a decision that changed (a mismatch), not a typo
        names = read | set(fields or ()) | set(spec.fields) | {"name", "status"} | {
            check.id for check in gate.checks}
        for name in spec.failing:
            if fields is not None and name not in names:
                ctx.problem(f"{where}.failing", f"expected fields or check ids of gate "
                            f"{gate.id} ({_listed(names)}), found {name!r}")
    if ctx.count() != before:
        return None
    fields_as_tools_give = {name: _as_text(value) for name, value in spec.fields.items()}
    return Example(file, line, spec.name, gate, fields_as_tools_give, spec.expect == "pass",
                   None if spec.failing is None else frozenset(spec.failing), spec.record,
                   spec.owner)


def check_problems(rule_files: Sequence[Path], rules: RuleSet,
                   known: KnownFields = lambda source: None) -> list[str]:
    """`baton check`'s part: a test file that does not load, or an example whose decision is
    not the expected one, is a problem naming the example."""
    orphans = [f"{path}: tests no rule file: expected {path.parent.parent / path.name} "
               "beside it (a rule test file is named like the rule file it tests)"
               for path in orphan_files(rule_files)]
    try:
        outcomes = run_examples(load_examples(example_files(rule_files), rules, known))
    except RuleFileError as error:
        return [*orphans, *(str(p) for p in error.problems)]
    return [*orphans, *[f"{o.example.where}: example {o.example.name!r} (gate {o.example.gate.id}): "
            f"expected {o.example.expected()}, got {o.actual()}" for o in outcomes if not o.ok]]


def _as_text(value: Any) -> Any:
    """A TOML date or time (`Due = 2026-11-20`) as the ISO text the tools give Baton."""
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list):
        return [_as_text(item) for item in value]
    return value


def _listed(names: frozenset[str] | set[str] | None) -> str:
    return ", ".join(sorted(names or ())) or "nothing"


__all__ = ["Example", "ExampleSpec", "Outcome", "check_problems", "example_files",
           "load_examples", "orphan_files", "run_examples"]
