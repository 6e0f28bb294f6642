"""Every entry into a gated status is evaluated, also one the record left before the next poll:
comments and tasks go out, a bounce only while the record is still in the gated status, and the
decision log says which values were judged. Salesforce (no field history for these fields here)
through simple-salesforce against the emulator; the state file migration on real SQLite."""
from __future__ import annotations

from sqlalchemy import text

from baton.engine.entries import MOVED_ON
from baton.store import StateStore

LEAD = {"Company": "Acme", "Title": "CMO", "LeadSource": "Demo Request", "Status": "Open - Not Contacted"}


def test_a_lead_that_hops_through_mql_is_gated_gets_its_task_and_is_not_bounced(
        make_sandbox, runtime_on):
    box = make_sandbox("salesforce")
    sf = box.salesforce
    hopper = sf.create_record("Lead", {**LEAD, "FirstName": "Hop", "LastName": "Lead",
                                       "Email": "hop@acme.example", "Consent__c": False,
                                       "OwnerId": box.org.sdr_id})
    stayer = sf.create_record("Lead", {**LEAD, "FirstName": "Stay", "LastName": "Lead",
                                       "Email": "stay@acme.example", "Consent__c": False,
                                       "OwnerId": box.org.sdr_id})
    runtime, runner = runtime_on(box)
    runner.run_all()  # baseline
    box.clock.advance(5)
    sf.update_record("Lead", hopper, {"Status": "MQL"})
    sf.update_record("Lead", stayer, {"Status": "MQL"})
    box.clock.advance(20)
    sf.update_record("Lead", hopper, {"Status": "Working - Contacted"})  # before Baton looked
    box.clock.advance(30)
    runner.run_all()
    runner.run_all()

    store = runtime.store
    [hop] = store.evaluations("salesforce:leads", hopper)
    [stay] = store.evaluations("salesforce:leads", stayer)
    assert (hop.gate_id, hop.passed, hop.basis) == ("mql-entry", False, MOVED_ON)
    assert (stay.passed, stay.basis) == (False, "")
    statuses = {r["Id"]: r["Status"] for r in sf.records("Lead")}
    assert statuses[hopper] == "Working - Contacted"  # not yanked back: it had moved on
    assert statuses[stayer] == "Data Remediation"  # still in MQL: bounced
    tasks = sorted(t["Subject"] for t in sf.records("Task") if t["Subject"].startswith("Handoff"))
    assert tasks == ["Handoff blocked: Hop Lead", "Handoff blocked: Stay Lead"]
    kinds = sorted(e.kind for e in store.ledger_entries(hopper))
    assert "move_status" not in kinds and "task" in kinds


def test_an_older_state_file_gains_the_values_basis_column(tmp_path):
    path = tmp_path / "state.db"
    store = StateStore.open(path)
    with store.engine.begin() as c:  # what a state file written before migration 3 looks like
        c.execute(text("alter table evaluations drop column values_basis"))
        c.execute(text("drop table queue_assignments"))
        c.execute(text("delete from schema_version where version >= 3"))
    store.engine.dispose()
    again = StateStore.open(path)
    with again.engine.connect() as c:
        columns = [row[1] for row in c.execute(text("pragma table_info(evaluations)"))]
        versions = c.execute(text("select version from schema_version order by version")).scalars().all()
    assert "values_basis" in columns and versions == [1, 2, 3, 4]
    assert again.migrate() == 4
