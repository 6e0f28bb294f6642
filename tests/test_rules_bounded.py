"""Bounded evaluation (issue #11): admin regexes run on RE2 and naming templates in linear time,
CEL expressions are bounded at load and in their inputs, and one record's checks stop at a
time budget with a failure that says so. The time bounds carry a wide margin (50 ms for work
that takes ~1-3 ms) so a loaded machine does not make them flaky."""
from __future__ import annotations

import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from baton.core.records import Record
from baton.rules import RuleFileError, evaluate_gate, load_rule_set
from baton.rules.evaluate import CHECK_BUDGET_SECONDS

AT = datetime(2026, 11, 24, tzinfo=timezone.utc)
DEMO = sorted((Path(__file__).parent.parent / "rules" / "demo").glob("*.toml"))
BOUND = 0.050  # seconds, for one evaluation of a 50,000-character value


def record(name: str = "n", **fields) -> Record:
    return Record(source="s", id="1", url="", name=name, status=None, owner=None,
                  fields=fields, modified_at=AT)


def gate_file(tmp_path: Path, checks: str, extra: str = "") -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(textwrap.dedent(f"""
        [[gate]]
        id = "g"
        source = "s"
        enters = "Ready"
        checks = [{checks}]
        """) + textwrap.dedent(extra), encoding="utf-8")
    return path


def problems(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(RuleFileError) as caught:
        load_rule_set([path])
    return [(p.where, p.message) for p in caught.value.problems]


def timed(gate, rec) -> tuple[float, list[str]]:
    started = time.perf_counter()
    result = evaluate_gate(gate, rec)
    return time.perf_counter() - started, result.messages


NAMES = {  # name → does it follow the template?
    "the sheet cell of issue #11": ("CMP-1113_display_" + "a_" * 25_000 + "!", False),
    "one long asset part": ("CMP-1113_display_" + "a-" * 24_990 + "a_v1_20261124", True),
    "no separators at all": ("a" * 50_000, False),
    "a bad date at the end": ("CMP-1113_display_" + "a" * 49_990 + "_v1_2026112", False),
}


@pytest.mark.parametrize(("name", "follows"), NAMES.values(), ids=NAMES.keys())
def test_the_demo_naming_template_takes_linear_time(tmp_path, name, follows):
    rules = load_rule_set([*DEMO, gate_file(tmp_path, '{ field = "name", naming = "asset-name" }')])
    gate = rules.gate("g")
    assert len(name) >= 50_000
    elapsed, messages = timed(gate, record(name, **{"Campaign ID": "CMP-1113", "Channel": "display"}))
    assert elapsed < BOUND, elapsed
    assert (messages == []) == follows, messages


@pytest.mark.parametrize("value", ["a" * 50_000 + "!", "a" * 50_000], ids=["fails", "passes"])
def test_a_catastrophic_pattern_takes_linear_time(tmp_path, value):
    gate = load_rule_set([gate_file(tmp_path, "{ field = \"X\", pattern = '(a+)+$' }")]).gate("g")
    elapsed, messages = timed(gate, record(X=value))
    assert elapsed < BOUND
    assert bool(messages) == value.endswith("!")


def test_utm_patterns_take_linear_time(tmp_path):
    gate = load_rule_set([*DEMO, gate_file(tmp_path, '{ field = "URL", utm = "campaign-links" }')])\
        .gate("g")
    url = ("https://acme.example/?utm_source=linkedin&utm_medium=paid-social&utm_campaign=cmp-1234"
           + "-a" * 25_000 + "-!")
    elapsed, messages = timed(gate, record(URL=url, **{"Campaign ID": "CMP-1234"}))
    assert elapsed < BOUND and any("utm_campaign" in m for m in messages)


FEATURE = ("expected a regular expression without backreferences or lookaround, found {!r}, "
           "which uses a feature the linear-time engine cannot run: {}")


@pytest.mark.parametrize(("pattern", "feature"), [
    (r"(a)\1", "a backreference (\\1 …)"),
    (r"CMP-(?=\d)", "a lookahead (?=…)"),
    (r"(?<!x)CMP", "a negative lookbehind (?<!…)"),
    (r"(?P<n>a)(?P=n)", "a named backreference (?P=…)"),
])
def test_a_pattern_needing_backtracking_is_refused_at_load(tmp_path, pattern, feature):
    toml_pattern = pattern.replace("\\", "\\\\")
    path = gate_file(tmp_path, f'{{ field = "X", pattern = "{toml_pattern}" }}')
    assert problems(path) == [("gate[g].checks[1].pattern", FEATURE.format(pattern, feature))]


def test_naming_parts_and_utm_parameters_are_refused_the_same_way(tmp_path):
    path = gate_file(tmp_path, '{ field = "X", required = true }', extra=r"""
        [naming.n]
        template = "{a}_{b}"
        parts = { a = { pattern = '(x)\1' } }

        [utm.u.params.utm_campaign]
        pattern = 'cmp-(?!0)\d+'
        """)
    assert problems(path) == [
        ("naming.n.parts.a.pattern", FEATURE.format(r"(x)\1", "a backreference (\\1 …)")),
        ("utm.u.params.utm_campaign.pattern", FEATURE.format(r"cmp-(?!0)\d+",
                                                             "a negative lookahead (?!…)")),
    ]


def nested_map(depth: int) -> str:
    body = "x1"
    for level in range(depth, 0, -1):
        body = f"[1,2,3,4,5,6,7,8,9,10].map(x{level}, {body})"
    return body + ".size() > 0"


@pytest.mark.parametrize(("expr", "reason"), [
    (nested_map(6), "comprehensions (all, exists, exists_one, filter, map) may nest at most 2 "
                    "deep, found 6 (their run times multiply)"),
    ("fields.a.all(x, fields.b.map(y, y).size() > 0)",
     "'map' may not run inside another comprehension ('all'): its run time grows with the "
     "square of the list"),
    ("fields.a.size() > 0 && " + " && ".join(["true"] * 500),
     "an expression may have at most 2000 characters, found 4019"),
])
def test_expressions_that_could_run_away_are_refused_at_load(tmp_path, expr, reason):
    path = gate_file(tmp_path, f'{{ expr = "{expr}", message = "m" }}')
    [(where, message)] = problems(path)
    assert where == "gate[g].checks[1].expr"
    assert message.startswith("expected a valid CEL expression, found ") and \
        message.endswith(f": {reason}")


def test_bounded_expressions_still_load_and_run(tmp_path):
    gate = load_rule_set([gate_file(tmp_path, """
        { expr = "fields.a.all(x, fields.b.exists(y, y == x))", message = "every a is a b" },
        { expr = "fields.a.map(x, x + 1).size() == 3", message = "three" },
    """)]).gate("g")
    assert evaluate_gate(gate, record(a=[1, 2, 3], b=[3, 2, 1, 0])).passed


def test_a_field_value_too_large_for_an_expression_fails_with_a_message(tmp_path):
    gate = load_rule_set([gate_file(tmp_path, '{ expr = "fields.a.exists(x, x == 0)", '
                                              'message = "m" }')]).gate("g")
    elapsed, messages = timed(gate, record(a=list(range(50_000))))
    assert elapsed < BOUND
    assert messages == ["Rule expression could not be evaluated: 'a' is too large for an "
                        "expression: more than 1000 items"]


def test_a_record_past_the_time_budget_is_not_checked_further(tmp_path):
    gate = load_rule_set([gate_file(tmp_path, """
        { id = "first", field = "A", required = true },
        { id = "second", field = "B", required = true },
        { id = "third", field = "C", required = true },
    """)]).gate("g")
    rec = record(A="a", B="b")  # C would fail, if it were checked
    assert CHECK_BUDGET_SECONDS == 0.2
    assert [f.check_id for f in evaluate_gate(gate, rec).failures] == ["third"]
    result = evaluate_gate(gate, rec, budget=0.0)  # every check takes longer than no time
    assert result.passed is False and result.timed_out == "first"
    assert [(f.check_id, f.field, f.message) for f in result.failures] == [
        ("first", "A", "This record could not be checked in time: the checks passed Baton's 0 s "
                       "limit at 'first', so 2 later check(s) did not run; please tell your Baton "
                       "admin")]
    assert result.values_seen == {"A": "a"}


def test_a_last_check_past_the_budget_still_counts(tmp_path):
    gate = load_rule_set([gate_file(tmp_path, '{ field = "A", required = true }')]).gate("g")
    assert evaluate_gate(gate, record(A="a"), budget=0.0).passed
    assert evaluate_gate(gate, record(), budget=0.0).messages == ["A is missing"]


def test_a_file_nested_thousands_deep_is_a_problem_not_a_crash(tmp_path) -> None:
    from baton.rules import RuleFileError, load_rule_set

    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(RuleFileError) as raised:
        load_rule_set([deep])
    assert f"{deep}: (file): expected TOML of reasonable depth" in str(raised.value)
