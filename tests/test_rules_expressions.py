"""The CEL expression check: sandboxed, errors become failures, results must be booleans."""
from __future__ import annotations

import textwrap
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from baton.core.records import Record
from baton.rules import RuleFileError, evaluate_gate, load_rule_set

AT = datetime(2026, 11, 24, tzinfo=timezone.utc)


class Sneaky:
    """A Python object in a field value: it must reach CEL as text, never as an object."""

    def __str__(self) -> str:
        return "sneaky"

    def __call__(self) -> str:  # pragma: no cover - must never run
        raise AssertionError("CEL called into Python")


def record(fields: dict, status: str | None = "Ready") -> Record:
    return Record(source="s", id="r1", url="https://example.com/r1", name="Ada", status=status,
                  owner=None, fields=fields, modified_at=AT)


def failures(tmp_path: Path, expr: str, fields: dict, status: str | None = "Ready") -> list[str]:
    path = tmp_path / "rules.toml"
    path.write_text(textwrap.dedent(f"""
        [[gate]]
        id = "g"
        source = "s"
        enters = "Ready"
        checks = [{{ expr = {expr!r}, message = "Expression is false" }}]
        """), encoding="utf-8")
    gate = load_rule_set([path]).gates[0]
    return [f.message for f in evaluate_gate(gate, record(fields, status)).failures]


@pytest.mark.parametrize(("expr", "fields", "status", "expected"), [
    ("fields['Amount'] > 0 || record.status == 'Draft'", {"Amount": 5}, "Ready", []),
    ("fields['Amount'] > 0 || record.status == 'Draft'", {"Amount": 0}, "Ready", ["Expression is false"]),
    ("fields['Amount'] > 0 || record.status == 'Draft'", {"Amount": 0}, "Draft", []),
    ("has(fields.Amount)", {}, "Ready", ["Expression is false"]),
    ("'Amount' in fields", {"Amount": None}, "Ready", []),
    ("fields.Tags.exists(t, t == 'vip')", {"Tags": ["a", "vip"]}, "Ready", []),
    ("fields['Launch'] > fields['Due']", {"Launch": date(2026, 12, 1), "Due": "2026-11-30"}, "Ready", []),
    ("record.name == 'Ada' && record.url.startsWith('https://')", {}, "Ready", []),
    ("now > timestamp('2020-01-01T00:00:00Z')", {}, "Ready", []),
    ("fields.Wide == 'sneaky'", {"Wide": Sneaky()}, "Ready", []),
    ("size(fields) == 2", {"a": 1, "b": {"nested": [1, 2]}}, "Ready", []),
    ("fields.Big > 0", {"Big": 2**80}, "Ready", []),
])
def test_expression_results(tmp_path, expr, fields, status, expected):
    assert failures(tmp_path, expr, fields, status) == expected


@pytest.mark.parametrize(("expr", "fields", "reason"), [
    ("fields['Amount'] > 0", {}, "no value for 'Amount' on this record"),
    ("fields['Amount'] > 0", {"Amount": "12"}, "No such overload"),
    ("1 / fields.Zero == 1", {"Zero": 0}, "division by zero"),
    ("int(fields.N) > 0", {"N": "abc"}, "Function 'int' error"),
    ("fields.Name.matches(fields.Regex)", {"Name": "a", "Regex": "("}, "Function 'matches' error"),
    ("fields.Amount.foo == 1", {"Amount": 3}, ""),
])
def test_runtime_errors_are_failures_with_a_clear_message(tmp_path, expr, fields, reason):
    [message] = failures(tmp_path, expr, fields)
    assert message.startswith("Rule expression could not be evaluated: ")
    assert reason in message


@pytest.mark.parametrize(("expr", "shown"), [("1", "1"), ("'yes'", "'yes'"), ("null", "None"),
                                             ("[true]", "[True]")])
def test_a_non_boolean_result_is_a_failure(tmp_path, expr, shown):
    assert failures(tmp_path, expr, {}) == [f"Rule expression returned {shown}, expected true or false"]


@pytest.mark.parametrize("expr", [
    "__import__('os').system('echo pwned') == 0",
    "open('/etc/passwd') != ''",
    "eval('1') == 1",
    "os.system('id') == 0",
    "fields.Obj() == 1",
])
def test_python_names_are_unknown_at_load(tmp_path, expr):
    with pytest.raises(RuleFileError, match="checks\\[1\\].expr: expected a valid CEL expression.*unknown"):
        failures(tmp_path, expr, {})


def test_unknown_functions_are_refused_at_load_naming_the_known_ones(tmp_path):
    with pytest.raises(RuleFileError) as caught:
        failures(tmp_path, "fields.a.lowerAscii() == 'x'", {})
    assert "unknown function 'lowerAscii'; expressions can use bytes, contains" in str(caught.value)


@pytest.mark.parametrize("expr", [
    "fields.Obj.__class__ == 'x'",
    "fields.Obj.__class__.__bases__ == []",
    "record.__class__ != null",
    "fields['__builtins__'] != null",
])
def test_attribute_access_cannot_reach_python_objects(tmp_path, expr):
    [message] = failures(tmp_path, expr, {"Obj": Sneaky()})
    assert message.startswith("Rule expression") and "sneaky" not in message.lower().replace(
        "'sneaky'", "")


def test_field_values_are_plain_data_for_cel():
    from baton.rules.expressions import _plain
    assert _plain({"a": (1, Sneaky()), 2: date(2026, 1, 1)}) == {"a": [1, "sneaky"], "2": "2026-01-01"}
    assert _plain(print) == str(print)  # a callable becomes its text, never a function


def test_only_the_fields_named_are_converted_and_recorded(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(textwrap.dedent("""
        [[gate]]
        id = "g"
        source = "s"
        enters = "Ready"
        checks = [{ expr = "fields['A'] == 1 && fields.B == 2", message = "m" }]
        """))
    gate = load_rule_set([path]).gates[0]
    result = evaluate_gate(gate, record({"A": 1, "B": 2, "Unrelated": object()}))
    assert result.passed and result.values_seen == {"A": 1, "B": 2}
