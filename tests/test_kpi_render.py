"""Renderers, the audit sample and the handoff map."""
import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

from baton.core.records import TimeSource
from baton.core.kpi_settings import KpiSettings
from baton.kpi import (
    CheckFailure, GateEdge, GateEvaluation, KpiInputs, Period, RecordSnapshot, SlaOutcome, audit_sample, compute_kpis, handoff_map, render_audit, render_csv, render_html, render_json, render_table, rows_for_sheet,
)
from baton.kpi.render import CSV_HEADER
from baton.core.records import Transition

JAN = Period.month(2025, 1)
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)
EVIL = '<script>alert("x")</script>'
CONTENT = "asana:content-calendar"
LEADS = "salesforce:leads"


def sample_inputs():
    moves = [
        Transition(CONTENT, "A1", "Drafting", "Ready for Design", T0, TimeSource.HISTORY),
        Transition(CONTENT, "A1", "Ready for Design", "Drafting", T0 + 60 * M, TimeSource.HISTORY),
        Transition(CONTENT, "A1", "Drafting", EVIL, T0 + 90 * M, TimeSource.HISTORY),
        Transition(LEADS, "L1", "Open - Not Contacted", "MQL", T0, TimeSource.HISTORY),
        Transition(LEADS, "L1", "MQL", "Working - Contacted", T0 + 3 * M, TimeSource.HISTORY),
    ]
    evaluations = [
        GateEvaluation(CONTENT, "A1", f"gate {EVIL}", False, T0,
                       (CheckFailure("required", "Visual brief", f"Attach {EVIL}"),), moves[0].key),
        GateEvaluation(CONTENT, "A1", f"gate {EVIL}", True, T0 + 90 * M, (), moves[2].key),
        GateEvaluation(LEADS, "L1", "mql-entry", True, T0, (), moves[3].key),
    ]
    slas = [SlaOutcome(LEADS, "L1", "speed-to-lead", T0, T0 + 5 * M, T0 + 3 * M, False,
                       transition_key=moves[3].key)]
    records = [RecordSnapshot(CONTENT, "A1", EVIL, "designer@example.com"),
               RecordSnapshot(LEADS, "L1", "Ada Lovelace", "005SDR")]
    workflows = {CONTENT: ["Backlog", "Drafting", "Ready for Design", EVIL],
                 LEADS: ["Open - Not Contacted", "MQL", "Working - Contacted", "SQL"]}
    return KpiInputs(moves, evaluations, slas, workflows, records)


def sample_report():
    return compute_kpis(sample_inputs(), JAN, KpiSettings())


# -- HTML ------------------------------------------------------------------------------------

def test_html_is_one_self_contained_file():
    html = render_html(sample_report())
    assert html.startswith("<!DOCTYPE html>") and html.count("<html") == 1
    assert "http" not in html.lower()  # no src, href, xmlns, CDN: nothing to fetch
    assert not re.search(r"\b(src|href)\s*=", html, re.I)
    assert "<script" not in html.lower() and "@import" not in html and "url(" not in html
    assert html.count("<svg") >= 6  # a trend chart per tile
    assert "Handoff Health Scorecard" in html


def test_html_escapes_user_supplied_names():
    html = render_html(sample_report())
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert EVIL not in html


def test_html_of_an_empty_period_renders():
    html = render_html(compute_kpis(KpiInputs(), JAN))
    assert "n/a" in html and "No gate entries in this period." in html


# -- CSV, JSON, table, Sheet rows ------------------------------------------------------------

def test_csv_parses_back_one_row_per_kpi_per_group():
    report = sample_report()
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert tuple(rows[0]) == CSV_HEADER
    assert len(rows) == len([v for v in report.values if v.bucket == "period"])
    assert all(r["bucket"] == "period" for r in rows)
    by_key = {(r["kpi"], r["source"], r["group"]): r for r in rows}
    assert by_key[("speed_to_lead_median", LEADS, "all")]["value"] == "3"
    assert by_key[("sql_to_opportunity", LEADS, "all")]["value"] == ""  # n/a
    assert by_key[("first_pass_yield", CONTENT, f"gate {EVIL}")]["value"] == "0"
    weekly = list(csv.DictReader(io.StringIO(render_csv(report, weekly=True))))
    assert len(weekly) == len(rows) * (1 + len(report.weeks))


def test_json_is_valid_and_complete():
    report = sample_report()
    data = json.loads(render_json(report))
    assert data["period"] == {"start": "2025-01-01T00:00:00+00:00",
                              "end": "2025-02-01T00:00:00+00:00"}
    assert len(data["values"]) == len(report.values)
    assert {"kpi": "sql_to_opportunity", "source": LEADS, "group": "all", "bucket": "period",
            "value": None, "count": 0} in data["values"]
    assert data["kpis"][0]["definition"]


def test_table_reads_in_a_terminal():
    text = render_table(sample_report())
    assert "Speed-to-lead (median) [min]" in text and "3.0 min" in text
    assert "n/a" in text
    assert "Notes" in text


def test_sheet_rows_are_strings_of_one_width():
    rows = rows_for_sheet(sample_report())
    assert rows[0][0] == "KPI"
    assert all(isinstance(cell, str) for row in rows for cell in row)
    assert len({len(row) for row in rows}) == 1
    assert ["Speed-to-lead (median)", LEADS, "all", "2025-01-01 – 2025-01-31", "3", "min", "1",
            "2025-02-01T00:00:00+00:00"] in rows


# -- audit -----------------------------------------------------------------------------------

def audit_inputs(count=30):
    evaluations, moves, slas = [], [], []
    for i in range(count):
        at = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=20 * i)
        t = Transition(LEADS, f"L{i}", "Open - Not Contacted", "MQL", at, TimeSource.HISTORY)
        moves.append(t)
        failures = () if i % 3 else (CheckFailure("required", "Company", "Add the company"),)
        evaluations.append(GateEvaluation(LEADS, f"L{i}", "mql-entry", not failures, at, failures,
                                          t.key))
        slas.append(SlaOutcome(LEADS, f"L{i}", "speed-to-lead", at, at + 5 * M,
                               None if i % 2 else at + 2 * M, bool(i % 2), transition_key=t.key))
    return evaluations, moves, slas


def test_audit_sample_is_seeded_and_within_the_period():
    evaluations, moves, slas = audit_inputs()
    records = [RecordSnapshot(LEADS, "L0", "Ada", "005SDR")]
    first = audit_sample(evaluations, moves, slas, 10, seed=7, period=JAN, records=records)
    again = audit_sample(evaluations, moves, slas, 10, seed=7, period=JAN, records=records)
    other = audit_sample(evaluations, moves, slas, 10, seed=8, period=JAN, records=records)
    assert first == again and first != other
    assert len(first) == 10 and all(row.at in JAN for row in first)
    assert [row.at for row in first] == sorted(row.at for row in first)
    everything = audit_sample(evaluations, moves, slas, 100, seed=1, period=JAN, records=records)
    in_january = [e for e in evaluations if e.at in JAN]
    assert len(everything) == len(in_january)  # asking for more than there is
    zero = everything[0]
    assert (zero.record_id, zero.name, zero.owner) == ("L0", "Ada", "005SDR")
    assert zero.missing == ("Add the company",) and not zero.passed
    assert zero.sla == "speed-to-lead met after 2m00s"
    assert everything[1].sla.startswith("speed-to-lead BREACHED")
    assert everything[1].owner == "unknown"  # no snapshot
    assert zero.move == "Open - Not Contacted → MQL"
    assert audit_sample([], [], [], 20, seed=1, period=JAN) == []


def test_audit_text():
    evaluations, moves, slas = audit_inputs(2)
    rows = audit_sample(evaluations, moves, slas, 5, seed=1, period=JAN,
                        records=[RecordSnapshot(LEADS, "L0", "Ada", None)])
    text = render_audit(rows, JAN)
    assert text.splitlines()[:2] == ["Handoff audit  2025-01-01 – 2025-01-31", "2 handoffs sampled"]
    assert " 1. 2025-01-01 00:00 UTC  salesforce:leads  Ada (L0)" in text
    assert "    gate mql-entry: FAILED  [Open - Not Contacted → MQL]" in text
    assert "    missing: Add the company" in text
    assert "    owner: unassigned" in text


# -- the handoff map -------------------------------------------------------------------------

def test_handoff_map_for_a_small_workflow():
    workflows = {"asana:content": ["Backlog", "Drafting", "Ready for Design", "Live"]}
    gates = [
        GateEdge("content-to-design", "asana:content", "Ready for Design", (),
                 ("Campaign ID", "Visual brief"), "Drafting"),
        ("go-live", "asana:content", "Live", ("Ready for Design",), ('Say "hi" #1',), None),
        GateEdge("intake", "asana:content", "Backlog", (), ("Brief",)),
        GateEdge("ghost", "asana:content", "Nowhere"),
    ]
    assert handoff_map(workflows, gates) == "\n".join([
        "flowchart LR",
        '  subgraph s0["asana:content"]',
        "    direction LR",
        '    s0_0["Backlog"]',
        '    s0_1["Drafting"]',
        '    s0_2["Ready for Design"]',
        '    s0_3["Live"]',
        "  end",
        '  s0_0_in(("entry"))',
        "  %% gate ghost: status not in the workflow of asana:content",
        "  s0_0 --> s0_1",
        '  s0_1 -->|"<b>content-to-design</b><br/>• Campaign ID<br/>• Visual brief"| s0_2',
        '  s0_2 -->|"<b>go-live</b><br/>• Say #quot;hi#quot; #35;1"| s0_3',
        '  s0_0_in -->|"<b>intake</b><br/>• Brief"| s0_0',
        '  s0_2 -.->|"bounce: content-to-design"| s0_1',
    ]) + "\n"


def test_handoff_map_escapes_markup_in_names():
    text = handoff_map({"s": ["A", "<b>B</b>"]}, [])
    assert '["#lt;b#gt;B#lt;/b#gt;"]' in text
