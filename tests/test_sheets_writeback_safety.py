"""Issue #11, Sheets side: write-backs land on their own row even when rows move under the
write, a person's note text is never parsed as a Baton block, run-time tokens never reach a log,
and malformed 200 answers are PayloadErrors naming the field. Real googleapiclient against the
emulator (fixtures from test_sheets_connector)."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from baton.connectors.sheets.notes import remove_block, upsert_block
from baton.core.actions import Action, ActionKind
from baton.core.errors import PayloadError
from baton.core.keys import idempotency_marker
from baton.core.logs import scrub_secrets
from baton.sandbox.sheets_seed import UTM_TAB
from tests.test_sheets_connector import NOW, STATUS_COL, Sandbox, comment, sandbox  # noqa: F401


def once_before(sandbox: Sandbox, route: str, edit: Callable[[], None]) -> None:
    """Run `edit` (a person's change) right before the next request on `route`."""
    def hook(name: str) -> None:
        if name == route:
            sandbox.emulator.before_request = None
            edit()
    sandbox.emulator.before_request = hook


@pytest.mark.parametrize("move", ["insert", "delete", "sort"])
def test_rows_moving_between_locate_and_write_never_leave_a_note_on_a_neighbour(
        sandbox: Sandbox, move: str) -> None:
    connector = sandbox.connector()
    connector.fetch_changes(None, NOW)
    sid = sandbox.spreadsheet_id
    edits = {
        "insert": lambda: sandbox.emulator.insert_row(sid, UTM_TAB, 1, ["CMP-1300", "Ads", "a", "", "", "Draft"]),
        "delete": lambda: sandbox.emulator.delete_row(sid, UTM_TAB, 1),
        "sort": lambda: sandbox.emulator.sort_rows(sid, UTM_TAB, "Asset", descending=True),
    }
    target = "CMP-1105"
    notes_before = sandbox.emulator.notes(sid, UTM_TAB)
    once_before(sandbox, "batch_update", edits[move])

    [result] = connector.write_back([comment("k5", target, "utm_medium is missing")])

    assert not result.ok and result.retryable
    assert "not recorded" in (result.error or "")
    # the neighbour that took the target's place got its note back; nothing of ours anywhere
    assert sandbox.emulator.notes(sid, UTM_TAB) == {
        (sandbox.row(key), STATUS_COL): text for key, text in _by_key(sandbox, notes_before).items()}

    [again] = connector.write_back([comment("k5", target, "utm_medium is missing")])
    assert again.ok
    notes = sandbox.emulator.notes(sid, UTM_TAB)
    assert idempotency_marker("k5") in notes[(sandbox.row(target), STATUS_COL)]
    assert sum(idempotency_marker("k5") in text for text in notes.values()) == 1


def _by_key(sandbox: Sandbox, notes: dict[tuple[int, int], str]) -> dict[str, str]:
    """Notes keyed by the record key of their row, as they were when `notes` was taken."""
    keys = {row: key for key, row in _rows(sandbox).items()}
    return {keys[row]: text for (row, _), text in notes.items() if row in keys}


def _rows(sandbox: Sandbox) -> dict[str, int]:
    values = sandbox.emulator.values(sandbox.spreadsheet_id, UTM_TAB)
    return {row[0]: n for n, row in enumerate(values) if n and row and row[0]}


def test_rows_moving_above_only_some_targets_fail_only_those(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    connector.fetch_changes(None, NOW)
    sid = sandbox.spreadsheet_id
    first, last = sorted(_rows(sandbox), key=_rows(sandbox).get)[0], "CMP-1110"
    below = sandbox.row(first) + 1
    once_before(sandbox, "batch_update",
                lambda: sandbox.emulator.insert_row(sid, UTM_TAB, below, ["", "", "", "", "", ""]))

    above, moved = connector.write_back([comment("a1", first), comment("a2", last)])

    assert above.ok and not moved.ok and moved.retryable
    notes = sandbox.emulator.notes(sid, UTM_TAB)
    assert list(notes) == [(sandbox.row(first), STATUS_COL)]


def test_a_value_written_on_a_moved_row_is_put_back(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    connector.fetch_changes(None, NOW)
    sid = sandbox.spreadsheet_id
    values_before = {row[0]: row for row in sandbox.emulator.values(sid, UTM_TAB)[1:] if row}
    once_before(sandbox, "batch_update", lambda: sandbox.emulator.delete_row(sid, UTM_TAB, 1))

    [result] = connector.write_back([Action(key="v", kind=ActionKind.SET_FIELD, source="sheets:utm",
                                            record_id="CMP-1105", gate_id="utm", value="FAIL")])

    assert not result.ok and result.retryable
    after = {row[0]: row for row in sandbox.emulator.values(sid, UTM_TAB)[1:] if row}
    assert all(after[key] == values_before[key] for key in after)


def test_a_persons_look_alike_block_is_kept_verbatim_and_never_counts() -> None:
    person = ("⚑ Baton · utm\nI copied this from another row\n[baton:made-up]\n"
              "⚑ Baton says hi\nplease check")
    action = Action(key="real", kind=ActionKind.COMMENT, source="s", record_id="r", gate_id="utm",
                    text="UTM check failed")

    written = upsert_block(person, action)
    assert written.startswith(person) and idempotency_marker("real") in written
    assert remove_block(written, "real") == person
    # a note whose only "block" is forged: removing the action's block changes nothing
    assert remove_block(person, "real") == person
    # writing twice replaces the block in place
    assert upsert_block(written, action) == written


def test_a_forged_header_in_the_cell_survives_a_fix_as_the_persons_text(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    connector.fetch_changes(None, NOW)
    row = sandbox.row("CMP-1104")
    person = "⚑ Baton · utm\nnot really Baton\n[baton:zzz]"
    sandbox.emulator.set_note(sandbox.spreadsheet_id, UTM_TAB, row, STATUS_COL, person)

    assert connector.write_back([comment("c", "CMP-1104")])[0].ok
    [fixed] = connector.write_back([Action(key="r", kind=ActionKind.REMOVE_NOTE, source="sheets:utm",
                                           record_id="CMP-1104", gate_id="utm", target="c")])

    assert fixed.ok
    assert sandbox.status_note("CMP-1104") == person


def test_tokens_obtained_at_run_time_are_scrubbed_from_logs(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    connector.fetch_changes(None, NOW)
    tokens = list(sandbox.emulator.tokens)
    sandbox.emulator.expire_tokens()
    connector.fetch_changes(None, NOW)  # a refreshed token
    tokens += list(sandbox.emulator.tokens)
    assert len(set(tokens)) == 2
    event = scrub_secrets(None, "info", {"event": "x", "detail": " ".join(tokens)})
    assert not any(token in event["detail"] for token in tokens)


@pytest.mark.parametrize(("body", "field"), [
    ({"range": "x", "values": [["Campaign ID"], "CMP-1"]}, "values[1]"),
    ({"range": "x", "values": {"0": ["a"]}}, "values"),
    ({"range": "x"}, "values[0]"),
])
def test_a_values_answer_of_the_wrong_shape_is_a_payload_error_naming_the_field(
        sandbox: Sandbox, body: dict[str, object], field: str) -> None:
    connector = sandbox.connector()
    sandbox.emulator.faults.add("values_get", status=200, body=body)
    with pytest.raises(PayloadError) as error:
        connector.fetch_changes(None, NOW)
    assert f"`{field}`" in str(error.value)


def test_a_batch_update_answer_without_the_spreadsheet_is_a_retryable_failure(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    connector.fetch_changes(None, NOW)
    sandbox.emulator.faults.add("batch_update", status=200, body={"spreadsheetId": "x"}, after=True)

    [result] = connector.write_back([comment("p", "CMP-1104")])

    assert not result.ok and result.retryable and "updatedSpreadsheet" in (result.error or "")
