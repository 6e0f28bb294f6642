"""Write-backs land on the row they were meant for, or are undone and retried.

Sheets has no conditional write: a row inserted, deleted or sorted between the spreadsheets.get
that located the rows and the batchUpdate shifts what a row index means. So the batchUpdate asks
for the header row and the key column as they are right after its requests were applied (the same
atomic step, no extra call), and `check` compares, per written row, the key now there with the
record's key. A row that no longer holds its record (or a header that moved) means the write
landed on a neighbour: those cells are put back at once (`undo_requests`: the note and values the
row now there had when located; a row not seen then, such as a freshly inserted one, is cleared)
and the actions fail retryable, so the ledger keeps them pending and the next cycle re-locates.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baton.connectors.sheets.write import Located, Plan, column_of, header_of, note_request, tab_of, value_request
from baton.core.actions import Action
from baton.core.errors import PayloadError


def check(reply: Mapping[str, Any], tab: str, located: Located, plan: Plan,
          actions: Sequence[Action], key_column: str) -> tuple[set[int], dict[int, str]] | None:
    """(rows whose write went astray, key now at each row); None when the header moved (every
    written cell is suspect). PayloadError when the answer lacks the spreadsheet it must carry."""
    spreadsheet = reply.get("updatedSpreadsheet")
    if not isinstance(spreadsheet, dict):
        raise PayloadError(f"tab {tab!r}: batchUpdate answer without `updatedSpreadsheet`")
    sheet = tab_of(spreadsheet, tab)
    data = (sheet or {}).get("data")
    if sheet is None or not isinstance(data, list) or len(data) != 2:
        raise PayloadError(f"tab {tab!r}: `updatedSpreadsheet.sheets[].data` does not hold the "
                           "header row and the key column")
    header = header_of(data[0])
    written = {col for _, col in plan.cells}
    for name, col in located.columns.items():
        if (col in written or name == key_column) and (col >= len(header) or header[col].strip() != name):
            return None
    keys_now = column_of(data[1])
    astray = {row for n, row in plan.rows_of.items()
              if keys_now.get(row, "") != actions[n].record_id.strip()}
    return astray, keys_now


def undo_requests(located: Located, plan: Plan, astray: set[int], keys_now: Mapping[int, str],
                  status_col: int) -> list[dict[str, Any]]:
    """Put back the cells written on rows in `astray`, as the row now there had them."""
    requests: list[dict[str, Any]] = []
    for (row, col), kind in plan.cells.items():
        if row not in astray:
            continue
        was = located.rows.get(keys_now.get(row, ""))  # where the row now at `row` was located
        if kind == "note" and col == status_col:
            text = located.status_notes.get(was, "") if was is not None else ""
            requests.append(note_request(located.sheet_id, row, col, text))
        else:
            text = located.values.get((was, col), "") if was is not None else ""
            requests.append(value_request(located.sheet_id, row, col, text))
    return requests
