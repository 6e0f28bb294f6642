"""The shipped demo rule files load, and their gates say the right things about hand-made records."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from baton.core.records import Record
from baton.core.owners import OwnerKind
from baton.rules import evaluate_gate, failure_context, load_rule_set, render

DEMO = sorted((Path(__file__).parent.parent / "rules" / "demo").glob("*.toml"))
AT = datetime(2026, 11, 24, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def rules():
    return load_rule_set(DEMO)


def lead(**fields) -> Record:
    good = {"Email": "ada@northwind.example", "Company": "Northwind", "Title": "VP Marketing",
            "Consent__c": True, "LeadSource": "Webinar", "Webinar_Topic__c": "DataOps"}
    return Record("salesforce:leads", "00Q1", "https://sf.example/00Q1", "Ada Lovelace", "MQL",
                  "005A", {**good, **fields}, AT)


def task(name: str = "CMP-1234_email_hero-banner_v1_20261124", **fields) -> Record:
    good = {"Campaign ID": "CMP-1234", "Channel": "email", "Visual brief": "Pastel hero",
            "Landing URL": "https://acme.example/s?utm_source=newsletter&utm_medium=email"
                           "&utm_campaign=cmp-1234-spring-launch"}
    return Record("asana:content-calendar", "1201", "https://app.asana.com/0/1/1201", name,
                  "Ready for Design", "u42", {**good, **fields}, AT)


def row(**fields) -> Record:
    good = {"Campaign ID": "CMP-1112", "Channel": "search",
            "Asset": "CMP-1112_search_launch_v1_20261120", "Owner": "sofia@northwind.example",
            "Landing URL": "https://www.northwind-analytics.com/launch?utm_source=google"
                           "&utm_medium=cpc&utm_campaign=cmp-1112-launch", "Status": "Ready for QA"}
    values = {**good, **fields}
    return Record("sheets:utm-tracker", values["Campaign ID"], "https://sheets.example#row=12",
                  values["Asset"], values["Status"], None, values, AT)


def messages(rules, gate_id: str, rec: Record) -> list[str]:
    return evaluate_gate(rules.gate(gate_id), rec).messages


def test_demo_files_load(rules):
    assert [g.id for g in rules.gates] == ["ready-for-design", "ready-for-web",
                                           "campaign-in-salesforce", "mql-entry", "mql-seniority",
                                           "utm-qa"]
    assert rules.sources() == {"salesforce:leads", "asana:content-calendar", "sheets:utm-tracker"}
    assert [g.id for g in rules.gates_entering("salesforce:leads", "MQL", "Open - Not Contacted")] == ["mql-entry", "mql-seniority"]


def test_good_records_pass_every_demo_gate(rules):
    for gate_id, rec in [("mql-entry", lead()), ("ready-for-design", task()),
                         ("ready-for-web", task()), ("utm-qa", row())]:
        assert messages(rules, gate_id, rec) == [], gate_id


def test_mql_entry_lists_every_problem_and_routes_to_remediation(rules):
    bad = lead(Email="ada@", Company="  ", Title=None, Consent__c="no", LeadSource="Webinar",
               Webinar_Topic__c="")
    assert messages(rules, "mql-entry", bad) == [
        "Email 'ada@' is not a valid email address",
        "Company is missing",
        "Title is missing",
        "Marketing consent (Consent__c) is not recorded",
        "Webinar leads need the webinar topic (Webinar_Topic__c)",
    ]
    gate = rules.gate("mql-entry")
    assert gate.on_fail.move_to == "Data Remediation"
    assert gate.on_fail.task is not None and gate.on_fail.task.owner.kind is OwnerKind.QUEUE
    result = evaluate_gate(gate, bad)
    context = failure_context(gate, bad, result)
    assert render(gate.on_fail.task.subject, context) == "Handoff blocked: Ada Lovelace"
    body = render(gate.on_fail.task.body, context)
    assert body.splitlines()[:3] == ["Ada Lovelace () could not become an MQL. Please fix:",
                                     "- Email 'ada@' is not a valid email address",
                                     "- Company is missing"]


def test_mql_entry_empty_email_is_missing_not_invalid(rules):
    assert messages(rules, "mql-entry", lead(Email=None)) == ["Email is missing"]


def test_mql_entry_lead_source_and_webinar_topic(rules):
    assert messages(rules, "mql-entry", lead(LeadSource="Trade Show", Webinar_Topic__c=None)) == [
        "LeadSource 'Trade Show' must be one of: Webinar, Demo Request, Content Download, Event"]
    assert messages(rules, "mql-entry", lead(LeadSource="Event", Webinar_Topic__c=None)) == []


def test_ready_for_design(rules):
    bad = task("CMP-1234_newsletter_gift-guide_v1_20261124", **{"Visual brief": " ",
                                                                "Campaign ID": "CMP-12"})
    assert messages(rules, "ready-for-design", bad) == [
        "Campaign ID 'CMP-12' should look like CMP-1234",
        "Attach the visual brief",
        "The Campaign ID part 'CMP-1234' of the name must equal the Campaign ID field 'CMP-12'",
        "The Channel part 'newsletter' of the name must be one of: email, paid-social, "
        "organic-social, webinar, display, blog, search, events",
    ]
    gate = rules.gate("ready-for-design")
    assert gate.on_fail.move_to == "Drafting" and gate.on_fail.comment is not None
    comment = render(gate.on_fail.comment, failure_context(gate, bad, evaluate_gate(gate, bad)))
    assert comment.startswith("This task can't go to design yet (4 to fix):\n- Campaign ID")


def test_ready_for_web(rules):
    url = ("https://acme.example/s?utm_source=Newsletter&utm_medium=email&utm_medium=email"
           "&utm_campaign=cmp-9999-spring-launch")
    assert messages(rules, "ready-for-web", task(**{"Landing URL": url})) == [
        "utm_medium appears 2 times in Landing URL",
        "utm_source 'Newsletter' in Landing URL must be lowercase",
        "The number in utm_campaign 'cmp-9999-spring-launch' (9999) must match the Campaign ID 'CMP-1234'",
    ]
    gate = rules.gate("ready-for-web")
    assert gate.on_fail.task is not None and gate.on_fail.task.owner.kind is OwnerKind.OWNER
    assert render(gate.on_fail.task.subject, {"name": "X"}) == "Fix UTM: X"


def test_utm_qa_on_the_tracker_sheet(rules):
    assert messages(rules, "utm-qa", row(Asset="Final banner v2 (1).png")) == [
        "The Asset 'Final banner v2 (1).png' must look like CMP-1234_email_hero-banner_v1_20261124"]
    url = "https://www.northwind-analytics.com/x?utm_source=facebook&utm_campaign=cmp-1112-ebook"
    assert messages(rules, "utm-qa", row(**{"Landing URL": url})) == ["Landing URL is missing utm_medium"]
    assert render(rules.gate("utm-qa").on_fail.comment or "", {"failures": "- x"}) == "Not ready for QA:\n- x"
