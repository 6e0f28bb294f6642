"""Issue 14's KPI half against a scripted timeline computed by hand: standard statistics, rework
per gate, speed-to-lead on the SLA's own entries with the routing / rep split, missing at
handoff by check, the burndown, rule-change markers, breakdowns, the scorecard and the JSON
schema documented in docs/report-json.md."""
import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from baton.core.kpi_settings import KpiSettings
from baton.core.records import TimeSource, Transition
from baton.kpi import (
    CheckFailure, GateEvaluation, KpiInputs, Period, RecordSnapshot, SlaOutcome, compute_kpis,
    render_html, render_json,
)
from baton.kpi.model import OwnerChange
from baton.kpi.stats import interpolated
from tests.conftest import ROOT

JAN = Period.month(2025, 1)
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)  # Monday, 2025-W02
S, M, H = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)
LEADS, CONTENT = "salesforce:leads", "asana:content-calendar"
CONTENT_FLOW = ["Backlog", "Drafting", "Ready for Design", "In Design", "Ready for Web", "Live"]
LEAD_FLOW = ["Open - Not Contacted", "MQL", "Data Remediation", "Working - Contacted", "SQL",
             "Converted", "Unqualified"]
EMAIL = CheckFailure("Email.pattern", "Email", "")  # message filled per record: holds the value


def t(source, record, frm, to, at):
    return Transition(source, record, frm, to, at, TimeSource.HISTORY)


def timeline():
    """Leads (hops between polls, late contacts, a fixed-and-re-entered lead, even-sized
    samples) and content tasks bouncing at two gates of one project."""
    moves, evals, slas, owners = [], [], [], []

    def mql_gate(record, entry, passed, bad_email=None, version="v1"):
        failures = () if passed else (CheckFailure(
            EMAIL.check, EMAIL.field, f"Email {bad_email!r} is not an email address"),)
        evals.append(GateEvaluation(LEADS, record, "mql-entry", passed, entry.at, failures,
                                    entry.key, version))
        if passed:
            slas.append(SlaOutcome(LEADS, record, "speed-to-lead", entry.at, entry.at + 5 * M,
                                   None, False, transition_key=entry.key))

    # L1: MQL and touched 4:59 later, owned by a person from the start (routing 0).
    e = t(LEADS, "L1", "Open - Not Contacted", "MQL", T0)
    moves += [e, t(LEADS, "L1", "MQL", "Working - Contacted", T0 + 4 * M + 59 * S)]
    mql_gate("L1", e, True)
    owners.append(OwnerChange(LEADS, "L1", T0 - H, "005A"))
    # L2: hop Open -> MQL -> Working between two polls (both from history): touched 5:01 later,
    # a late contact; routed from the queue 2:00 after entry.
    e = t(LEADS, "L2", "Open - Not Contacted", "MQL", T0 + H)
    moves += [e, t(LEADS, "L2", "MQL", "Working - Contacted", T0 + H + 5 * M + S)]
    mql_gate("L2", e, True)
    owners += [OwnerChange(LEADS, "L2", T0, "00GQ", person=False),
               OwnerChange(LEADS, "L2", T0 + H + 2 * M, "005B")]
    # L3: bounced to remediation (bad email), fixed four hours later, re-entered MQL and
    # touched 2:00 after the passing re-entry: a 2-minute lead, not four hours.
    bad = t(LEADS, "L3", "Open - Not Contacted", "MQL", T0 + 2 * H)
    good = t(LEADS, "L3", "Data Remediation", "MQL", T0 + 6 * H)
    moves += [bad, t(LEADS, "L3", "MQL", "Data Remediation", T0 + 2 * H + S), good,
              t(LEADS, "L3", "MQL", "Working - Contacted", T0 + 6 * H + 2 * M),
              t(LEADS, "L3", "Working - Contacted", "SQL", T0 + 30 * H)]
    mql_gate("L3", bad, False, "ada@")
    mql_gate("L3", good, True, version="v2")  # the rules changed in between
    owners.append(OwnerChange(LEADS, "L3", T0 + 6 * H + M, "005A"))
    # L4: touched 7:00 after entry (late); no owner history.
    e = t(LEADS, "L4", "Open - Not Contacted", "MQL", T0 + 8 * H)
    moves += [e, t(LEADS, "L4", "MQL", "Working - Contacted", T0 + 8 * H + 7 * M),
              t(LEADS, "L4", "Working - Contacted", "SQL", T0 + 9 * H),
              t(LEADS, "L4", "SQL", "Converted", T0 + 50 * H)]
    mql_gate("L4", e, True, version="v2")
    # L5: a second bad email, still in remediation (an open violation).
    bad = t(LEADS, "L5", "Open - Not Contacted", "MQL", T0 + 10 * H)
    moves += [bad, t(LEADS, "L5", "MQL", "Data Remediation", T0 + 10 * H + S)]
    mql_gate("L5", bad, False, "bob@example", version="v2")

    # Content: two gates in one project. C1 bounces back from Ready for Design twice, C2 once
    # from Ready for Web; stays in Ready for Design of 6,900 s and 8,400 s (even n).
    def content_gate(record, entry, gate, passed):
        failures = () if passed else (CheckFailure("brief.required", "Visual brief", "Add it"),)
        evals.append(GateEvaluation(CONTENT, record, gate, passed, entry.at, failures,
                                    entry.key, "v1"))

    december = t(CONTENT, "C0", "Drafting", "Ready for Design", datetime(2024, 12, 20, tzinfo=UTC))
    moves.append(december)
    content_gate("C0", december, "design-handoff", True)  # the previous period's one entry
    c = T0 + 24 * H
    e1 = t(CONTENT, "C1", "Drafting", "Ready for Design", c)
    e2 = t(CONTENT, "C1", "Drafting", "Ready for Design", c + 2 * H)
    e3 = t(CONTENT, "C1", "Drafting", "Ready for Design", c + 4 * H)
    moves += [e1, t(CONTENT, "C1", "Ready for Design", "Drafting", c + H), e2,
              t(CONTENT, "C1", "Ready for Design", "Drafting", c + 3 * H), e3,
              t(CONTENT, "C1", "Ready for Design", "In Design", c + 4 * H + 6900 * S)]
    content_gate("C1", e1, "design-handoff", False)
    content_gate("C1", e2, "design-handoff", False)
    content_gate("C1", e3, "design-handoff", True)
    e4 = t(CONTENT, "C2", "Drafting", "Ready for Design", c)
    w1 = t(CONTENT, "C2", "In Design", "Ready for Web", c + 8400 * S + H)
    w2 = t(CONTENT, "C2", "In Design", "Ready for Web", c + 8400 * S + 3 * H)
    moves += [e4, t(CONTENT, "C2", "Ready for Design", "In Design", c + 8400 * S),
              w1, t(CONTENT, "C2", "Ready for Web", "In Design", c + 8400 * S + 2 * H), w2]
    content_gate("C2", e4, "design-handoff", True)
    content_gate("C2", w1, "web-handoff", True)
    content_gate("C2", w2, "web-handoff", True)
    records = [RecordSnapshot(LEADS, f"L{i}", f"Lead {i}", owner, None,
                              f"https://example.my.salesforce.com/00Q{i}", {"Team__c": team})
               for i, owner, team in [(1, "005A", "East"), (2, "005B", "West"),
                                      (3, "005A", "East"), (4, "005B", ""), (5, None, "West")]]
    records += [RecordSnapshot(CONTENT, "C1", "Blog <b>launch</b>", "u1"),
                RecordSnapshot(CONTENT, "C2", "Webinar", "u2")]
    workflows = {LEADS: LEAD_FLOW, CONTENT: CONTENT_FLOW}
    return KpiInputs(moves, evals, slas, workflows, records, T0 + 7 * 24 * H, owners)


SETTINGS = KpiSettings(segment_fields=["Team__c"])


@pytest.fixture(scope="module")
def rep():
    return compute_kpis(timeline(), JAN, SETTINGS)


def v(rep, kpi, group="all", source=None):
    found = rep.value(kpi, group, source)
    assert found is not None, (kpi, group, source)
    return found


def test_standard_statistics():
    assert interpolated([6900, 8400], 50) == 7650  # the example
    assert interpolated([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == pytest.approx(9.1)  # numpy
    assert interpolated([7], 90) == 7 and interpolated([], 50) is None


def test_time_in_stage_median_of_an_even_sample(rep):
    median = v(rep, "time_in_stage_median", "Ready for Design", CONTENT)
    # stays: C1 1 h, 1 h, 6,900 s; C2 8,400 s -> sorted 3600, 3600, 6900, 8400
    # (values are kept to 4 decimals of their unit: hours to 0.4 s)
    assert median.count == 4 and median.value * 3600 == pytest.approx((3600 + 6900) / 2, abs=0.5)
    p90 = v(rep, "time_in_stage_p90", "Ready for Design", CONTENT).value * 3600
    assert p90 == pytest.approx(6900 + 0.7 * 1500, abs=0.5)  # position 2.7


def test_rework_per_gate_beside_the_workflow(rep):
    # design-handoff: C1 bounced twice, C2 none -> 1.00 per record; web-handoff: C2 once
    assert v(rep, "gate_rework", "design-handoff", CONTENT).value == 1.0
    assert v(rep, "gate_rework", "web-handoff", CONTENT).value == 1.0
    assert v(rep, "gate_rework", "web-handoff", CONTENT).count == 1
    assert v(rep, "rework_rounds", source=CONTENT).value == 1.5  # (2 + 1) / 2 per workflow


def test_speed_to_lead_on_the_slas_own_entries(rep):
    # SLA entries: L1 4:59, L2 5:01, L3 2:00 (its passing re-entry), L4 7:00; L5 never passed
    minutes = sorted([4 + 59 / 60, 5 + 1 / 60, 2.0, 7.0])
    median = v(rep, "speed_to_lead_median", source=LEADS)
    assert median.count == 4 and median.value * 60 == pytest.approx(300, abs=0.01)  # 4:59|5:01
    p90 = v(rep, "speed_to_lead_p90", source=LEADS).value
    assert p90 == pytest.approx(minutes[2] + 0.7 * (minutes[3] - minutes[2]), abs=1e-4)
    within = v(rep, "speed_to_lead_within_target", source=LEADS)
    assert (within.count, round(within.value, 1)) == (4, 50.0)
    bands = {b: v(rep, "speed_to_lead_bands", b, LEADS).value for b in ("0–5 min", "5–15 min")}
    assert bands == {"0–5 min": 2, "5–15 min": 2}
    assert rep.value("speed_to_lead_bands", "60+ min", LEADS) is None  # no lead that slow
    assert "speed-to-lead: leads whose MQL entries started no SLA clock (the gate never passed " \
           "them), left out: 1" in rep.notes


def test_routing_and_rep_delay(rep):
    # routing: L1 0 (a person owned it), L2 2:00, L3 1:00 after its SLA entry; L4 no history
    routing = v(rep, "routing_delay_median", source=LEADS)
    assert (routing.count, routing.value) == (3, 1.0)
    # rep: L1 4:59, L2 3:01, L3 1:00
    rep_delay = v(rep, "rep_delay_median", source=LEADS)
    assert rep_delay.count == 3 and rep_delay.value == pytest.approx(3 + 1 / 60, abs=1e-4)
    assert "routing and rep delay: leads without owner history, left out: 1" in rep.notes


def test_missing_at_handoff_by_check_not_by_message(rep):
    failed = v(rep, "check_failures", "mql-entry: Email.pattern", LEADS)
    assert failed.value == 2  # two different bad addresses, one row
    share = v(rep, "check_failure_share", "mql-entry: Email.pattern", LEADS)
    assert (share.count, round(share.value, 1)) == (6, 33.3)  # 2 of the gate's 6 entries
    assert rep.label(LEADS, "mql-entry: Email.pattern") == "Email: wrong format"
    assert not [x for x in rep.values if x.kpi == "check_failures" and "@" in x.group]


def test_funnel_burndown_rule_changes_breakdowns(rep):
    assert [v(rep, "funnel", s, LEADS).value for s in ("MQL", "SQL", "Opportunity")] == [5, 2, 1]
    week = {w.week: w for w in rep.burndown}["2025-W02"]
    # opened: L3, L5, C1 (its second failure continues the first); resolved: L3, C1
    assert (week.opened, week.resolved) == (3, 2)
    assert dict(week.open_by_age) == {"under 1 week": 1, "1–4 weeks": 0, "over 4 weeks": 0}
    assert [(c.rule_version, c.week) for c in rep.rule_changes] == [("v2", "2025-W02")]
    east = {(b.kpi, b.segment): b for b in rep.breakdowns if b.dimension == "Team__c"}
    assert east[("gate_entries", "East")].value == 3  # L1, L3 twice
    owner = {(b.kpi, b.segment): b for b in rep.breakdowns if b.dimension == "owner"}
    assert owner[("speed_to_lead_median", "005A")].value == pytest.approx((2 + 4 + 59 / 60) / 2, abs=1e-4)
    links = rep.records_behind("check_failures", LEADS, "mql-entry: Email.pattern")
    assert [x.record_id for x in links] == ["L5", "L3"]  # the latest first
    assert links[0].url == "https://example.my.salesforce.com/00Q5"


def test_previous_period_and_targets(rep):
    assert rep.previous_period == Period.month(2024, 12)
    assert v(rep, "first_pass_yield", source="").value is not None
    assert rep.previous_value("gate_entries").value == 1
    assert rep.previous_value("first_pass_yield").value == 100.0


def test_the_scorecard_page(rep):
    html = render_html(rep)
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower() and "url(" not in html and "@import" not in html
    assert not re.search(r"\bsrc\s*=", html, re.I)
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith("https://example.my.salesforce.com/") for h in hrefs)
    assert "Blog &lt;b&gt;launch&lt;/b&gt;" not in html or "<b>launch" not in html
    for text in ("MQL → SQL → Opportunity", "0–5 min", "60+ min", "Missing at handoff",
                 "Email: wrong format", "rules v2", "By owner", "By Team__c", "ISO week",
                 "target ≥ 90.0%", "off target", "vs previous period"):
        assert text in html, text
    assert len(html.encode()) < 1_500_000


def test_the_json_schema_is_documented():
    doc = (ROOT / "docs" / "report-json.md").read_text(encoding="utf-8")
    inputs = timeline()
    shadow = GateEvaluation(LEADS, "L1", "mql-seniority", False, T0, (CheckFailure(
        "title", "Title", "Add a senior title"),), "k-shadow", "v1")  # observe_gates[] keys too
    inputs = dataclasses.replace(inputs, shadow_evaluations=[shadow])
    data = json.loads(render_json(compute_kpis(inputs, JAN, SETTINGS)))
    documented = re.findall(r"^\| `([^`]+)` \|", doc, re.M)

    def paths(value, prefix=""):
        if isinstance(value, dict):
            for key, item in value.items():
                if prefix == "workflows.":
                    yield "workflows.<source>"
                    continue
                yield prefix + key
                yield from paths(item, prefix + key + ".")
        elif isinstance(value, list) and value and isinstance(value[0], dict | list):
            yield from paths(value[0], prefix[:-1] + "[]." if prefix else "")

    found = set(paths(data))
    assert found == set(documented), (found ^ set(documented))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/report-json.md" in readme
