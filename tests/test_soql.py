"""The emulator's SOQL subset, and the connector's literal quoting checked against it."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baton.connectors.salesforce.soql import soql_datetime, soql_quote
from baton.sandbox.salesforce.soql_eval import compile_query
from baton.sandbox.salesforce.soql_lexer import SoqlError
from baton.sandbox.salesforce.soql_parse import parse
from baton.sandbox.salesforce.soql_schema import Catalog, FieldType, ObjectSchema, Relationship

F = FieldType
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class _Catalog(Catalog):
    def __init__(self) -> None:
        self.schemas = {
            "Lead": ObjectSchema("Lead", {
                "Id": F.ID, "Name": F.STRING, "Status": F.PICKLIST, "Email": F.EMAIL,
                "Title": F.STRING, "Consent__c": F.BOOLEAN, "SystemModstamp": F.DATETIME,
                "OwnerId": F.REFERENCE, "Score__c": F.DOUBLE, "Due__c": F.DATE,
            }, [Relationship("Owner", "OwnerId", "User")]),
            "User": ObjectSchema("User", {"Id": F.ID, "Name": F.STRING}),
        }
        self.users = {"005000000000001AAA": {"Id": "005000000000001AAA", "Name": "Maya Chen"}}
        self.leads = [
            {"Id": "00Q000000000001AAA", "Name": "O'Brien", "Status": "MQL", "Title": None,
             "Consent__c": True, "SystemModstamp": T0, "OwnerId": "005000000000001AAA",
             "Score__c": 42.0, "Due__c": date(2026, 12, 1)},
            {"Id": "00Q000000000002AAA", "Name": "back\\slash", "Status": "SQL",
             "Title": "CMO", "Consent__c": False,
             "SystemModstamp": datetime(2026, 11, 24, 11, 0, tzinfo=UTC), "Score__c": 7.5},
            {"Id": "00Q000000000003AAA", "Name": "50% off_sale", "Status": "mql",
             "Title": "VP", "SystemModstamp": datetime(2026, 11, 23, 9, 0, tzinfo=UTC)},
        ]

    def schema(self, sobject: str) -> ObjectSchema | None:
        return next((s for n, s in self.schemas.items() if n.lower() == sobject.lower()), None)

    def get_row(self, sobject: str, record_id: str) -> Any:
        return self.users.get(record_id)


CATALOG = _Catalog()


def run(soql: str) -> list[dict[str, Any]]:
    compiled = compile_query(soql, CATALOG)
    return [compiled.render(row) for row in compiled.run(CATALOG.leads)]


def names(soql: str) -> list[str]:
    return [row["Name"] for row in run(soql)]


@pytest.mark.parametrize(("where", "expected"), [
    ("Status = 'MQL'", ["O'Brien", "50% off_sale"]),  # text comparison ignores case
    ("Status != 'MQL'", ["back\\slash"]),
    ("Status IN ('SQL', 'Unqualified')", ["back\\slash"]),
    ("Status NOT IN ('SQL')", ["O'Brien", "50% off_sale"]),
    ("Title = null", ["O'Brien"]),
    ("Title != null", ["back\\slash", "50% off_sale"]),
    ("Consent__c = true", ["O'Brien"]),
    ("NOT Consent__c = true", ["back\\slash", "50% off_sale"]),
    ("Score__c > 10", ["O'Brien"]),
    ("Score__c <= 7.5", ["back\\slash"]),
    ("SystemModstamp > 2026-11-24T10:00:00Z", ["back\\slash"]),
    ("SystemModstamp >= 2026-11-24T10:00:00.000+0000", ["O'Brien", "back\\slash"]),
    ("SystemModstamp < 2026-11-24T11:00:00+01:00", ["50% off_sale"]),
    ("Due__c = 2026-12-01", ["O'Brien"]),
    ("Name = 'O\\'Brien'", ["O'Brien"]),
    ("Name = 'back\\\\slash'", ["back\\slash"]),
    ("Name LIKE 'o%'", ["O'Brien"]),
    ("Name LIKE '50\\% off\\_%'", ["50% off_sale"]),
    ("Name LIKE '_0%'", ["50% off_sale"]),
    ("(Status = 'SQL' OR Title = 'VP') AND Consent__c != true", ["back\\slash", "50% off_sale"]),
    ("Owner.Name = 'Maya Chen'", ["O'Brien"]),
    ("Id = '00Q000000000002'", ["back\\slash"]),  # 15-character ids match 18-character ones
])
def test_where(where: str, expected: list[str]) -> None:
    assert names(f"SELECT Name FROM Lead WHERE {where} ORDER BY Id") == expected


def test_order_limit_offset_and_nulls() -> None:
    assert names("SELECT Name FROM Lead ORDER BY SystemModstamp DESC") == [
        "back\\slash", "O'Brien", "50% off_sale"]
    assert names("SELECT Name FROM Lead ORDER BY Title") == [  # nulls first by default
        "O'Brien", "back\\slash", "50% off_sale"]
    assert names("SELECT Name FROM Lead ORDER BY Title NULLS LAST") == [
        "back\\slash", "50% off_sale", "O'Brien"]
    assert names("SELECT Name FROM Lead ORDER BY Title DESC NULLS LAST") == [
        "50% off_sale", "back\\slash", "O'Brien"]
    assert names("SELECT Name FROM Lead ORDER BY Status, Id LIMIT 2 OFFSET 1") == [
        "50% off_sale", "back\\slash"]


def test_keywords_and_fields_are_case_insensitive_and_rendered_canonically() -> None:
    rows = run("select name, owner.name from LEAD where status = 'sql'")
    assert rows == [{"attributes": {"type": "Lead"}, "Name": "back\\slash", "Owner": None}]
    rows = run("SELECT Owner.Name, SystemModstamp FROM Lead WHERE Consent__c = true")
    assert rows[0]["Owner"]["Name"] == "Maya Chen"
    assert rows[0]["SystemModstamp"] == "2026-11-24T10:00:00.000+0000"


@pytest.mark.parametrize(("soql", "code"), [
    ("SELECT FROM Lead", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE Name = 'unterminated", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE Name = 'bad \\q escape'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE Status = 'A' AND Title = 'B' OR Name = 'C'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead LIMIT x", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead ORDER BY", "MALFORMED_QUERY"),
    ("SELECT Id, Colour__c FROM Lead", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE Manager.Name = 'x'", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE SystemModstamp > '2026-11-24T10:00:00Z'", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE Status = 5", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE Consent__c = 'true'", "INVALID_FIELD"),
    ("SELECT Id FROM Leed", "INVALID_TYPE"),
])
def test_errors_carry_salesforce_codes(soql: str, code: str) -> None:
    with pytest.raises(SoqlError) as error:
        compile_query(soql, CATALOG)
    assert error.value.code == code
    assert "ERROR at Row:1:Column:" in error.value.message or code == "MALFORMED_QUERY"


def test_count() -> None:
    query = parse("SELECT COUNT() FROM Lead WHERE Status = 'MQL'")
    assert query.count_only
    assert len(compile_query(query, CATALOG).run(CATALOG.leads)) == 2


HOSTILE = ["O'Brien", "back\\slash", "trailing\\", "\\'", "line\nbreak", "tab\tcarriage\r",
           "' OR Name != '", "%_", "emoji 🦊 ünïcödé", '"double"', "\b\f", "", "\\\\''"]


@pytest.mark.parametrize("value", HOSTILE)
def test_soql_quote_round_trips_hostile_values(value: str) -> None:
    query = parse(f"SELECT Id FROM Lead WHERE Name = {soql_quote(value)}")
    assert query.where.value.value[0] == value  # type: ignore[union-attr]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_soql_quote_round_trips_any_text(value: str) -> None:
    query = parse(f"SELECT Id FROM Lead WHERE Name = {soql_quote(value)} AND Status = 'x'")
    assert query.where.parts[0].value.value[0] == value  # type: ignore[union-attr]


@given(st.lists(st.text(max_size=20), min_size=1, max_size=5))
def test_quoted_in_lists_match_exactly_what_was_quoted(values: list[str]) -> None:
    rows = [{"Id": f"00Q00000000000{i}AAA", "Name": v} for i, v in enumerate(values)]
    compiled = compile_query(
        f"SELECT Id FROM Lead WHERE Name IN ({', '.join(soql_quote(v) for v in values)})", CATALOG)
    assert len(compiled.run(rows)) == len(values)


def test_soql_datetime_is_utc_whole_seconds() -> None:
    from datetime import timedelta, timezone
    local = datetime(2026, 11, 24, 11, 0, 0, 999_000, tzinfo=timezone(timedelta(hours=1)))
    assert soql_datetime(local) == "2026-11-24T10:00:00Z"
