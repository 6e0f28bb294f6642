"""A person's edit landing while Baton writes back is never taken for Baton's own write: Drive's
`version` says only that the file changed, not how often or by whom, so every cycle after a
write-back reads the tab again. Real googleapiclient against the emulator, the edit injected at
the exact moment by the emulator's request hooks (fixtures from test_sheets_connector)."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from baton.core.actions import Action, ActionKind
from baton.sandbox.sheets_seed import UTM_TAB
from tests.test_sheets_connector import (  # noqa: F401
    KEY, NOW, STATUS, STATUS_COL, Sandbox, comment, sandbox)


def once(sandbox: Sandbox, moment: str, route: str, edit: Callable[[], None]) -> None:
    """Run `edit` (a person's change) once, right `before` the next request on `route` is applied
    or right `after` it (before its answer reaches Baton)."""
    hook_name = f"{moment}_request"

    def hook(name: str) -> None:
        if name == route:
            setattr(sandbox.emulator, hook_name, None)
            edit()
    setattr(sandbox.emulator, hook_name, hook)


WRITES = {
    "note": lambda: [comment("w1", "CMP-1104")],
    "baton column": lambda: [Action(key="w2", kind=ActionKind.SET_FIELD, source="sheets:utm",
                                    record_id="CMP-1104", gate_id="utm", value="FAIL: utm")],
}


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("moment", ["before", "after"])
def test_an_edit_landing_during_a_write_back_is_read_by_the_next_cycle(
        sandbox: Sandbox, moment: str, write: str) -> None:
    connector = sandbox.connector()
    cursor = connector.fetch_changes(None, NOW).cursor
    sid = sandbox.spreadsheet_id
    once(sandbox, moment, "batch_update",
         lambda: sandbox.emulator.set_cell(sid, UTM_TAB, KEY, "CMP-1106", STATUS, "Ready for QA"))

    [result] = connector.write_back(WRITES[write]())
    assert result.ok
    assert sandbox.emulator.before_request is None and sandbox.emulator.after_request is None

    seen = connector.fetch_changes(cursor, NOW)
    assert next(r for r in seen.records if r.id == "CMP-1106").status == "Ready for QA"
    # and once read, an unchanged file is idle again
    idle = connector.fetch_changes(seen.cursor, NOW)
    assert idle.records == [] and idle.api_calls == 1



def test_a_row_entering_qa_while_baton_writes_a_note_gets_its_own_next_cycle(make_sandbox, runtime_on):
    """The handoff the latency benchmark once missed, through the engine and the ledger."""
    box = make_sandbox("sheets")
    runtime, runner = runtime_on(box)
    sid, sheet = box.spreadsheet_id, box.sheets
    runner.run_all()  # baseline
    box.clock.advance(60)
    sheet.set_cell(sid, UTM_TAB, KEY, "CMP-1108", STATUS, "Ready for QA")  # fails its gate

    def person_moves_another_row(name: str) -> None:
        if name == "batch_update":
            sheet.after_request = None
            sheet.set_cell(sid, UTM_TAB, KEY, "CMP-1106", STATUS, "Ready for QA")  # fails too
    sheet.after_request = person_moves_another_row
    box.clock.advance(30)
    first = runner.run_all()["sheets:utm-tracker"]
    assert (first.transitions, first.violations) == (1, 1)
    assert sheet.after_request is None  # the edit landed right after Baton's write

    box.clock.advance(30)
    second = runner.run_all()["sheets:utm-tracker"]
    assert (second.transitions, second.violations) == (1, 1)
    row = sheet.row_of(sid, UTM_TAB, KEY, "CMP-1106")
    assert "utm_source appears 2 times" in (sheet.note(sid, UTM_TAB, row, STATUS_COL) or "")
