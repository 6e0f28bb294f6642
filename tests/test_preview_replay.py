"""`preview` replays a gate on the values recorded when each transition happened, through the
real Salesforce connector and store: a lead fixed since its failed MQL entry still shows the
fire (with the values of that time); an edited or new gate replays on every recorded field;
what was not recorded (an entry from before migration 6, a field fetched only later) is named."""
from __future__ import annotations

from sqlalchemy import update

from baton.app.cli import main
from baton.engine.preview import preview, render
from baton.rules import load_rule_set
from baton.store import schema
from tests.conftest import ROOT
from tests.contract_helpers import BAD_LEAD

DEMO = ROOT / "rules" / "demo"
LONG_AGO = "3650d"


def lead_org(make_sandbox, runtime_on):
    box = make_sandbox("salesforce")
    lead = box.salesforce.create_record("Lead", BAD_LEAD)
    runtime, runner = runtime_on(box)
    runner.run_all()  # the baseline
    box.clock.advance(60)
    box.salesforce.update_record("Lead", lead, {"Status": "MQL"})  # fails mql-entry
    box.clock.advance(30)
    assert runner.run_all()["salesforce:leads"].violations == 1
    box.clock.advance(60)
    # remediation fixes the lead: its current values now pass the gate
    box.salesforce.update_record("Lead", lead, {
        "Title": "CTO", "Consent__c": True, "Email": "grace@cobol.example",
        "Webinar_Topic__c": "COBOL today", "Status": "Working - Contacted"})
    box.clock.advance(30)
    runner.run_all()
    return box, runtime, lead


def since(box):
    from baton.kpi.commands import parse_moment
    return parse_moment(LONG_AGO, box.clock.now())


def test_a_lead_fixed_since_still_shows_the_fire_with_the_values_of_the_time(
        make_sandbox, runtime_on):
    box, runtime, lead = lead_org(make_sandbox, runtime_on)
    gate = runtime.rules.current().gate("mql-entry")
    [stored] = runtime.store.stored_records("salesforce:leads", lead)
    assert stored.fields["Consent__c"] is True  # fixed now

    result = preview(gate, runtime.store, since(box))
    assert result.replayed == 1  # its one MQL entry
    [(at, judged, messages)] = result.would_fire
    assert judged.id == lead and judged.fields["Consent__c"] is False and not judged.fields["Title"]
    assert "Marketing consent (Consent__c) is not recorded" in messages
    assert result.unrecorded_entries == 0 and not result.unrecorded_fields
    text = render(result)
    assert "Read from Baton's stored snapshot" in text and "not the live tools" in text
    assert "it would have fired 1 time(s) over 1 recorded entr(y/ies), on the values recorded" in text


def test_an_edited_gate_replays_on_every_recorded_field_and_names_what_was_not_recorded(
        make_sandbox, runtime_on, tmp_path):
    box, runtime, lead = lead_org(make_sandbox, runtime_on)
    # a gate the admin is writing: into a status no gate guarded, reading a field no gate read
    draft = tmp_path / "draft.toml"
    draft.write_text('[[gate]]\nid = "contacted"\nsource = "salesforce:leads"\n'
                     'enters = "Working - Contacted"\nchecks = [\n'
                     '  { field = "Company", pattern = "Cobol.*" },\n'
                     '  { field = "Phone", required = true },\n]\n')
    gate = load_rule_set([draft, DEMO / "taxonomy.toml"]).gate("contacted")
    result = preview(gate, runtime.store, since(box))
    assert result.replayed == 1
    [(_, judged, messages)] = result.would_fire
    assert judged.fields["Company"] == "Cobol Systems" and judged.fields["Title"] == "CTO"
    assert messages == ["Phone is missing"]
    assert dict(result.unrecorded_fields) == {"Phone": 1}  # the source never fetched it
    assert "Not recorded at the time, taken from the latest known values: 'Phone' (1)." in render(result)

    # an entry recorded before Baton kept the values (a state from before migration 6)
    with runtime.store.engine.begin() as connection:
        connection.execute(update(schema.transitions).values(values_json=None))
    mql = preview(runtime.rules.current().gate("mql-entry"), runtime.store, since(box))
    assert (mql.replayed, mql.unrecorded_entries, mql.would_fire) == (1, 1, [])  # latest: fixed
    assert "1 entr(y/ies) had no values recorded (from before Baton kept them, or backfilled): " \
           "judged on the latest known values." in render(mql)


def test_the_cli_says_what_it_read(make_sandbox, runtime_on, tmp_path, capsys):
    box, runtime, lead = lead_org(make_sandbox, runtime_on)
    config = box.write_config(runtime.config, tmp_path / "baton.toml", tmp_path / "state.db")
    assert main(["preview", "--config", str(config), "mql-entry", "--since", LONG_AGO]) == 0
    out = capsys.readouterr().out
    assert f"Read from Baton's stored snapshot ({tmp_path / 'state.db'}), not the live tools." in out
    assert "Replay: it would have fired 1 time(s)" in out and "Grace Hopper" in out
