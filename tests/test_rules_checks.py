"""Every check kind: passing values, failing values and odd ones, through the public API."""
from __future__ import annotations

import textwrap
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from baton.core.records import Record
from baton.rules import Gate, evaluate_gate, failure_context, load_rule_set, render

AT = datetime(2026, 11, 24, tzinfo=timezone.utc)
LONG = "x" * 10_000


def record(fields: dict | None = None, *, name: str = "Task", status: str | None = "MQL") -> Record:
    return Record(source="salesforce:leads", id="r1", url="https://example.com/r1", name=name,
                  status=status, owner="005A", fields=fields or {}, modified_at=AT)


@pytest.fixture
def make_gate(tmp_path: Path):
    def build(checks: str, extra: str = "") -> Gate:
        path = tmp_path / "rules.toml"
        path.write_text(textwrap.dedent(f"""
            [taxonomy.channel]
            values = ["email", "paid-social"]

            [[gate]]
            id = "g"
            source = "salesforce:leads"
            enters = "MQL"
            checks = [{checks}]
            """) + extra, encoding="utf-8")
        return load_rule_set([path]).gates[0]
    return build


def messages(gate: Gate, fields: dict | None = None, **kwargs) -> list[str]:
    return [f.message for f in evaluate_gate(gate, record(fields, **kwargs)).failures]


@pytest.mark.parametrize(("value", "ok"), [
    ("ada@example.com", True), (0, True), (False, True), (["a"], True), (LONG, True),
    (None, False), ("", False), ("   \t\n", False), ([], False), (["", "  "], False), ({}, False),
])
def test_required(make_gate, value, ok):
    gate = make_gate('{ field = "Email", required = true }')
    assert messages(gate, {"Email": value}) == ([] if ok else ["Email is missing"])


def test_required_on_an_absent_field(make_gate):
    assert messages(make_gate('{ field = "Email", required = true }'), {}) == ["Email is missing"]


def test_name_and_status_read_the_record_itself(make_gate):
    gate = make_gate('{ field = "name", required = true }, { field = "status", allowed = ["MQL"] }')
    assert messages(gate, {"name": "a field named name is not the record's name"}, name=" ") == [
        "Name is missing"]
    assert messages(gate, name="ok", status="SQL") == ["Status 'SQL' must be one of: MQL"]


@pytest.mark.parametrize(("value", "expected"), [
    ("CMP-1234", []),
    ("  CMP-1234 ", []),  # surrounding whitespace is not part of the value
    ("CMP-12", ["Campaign ID 'CMP-12' should look like CMP-1234"]),
    ("xCMP-1234", ["Campaign ID 'xCMP-1234' should look like CMP-1234"]),  # full match
    ("CMP-1234x", ["Campaign ID 'CMP-1234x' should look like CMP-1234"]),
    ("CMP-1234\nCMP-1", ["Campaign ID 'CMP-1234\\x0aCMP-1' should look like CMP-1234"]),
    (1234, ["Campaign ID '1234' should look like CMP-1234"]),
    (None, ["Campaign ID is missing"]),
    (["CMP-1234", "CMP-9"], ["Campaign ID 'CMP-9' should look like CMP-1234"]),
    (LONG, [f"Campaign ID '{'x' * 59}…' should look like CMP-1234"]),
])
def test_pattern(make_gate, value, expected):
    gate = make_gate("""{ field = "Campaign ID", pattern = 'CMP-\\d{4}', example = "CMP-1234" }""")
    assert messages(gate, {"Campaign ID": value}) == expected


def test_pattern_without_example_names_the_pattern_and_numbers_are_text(make_gate):
    gate = make_gate("""{ field = "Score", pattern = '\\d+' }""")
    assert messages(gate, {"Score": 42}) == [] and messages(gate, {"Score": 42.0}) == []
    assert messages(gate, {"Score": 4.5}) == ["Score '4.5' does not match the expected format \\d+"]


def test_optional_pattern_passes_empty_values_only(make_gate):
    gate = make_gate("""{ field = "Phone", pattern = '\\+?\\d+', optional = true }""")
    assert messages(gate, {"Phone": "  "}) == [] and messages(gate, {}) == []
    assert len(messages(gate, {"Phone": "call me"})) == 1


@pytest.mark.parametrize(("value", "expected"), [
    ("Webinar", []), (" Event ", []), (["Webinar", "Event"], []),
    ("webinar", ["LeadSource 'webinar' must be one of: Webinar, Demo Request, Content Download, Event"]),
    (["Webinar", "Web"], ["LeadSource 'Web' must be one of: Webinar, Demo Request, Content Download, Event"]),
    (None, ["LeadSource is missing"]),
    (7, ["LeadSource '7' must be one of: Webinar, Demo Request, Content Download, Event"]),
])
def test_allowed(make_gate, value, expected):
    gate = make_gate('{ field = "LeadSource", allowed = ["Webinar", "Demo Request", "Content Download", "Event"] }')
    assert messages(gate, {"LeadSource": value}) == expected


def test_allowed_ignore_case_and_taxonomy(make_gate):
    gate = make_gate('{ field = "Channel", taxonomy = "channel", ignore_case = true }')
    assert messages(gate, {"Channel": "EMAIL"}) == []
    assert messages(gate, {"Channel": "fax"}) == ["Channel 'fax' must be one of: email, paid-social"]


def test_long_vocabularies_are_shortened_in_messages(make_gate):
    values = ", ".join(f'"v{i}"' for i in range(30))
    gate = make_gate(f'{{ field = "X", allowed = [{values}] }}')
    assert messages(gate, {"X": "nope"}) == [
        "X 'nope' must be one of: v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, … (30 in all)"]


@pytest.mark.parametrize(("value", "expected"), [
    ("Hello", []), ("  Hello  ", []), ("x" * 80, []),
    ("Hi", ["Subject is too short: 2 characters, at least 5"]),
    ("x" * 81, ["Subject is too long: 81 characters, at most 80"]),
    (LONG, ["Subject is too long: 10000 characters, at most 80"]),
    (None, ["Subject is missing"]),
    (123456, []),
])
def test_length(make_gate, value, expected):
    gate = make_gate('{ field = "Subject", min_length = 5, max_length = 80 }')
    assert messages(gate, {"Subject": value}) == expected


@pytest.mark.parametrize("value", [True, 1, 1.0, "true", "True", " TRUE ", "yes", "Y", "1", "checked"])
def test_is_true_accepts(make_gate, value):
    assert messages(make_gate('{ field = "Consent__c", is_true = true }'), {"Consent__c": value}) == []


@pytest.mark.parametrize(("value", "expected"), [
    (False, "Consent__c must be checked (found 'false')"),
    (0, "Consent__c must be checked (found '0')"),
    (2, "Consent__c must be checked (found '2')"),
    ("no", "Consent__c must be checked (found 'no')"),
    ("truthy", "Consent__c must be checked (found 'truthy')"),
    (["true"], "Consent__c must be checked (found 'true')"),  # a list is not a checkbox
    (None, "Consent__c must be checked"),
    ("  ", "Consent__c must be checked"),
])
def test_is_true_rejects(make_gate, value, expected):
    assert messages(make_gate('{ field = "Consent__c", is_true = true }'), {"Consent__c": value}) == [expected]


@pytest.mark.parametrize(("due", "launch", "expected"), [
    ("2026-11-20", "2026-11-24", []),
    (date(2026, 11, 20), datetime(2026, 11, 24, 9, tzinfo=timezone.utc), []),
    ("2026-11-20T10:00:00Z", "2026-11-20T11:00:00+00:00", []),
    ("2026-11-20T12:00:00+02:00", "2026-11-20T11:00:00Z", []),  # 10:00 UTC before 11:00 UTC
    ("2026-11-24", "2026-11-24", ["Due date (2026-11-24) must be before Launch date (2026-11-24)"]),
    ("2026-11-24T08:00:00Z", "2026-11-24", ["Due date (2026-11-24T08:00:00Z) must be before Launch date (2026-11-24)"]),
    ("2026-11-25", "2026-11-24", ["Due date (2026-11-25) must be before Launch date (2026-11-24)"]),
    ("next week", "2026-11-24", ["Due date 'next week' is not a date (expected YYYY-MM-DD)"]),
    ("2026-11-20", "soon", ["Launch date 'soon' is not a date (expected YYYY-MM-DD)"]),
    ("2026-11-20", None, ["Due date can't be checked: Launch date is missing"]),
    (None, "2026-11-24", ["Due date is missing"]),
    (20261120, "2026-11-24", ["Due date '20261120' is not a date (expected YYYY-MM-DD)"]),
    ("2026-02-30", "2026-11-24", ["Due date '2026-02-30' is not a date (expected YYYY-MM-DD)"]),
])
def test_date_order(make_gate, due, launch, expected):
    gate = make_gate('{ field = "Due date", before_field = "Launch date" }')
    assert messages(gate, {"Due date": due, "Launch date": launch}) == expected


def test_date_order_allow_equal_after_and_optional(make_gate):
    gate = make_gate('{ field = "End", after_field = "Start", allow_equal = true, optional = true }')
    assert messages(gate, {"End": "2026-01-01", "Start": "2026-01-01"}) == []
    assert messages(gate, {"End": "2026-01-01", "Start": None}) == []
    assert messages(gate, {"End": "2025-12-31", "Start": "2026-01-01"}) == [
        "End (2025-12-31) must be on or after Start (2026-01-01)"]


@pytest.mark.parametrize(("when", "source", "applies"), [
    ('{ field = "LeadSource", equals = "Webinar" }', "Webinar", True),
    ('{ field = "LeadSource", equals = "Webinar" }', " Webinar ", True),
    ('{ field = "LeadSource", equals = "Webinar" }', "Event", False),
    ('{ field = "LeadSource", equals = "Webinar" }', None, False),
    ('{ field = "LeadSource", equals = "Webinar" }', ["Event", "Webinar"], True),
    ('{ field = "LeadSource", in = ["Webinar", "Event"] }', "Event", True),
    ('{ field = "LeadSource", in = ["Webinar", "Event"] }', "Demo", False),
    ('{ field = "LeadSource", present = true }', "anything", True),
    ('{ field = "LeadSource", present = true }', "   ", False),
    ('{ field = "LeadSource", present = false }', None, True),
    ('{ field = "LeadSource", equals = true }', True, True),
    ('{ field = "LeadSource", equals = 3 }', 3, True),
])
def test_when_skips_the_check_unless_the_condition_holds(make_gate, when, source, applies):
    gate = make_gate(f'{{ field = "Webinar_Topic__c", required = true, when = {when} }}')
    result = evaluate_gate(gate, record({"LeadSource": source}))
    assert (not result.passed) == applies
    assert result.values_seen["LeadSource"] == source


def test_message_override_is_a_template(make_gate):
    gate = make_gate('{ field = "Email", pattern = "[^@]+@[^@]+", message = "{field} \'{value}\' of {Company} is not an email {{!}}" }')
    assert messages(gate, {"Email": " bob ", "Company": "Acme"}) == ["Email 'bob' of Acme is not an email {!}"]


def test_all_failures_are_reported_with_check_ids_and_values_seen(make_gate):
    gate = make_gate('{ field = "Email", required = true }, { field = "Company", required = true },'
                     '{ field = "Title", required = true }')
    result = evaluate_gate(gate, record({"Company": "Acme", "Title": 3}))
    assert not result.passed
    assert [(f.check_id, f.field, f.message) for f in result.failures] == [
        ("Email.required", "Email", "Email is missing")]
    assert result.values_seen == {"Email": None, "Company": "Acme", "Title": 3}
    assert evaluate_gate(gate, record({"Email": "a@b.c", "Company": "A", "Title": "T"})).passed


@pytest.mark.parametrize("odd", [
    None, "", " ", "\x00\x1b[31m", "é" * 500, LONG, 0, -1, 1e308, float("nan"), True,
    [], [None], [1, "a", None], {"nested": [1]}, {}, date(2026, 1, 1), b"bytes", object(),
])
def test_odd_values_never_crash_any_kind(make_gate, odd):
    gate = make_gate("""
        { field = "V", required = true },
        { field = "V", pattern = '\\w+' },
        { field = "V", allowed = ["a"] },
        { field = "V", taxonomy = "channel" },
        { field = "V", min_length = 1, max_length = 3 },
        { field = "V", is_true = true },
        { field = "V", before_field = "W" },
        { field = "V", after_field = "V" },
        { field = "V", required = true, when = { field = "V", in = ["a", 1] } },
        { expr = "fields.V == 'a'", message = "V is not a" },
        { expr = "size(fields) > 0 && record.name != ''", message = "empty" },
    """)
    result = evaluate_gate(gate, record({"V": odd, "W": odd}))
    assert all(isinstance(f.message, str) and f.message for f in result.failures)
    assert not any("could not be run" in f.message for f in result.failures)


def test_failure_context_renders_every_placeholder(make_gate):
    gate = make_gate('{ field = "Email", required = true }, { field = "Title", required = true }')
    rec = record({"Company": "Acme", "Campaign ID": "CMP-1"}, name="Ada")
    context = failure_context(gate, rec, evaluate_gate(gate, rec))
    text = render("{name}|{status}|{url}|{gate}|{enters}|{failure_count}|{Company}|{Campaign ID}|{nope}|\n{failures}",
                  context)
    assert text == ("Ada|MQL|https://example.com/r1|g|MQL|2|Acme|CMP-1||\n"
                    "- Email is missing\n- Title is missing")


@pytest.mark.parametrize(("template", "context", "expected"), [
    ("{a}{b}", {"a": "{b}", "b": "x"}, "{b}x"),  # values are never re-read as templates
    ("{a.__class__}", {"a": "x"}, ""),  # a placeholder is a name, nothing more
    ("{0}", {"0": "zero"}, "zero"),
    ("{{literal}}", {}, "{literal}"),
    ("{ name }", {"name": "spaced"}, "spaced"),
    ("{list}", {"list": ["a", None, "b"]}, "a, b"),
    ("{n}", {"n": 3.0}, "3"),
])
def test_render_is_plain_substitution(template, context, expected):
    assert render(template, context) == expected


@pytest.mark.parametrize("broken", ["{", "}", "a{b", "a}b", "{}", "{a{b}}", "{{{"])
def test_render_rejects_broken_templates(broken):
    with pytest.raises(ValueError):
        render(broken, {})


def test_each_check_names_the_fields_it_reads(make_gate):
    from baton.rules import fields_read

    gate = make_gate("""
        { field = "Topic", required = true, when = { field = "LeadSource", equals = "Webinar" } },
        { field = "Due date", before_field = "Launch date", after_field = "Kickoff" },
        { field = "name", naming = "n" },
        { field = "Landing URL", utm = "u" },
        { expr = "fields['Amount'] > 0 && fields.Stage != 'x'", message = "m" },
        { expr = "size(fields) > 0", message = "the whole map names nothing" },
    """, extra="""
        [naming.n]
        template = "{campaign}_{x}"
        parts = { campaign = { equals_field = "Campaign ID" } }

        [utm.u.params.utm_campaign]
        pattern = 'cmp-(?P<number>\\d{4})'
        group_equals = { number = "Campaign Number" }
        """)
    assert [sorted(check.fields) for check in gate.checks] == [
        ["LeadSource", "Topic"], ["Due date", "Kickoff", "Launch date"], ["Campaign ID", "name"],
        ["Campaign Number", "Landing URL"], ["Amount", "Stage"], []]
    assert fields_read(gate) == {"LeadSource", "Topic", "Due date", "Kickoff", "Launch date",
                                 "Campaign ID", "Campaign Number", "Landing URL", "Amount", "Stage"}
