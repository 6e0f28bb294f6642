"""Routing and rep delay from Salesforce owner history: a lead a queue owns at MQL and a person
takes later. The cycle records LeadHistory's Owner rows (ids) from the same history read as the
status, the store keeps them (migration "owner changes"), and the report splits speed-to-lead.
Simple-salesforce against the emulator, a real SQLite state store."""
from __future__ import annotations

from baton.core.kpi_settings import KpiSettings
from baton.kpi import Period, compute_kpis, load_inputs

LEADS = "salesforce:leads"
LEAD = {"Company": "Acme", "Title": "CMO", "LeadSource": "Demo Request",
        "Status": "Open - Not Contacted", "Consent__c": True}


def test_a_queue_owned_lead_taken_by_a_person_after_mql_splits_speed_to_lead(
        make_sandbox, runtime_on):
    box = make_sandbox("salesforce")
    sf = box.salesforce
    queue = box.org.remediation_queue_id
    assert queue.startswith("00G")
    lead = sf.create_record("Lead", {**LEAD, "FirstName": "Queue", "LastName": "Lead",
                                     "Email": "queue@acme.example", "OwnerId": queue})
    runtime, runner = runtime_on(box)
    runner.run_all()  # baseline
    box.clock.advance(5)
    sf.update_record("Lead", lead, {"Status": "MQL"})
    box.clock.advance(30)
    runner.run_all()
    box.clock.advance(90)
    sf.update_record("Lead", lead, {"OwnerId": box.org.sdr_id})  # routed: 2 min after MQL
    box.clock.advance(60)
    runner.run_all()
    box.clock.advance(120)
    sf.update_record("Lead", lead, {"Status": "Working - Contacted"})  # touched: 3 min later
    box.clock.advance(30)
    runner.run_all()
    runner.run_all()  # the lookback re-reads the same rows: stored once

    store = runtime.store
    [change] = store.owner_changes(LEADS)
    assert (change.record_id, change.old, change.new) == (lead, queue, box.org.sdr_id)
    inputs = load_inputs(store, {LEADS: ["MQL", "Working - Contacted", "SQL"]}, KpiSettings())
    start = box.clock()
    report = compute_kpis(inputs, Period.month(start.year, start.month), KpiSettings())
    assert report.value("speed_to_lead_median", source=LEADS).value == 5.0
    assert report.value("routing_delay_median", source=LEADS).value == 2.0
    assert report.value("rep_delay_median", source=LEADS).value == 3.0
