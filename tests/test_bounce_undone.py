"""A bounce undone before the next poll is a new entry into the gated status, judged again.

Baton's bounce edits the record; the version it stored was read before that edit. When a person
(or a Flow) puts the status straight back, the next poll can return exactly that stored version:
a sheet row has no history and no modification time, and Baton's own note column is not part of
the row's version. Without knowing what it wrote, Baton would drop the row as unchanged and the
re-entry would never be judged."""
from __future__ import annotations

from tests.test_quiet_writebacks import BAD, LEADS_RULE, _rules, _status, _tasks
from tests.test_sheets_gates_e2e import KEY, TAB

SHEET_RULE = """
[[gate]]
id = "utm-qa"
source = "sheets:utm-tracker"
enters = "Ready for QA"
checks = [{ field = "Landing URL", utm = "campaign-links" }]
on_fail = { comment = "Not ready for QA:\\n{failures}", move_to = "Draft" }
"""


def _cell(box, key, column):
    row = box.sheets.row_of(box.spreadsheet_id, TAB, KEY, key)
    return box.sheets.values(box.spreadsheet_id, TAB)[row][
        box.sheets.header(box.spreadsheet_id, TAB).index(column)]


def test_a_sheet_row_put_back_before_the_next_poll_is_judged_again(make_sandbox, runtime_on,
                                                                    demo_config, tmp_path):
    box = make_sandbox("sheets")
    sheet = box.sheets
    runtime, runner = runtime_on(box, _rules(tmp_path, demo_config, SHEET_RULE))
    runner.run_all()
    box.clock.advance(60)
    sheet.set_cell(box.spreadsheet_id, TAB, KEY, "CMP-1106", "Status", "Ready for QA")
    box.clock.advance(30)
    runner.run_all()
    assert _cell(box, "CMP-1106", "Status") == "Draft"  # failed and bounced

    sheet.set_cell(box.spreadsheet_id, TAB, KEY, "CMP-1106", "Status", "Ready for QA")
    box.clock.advance(30)
    report = runner.run_all()["sheets:utm-tracker"]
    assert report.transitions == 2  # Baton's bounce, then the owner's way back in
    assert _cell(box, "CMP-1106", "Status") == "Draft"  # judged again, bounced again
    entries = [t for t in runtime.store.transitions("sheets:utm-tracker")
               if t.to_status == "Ready for QA"]
    assert len(entries) == 2

    # left alone after that, the row is quiet: Baton's own bounce is one transition, not two
    box.clock.advance(30)
    assert runner.run_all()["sheets:utm-tracker"].transitions == 1  # the second bounce
    box.clock.advance(30)
    assert runner.run_all()["sheets:utm-tracker"].transitions == 0


def test_a_lead_put_back_a_second_after_the_bounce_is_a_repeat_failure(make_sandbox, runtime_on,
                                                                       demo_config, tmp_path):
    """Salesforce keeps whole seconds: a re-entry in the very second of the entry it repeats
    would be the same transition (same record, status and second). A second later it is new,
    even though the lead then looks exactly as Baton read it, apart from its stamp."""
    box = make_sandbox("salesforce")
    sf = box.salesforce
    lead = sf.create_record("Lead", BAD)
    runtime, runner = runtime_on(box, _rules(tmp_path, demo_config, LEADS_RULE))
    runner.run_all()
    box.clock.advance(60)
    sf.update_record("Lead", lead, {"Status": "MQL"})
    runner.run_all()
    assert _status(sf, lead) == "Data Remediation"
    box.clock.advance(1)
    sf.update_record("Lead", lead, {"Status": "MQL"})
    box.clock.advance(30)
    runner.run_all()
    assert _status(sf, lead) == "Data Remediation"
    [task] = _tasks(sf, "Handoff blocked")
    assert task["Description"].count("[baton:") == 2  # the repeat said on the open task
