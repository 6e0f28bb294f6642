"""Every entry into a gated status is evaluated, also one the record left before the next poll:
comments and tasks go out, a bounce only while the record is still in the gated status, and the
decision log says which values were judged: as of the entry, from Salesforce field history.
Salesforce through simple-salesforce against the emulator; the state file migration on real
SQLite."""
from __future__ import annotations

from sqlalchemy import text

from baton.engine.entries import MOVED_ON
from baton.store import StateStore

LEAD = {"Company": "Acme", "Title": "CMO", "LeadSource": "Demo Request", "Status": "Open - Not Contacted"}


def enforced(evaluations):
    """The enforced gates' verdicts (the demo's shadow gate mql-seniority is recorded too)."""
    return [e for e in evaluations if e.mode == "enforce"]


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
    [hop] = enforced(store.evaluations("salesforce:leads", hopper))
    [stay] = enforced(store.evaluations("salesforce:leads", stayer))
    assert (hop.gate_id, hop.passed) == ("mql-entry", False)
    assert hop.basis == "values as of 2026-11-24 09:00:05 UTC from history"  # none changed since
    assert (stay.passed, stay.basis) == (False, "")
    statuses = {r["Id"]: r["Status"] for r in sf.records("Lead")}
    assert statuses[hopper] == "Working - Contacted"  # not yanked back: it had moved on
    assert statuses[stayer] == "Data Remediation"  # still in MQL: bounced
    tasks = sorted(t["Subject"] for t in sf.records("Task") if t["Subject"].startswith("Handoff"))
    assert tasks == ["Handoff blocked: Hop Lead", "Handoff blocked: Stay Lead"]
    kinds = sorted(e.kind for e in store.ledger_entries(hopper))
    assert "move_status" not in kinds and "task" in kinds


def test_a_passed_through_mql_is_judged_on_the_title_it_had_then(make_sandbox, runtime_on):
    box = make_sandbox("salesforce")
    sf = box.salesforce
    lead = sf.create_record("Lead", {**LEAD, "Title": None, "FirstName": "Ada", "LastName": "Fix",
                                     "Email": "ada@acme.example", "Consent__c": True,
                                     "OwnerId": box.org.sdr_id})
    runtime, runner = runtime_on(box)
    runner.run_all()  # baseline
    box.clock.advance(5)
    sf.update_record("Lead", lead, {"Status": "MQL"})  # no title: the gate must fail this entry
    box.clock.advance(10)
    sf.update_record("Lead", lead, {"Title": "CMO"})  # fixed after the entry
    box.clock.advance(10)
    sf.update_record("Lead", lead, {"Status": "Working - Contacted"})  # before Baton looked
    box.clock.advance(30)
    reader = runtime.connectors["salesforce:leads"]._reader
    reads = []
    read_history = reader._read_history
    reader._read_history = lambda *args: reads.append(args[2]) or read_history(*args)
    runner.run_all()

    store = runtime.store
    [entry] = enforced(store.evaluations("salesforce:leads", lead))
    assert (entry.gate_id, entry.passed) == ("mql-entry", False)
    assert entry.basis == "values as of 2026-11-24 09:00:05 UTC from history"
    assert [f["field"] for f in entry.failures] == ["Title"]
    assert reads == [True]  # one history read served the status and the Title
    assert {r["Id"]: r["Status"] for r in sf.records("Lead")}[lead] == "Working - Contacted"


def test_current_values_when_the_history_does_not_have_the_record():
    from datetime import UTC, datetime

    from baton.core.records import Record, Transition
    from baton.engine.entries import Entry, with_values_at_entry
    at = datetime(2026, 11, 24, 10, tzinfo=UTC)
    record = Record("s", "1", "u", "n", "Working", None, {"Title": "CMO"}, at)
    entry = Entry(record, Transition("k", "s", "1", "Open", "MQL", at), False, MOVED_ON)
    assert with_values_at_entry([entry], {})[0].basis == MOVED_ON


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
    assert "values_basis" in columns and versions == [1, 2, 3, 4, 5, 6]
    assert again.migrate() == 6
