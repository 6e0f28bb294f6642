"""Sheets UTM-tracker gates end to end through google-api-python-client, the engine and the ledger."""
from __future__ import annotations

TAB, KEY = "UTM Tracker", "Campaign ID"


def status_note(box, key):
    row = box.sheets.row_of(box.spreadsheet_id, TAB, KEY, key)
    col = box.sheets.header(box.spreadsheet_id, TAB).index("Status")
    return box.sheets.note(box.spreadsheet_id, TAB, row, col)


def test_a_row_entering_qa_gets_a_note_that_follows_it_and_clears_when_fixed(make_sandbox, runtime_on):
    box = make_sandbox("sheets")
    runtime, runner = runtime_on(box)
    sheet = box.sheets
    runner.run_all()  # baseline: nothing written to old rows
    assert sheet.notes(box.spreadsheet_id, TAB) == {}

    box.clock.advance(60)
    sheet.set_cell(box.spreadsheet_id, TAB, KEY, "CMP-1106", "Status", "Ready for QA")  # duplicated utm_source
    sheet.set_cell(box.spreadsheet_id, TAB, KEY, "CMP-1101", "Status", "Ready for QA")  # a good row
    box.clock.advance(30)
    report = runner.run_all()["sheets:utm-tracker"]
    assert (report.transitions, report.violations) == (2, 1)
    note = status_note(box, "CMP-1106")
    assert "utm_source appears 2 times" in note and status_note(box, "CMP-1101") is None

    # Sorting and inserting rows above: no phantom transitions, the note moves with its row.
    sheet.sort_rows(box.spreadsheet_id, TAB, "Owner", descending=True)
    sheet.insert_row(box.spreadsheet_id, TAB, 1, ["CMP-1999", "email", "x", "", "", "Draft"])
    box.clock.advance(30)
    report = runner.run_all()["sheets:utm-tracker"]
    assert report.transitions == 1  # only the new row's first sighting
    assert status_note(box, "CMP-1106") == note

    sheet.set_cell(box.spreadsheet_id, TAB, KEY, "CMP-1106", "Landing URL",
                   "https://acme.example/x?utm_source=gdn&utm_medium=display&utm_campaign=cmp-1106-fixed")
    sheet.set_cell(box.spreadsheet_id, TAB, KEY, "CMP-1106", "Status", "Draft")
    box.clock.advance(30)
    runner.run_all()
    sheet.set_cell(box.spreadsheet_id, TAB, KEY, "CMP-1106", "Status", "Ready for QA")
    box.clock.advance(30)
    runner.run_all()
    assert status_note(box, "CMP-1106") is None
    times = [t.time_source.value for t in runtime.store.transitions("sheets:utm-tracker")]
    assert set(times) == {"poll"}  # Sheets keeps no history: the poll time, said so


def test_a_formula_looking_value_echoed_in_a_note_stays_text(make_sandbox, runtime_on):
    box = make_sandbox("sheets")
    runtime, runner = runtime_on(box)
    runner.run_all()
    box.clock.advance(60)
    box.sheets.set_cell(box.spreadsheet_id, TAB, KEY, "CMP-1108", "Status", "Ready for QA")
    box.clock.advance(30)
    runner.run_all()
    assert '=HYPERLINK("http://x","y")' in status_note(box, "CMP-1108")
    assert box.sheets.formula_cells(box.spreadsheet_id) == []
