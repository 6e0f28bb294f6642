"""Writing back: rows located by key right before the write, every action planned into ONE
spreadsheets.batchUpdate (notes, and values as `stringValue`: never a formula), and the KPI tab
of `baton report --to-sheet` (values as RAW).

Rows are located by key at write time, from the same spreadsheets.get that returns the current
notes, so a sort or an insert between the read and the write cannot misplace a note, and notes of
other gates (and of people) on the same cell are kept.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from baton.connectors.retry import RetryPolicy
from baton.connectors.sheets.a1 import cell_range, column_range, quote_tab, row_range
from baton.connectors.sheets.client import SheetsClient
from baton.connectors.sheets.notes import remove_block, upsert_block
from baton.connectors.sheets.read import TabReader
from baton.core.actions import Action, ActionKind, ActionResult
from baton.core.config import Secrets, SheetsSettings
from baton.core.errors import ConfigError, PayloadError, SourceError, TransientError


@dataclass(frozen=True)
class Located:
    """The tab as it is right before a write: sheetId, column positions, rows by key, and the
    cells a write may touch (status notes; values of the key, status and written columns)."""

    sheet_id: int
    columns: dict[str, int]
    rows: dict[str, int]  # key -> 0-based row index (first occurrence)
    status_notes: dict[int, str]  # 0-based row index -> current note of the status cell
    values: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) -> formatted value


@dataclass
class Plan:
    """What one write_back sends: the batchUpdate requests and each action's result if it lands."""

    results: dict[int, ActionResult] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    planned: list[int] = field(default_factory=list)  # actions whose result depends on the send
    cells: dict[tuple[int, int], str] = field(default_factory=dict)  # written cell -> "note" | "value"
    rows_of: dict[int, int] = field(default_factory=dict)  # action index -> the row it writes


def locate(reader: TabReader, value_columns: Sequence[str] = ()) -> Located:
    """One spreadsheets.get: sheetId, the header row, the key and status columns (values and
    notes) and the values of `value_columns` (what an undo would restore)."""
    columns = reader.columns
    if columns is None:  # never read in this process: learn the header first
        columns = reader.read_header()
    for _ in range(2):
        located = _locate_with(reader, columns, value_columns)
        if located is not None:
            return located
        columns = reader.columns or columns  # the header moved: _locate_with refreshed it
    raise TransientError(f"{reader.what('locate')}: the header keeps changing; try next cycle")


def _locate_with(reader: TabReader, columns: dict[str, int], value_columns: Sequence[str]) -> Located | None:
    source = reader.source
    names = list(dict.fromkeys([source.key_column, source.status_column,
                                *(c for c in value_columns if c in columns)]))
    wanted = [columns[name] for name in names]
    ranges = [row_range(source.tab, 1)] + [column_range(source.tab, c) for c in wanted]
    reply = reader.execute(
        "sheets.spreadsheets.get",
        lambda: reader.client.sheets.spreadsheets().get(
            spreadsheetId=source.spreadsheet_id,
            ranges=ranges,
            fields="sheets(properties(sheetId,title),data(startRow,startColumn,rowData(values(formattedValue,note))))",
        ),
        "spreadsheets.get locate",
    )
    sheet = tab_of(reply, source.tab)
    if sheet is None or len(sheet.get("data") or []) != len(ranges):
        raise SourceError(f"{reader.what('spreadsheets.get locate')}: the tab is gone")
    header_grid, *grids = sheet["data"]
    now_columns = reader.header(header_of(header_grid), 0)
    if any(now_columns.get(name) != col for name, col in zip(names, wanted, strict=True)):
        reader.columns = now_columns
        return None
    rows: dict[str, int] = {}
    for index, key in column_of(grids[0]).items():
        if index > 0 and key and key not in rows:
            rows[key] = index
    notes = {
        index: line[0]["note"]
        for index, line in enumerate(_grid_rows(grids[1]))
        if line and line[0].get("note")
    }
    values = {(index, col): text for col, grid in zip(wanted, grids, strict=True)
              for index, text in column_of(grid).items()}
    reader.sheet_id = int(sheet["properties"].get("sheetId", 0))
    return Located(reader.sheet_id, now_columns, rows, notes, values)


def plan(actions: Sequence[Action], located: Located, status_column: str, baton_column: str | None,
         tab: str) -> Plan:
    """Every action as cell edits on its row (by key).

    COMMENT  a block (text + marker) in the note of the row's status cell; other blocks and
             a person's own note text are kept.
    REMOVE_NOTE  removes the block of the COMMENT named by `target` (its key); an empty note
             is cleared.
    UPDATE_COMMENT  rewrites the block of the COMMENT named by `target` with the new text, in
             place, under the same marker (a repeat failure: still one block).
    SET_FIELD / MOVE_STATUS  a text value (`stringValue`: never a formula) in the named
             column (default `baton_column`) / the status column.
    """
    result = Plan()
    notes: dict[int, str] = {}  # row -> the note the status cell will have
    values: dict[tuple[int, int], str] = {}
    status_col = located.columns[status_column]
    for n, action in enumerate(actions):
        row = located.rows.get(action.record_id)
        if row is None:
            result.results[n] = ActionResult(action.key, ok=False,
                                             error=f"row {action.record_id!r} is no longer in the sheet")
            continue
        if action.kind in (ActionKind.COMMENT, ActionKind.REMOVE_NOTE, ActionKind.UPDATE_COMMENT):
            current = notes.get(row, located.status_notes.get(row, ""))
            result.rows_of[n] = row
            if action.kind is ActionKind.COMMENT:
                notes[row] = upsert_block(current, action)
                result.results[n] = ActionResult(action.key, ok=True, remote_id=action.key)
            elif not action.target:
                result.results[n] = ActionResult(action.key, ok=False,
                                                 error=f"{action.kind} without `target`: no note block")
                continue
            elif action.kind is ActionKind.UPDATE_COMMENT:
                # the open block, rewritten under its own marker: its REMOVE_NOTE still finds it
                notes[row] = upsert_block(current, replace(action, key=action.target))
                result.results[n] = ActionResult(action.key, ok=True, remote_id=action.target)
            else:
                notes[row] = remove_block(current, action.target)
                result.results[n] = ActionResult(action.key, ok=True, remote_id=action.target)
        elif action.kind in (ActionKind.SET_FIELD, ActionKind.MOVE_STATUS):
            column = (status_column if action.kind is ActionKind.MOVE_STATUS
                      else action.field or baton_column)
            if not column or column not in located.columns:
                result.results[n] = ActionResult(action.key, ok=False,
                                                 error=f"tab {tab!r} has no column {column!r}")
                continue
            values[(row, located.columns[column])] = "" if action.value is None else str(action.value)
            result.rows_of[n] = row
            result.results[n] = ActionResult(action.key, ok=True)
        else:
            result.results[n] = ActionResult(action.key, ok=False,
                                             error=f"{action.kind} is not something a sheet can hold")
            continue
        result.planned.append(n)

    for row, text in notes.items():
        if text != located.status_notes.get(row, ""):
            result.requests.append(note_request(located.sheet_id, row, status_col, text))
            result.cells[(row, status_col)] = "note"
    for (row, col), text in values.items():
        result.requests.append(value_request(located.sheet_id, row, col, text))
        result.cells[(row, col)] = "value"
    return result


def send(reader: TabReader, requests: list[dict[str, Any]], key_col: int | None = None) -> dict[str, Any]:
    """One batchUpdate. With `key_col`, its answer carries the header row and the key column as
    they are right after the requests were applied (the same atomic step): `verify.check`."""
    body: dict[str, Any] = {"requests": requests}
    extra: dict[str, Any] = {}
    if key_col is not None:
        tab = reader.source.tab
        body.update(includeSpreadsheetInResponse=True, responseIncludeGridData=True,
                    responseRanges=[row_range(tab, 1), column_range(tab, key_col)])
        extra["fields"] = ("spreadsheetId,updatedSpreadsheet(sheets(properties(sheetId,title),"
                           "data(startRow,startColumn,rowData(values(formattedValue)))))")
    return reader.execute(
        "sheets.spreadsheets.batchUpdate",
        lambda: reader.client.sheets.spreadsheets().batchUpdate(
            spreadsheetId=reader.source.spreadsheet_id, body=body, **extra
        ),
        "batchUpdate",
        write=True,
    )


def failed(action: Action, error: SourceError) -> ActionResult:
    return ActionResult(action.key, ok=False, error=str(error), retryable=isinstance(error, TransientError))


def note_request(sheet_id: int, row: int, col: int, text: str) -> dict[str, Any]:
    """Set (or, when empty, clear) one cell's note."""
    return _cell_request(sheet_id, row, col, {"note": text} if text else {}, "note")


def value_request(sheet_id: int, row: int, col: int, text: str) -> dict[str, Any]:
    """One cell's value as text (`stringValue`: never parsed, never a formula)."""
    return _cell_request(sheet_id, row, col, {"userEnteredValue": {"stringValue": text}}, "userEnteredValue")


def _cell_request(sheet_id: int, row: int, col: int, cell: dict[str, Any], fields: str) -> dict[str, Any]:
    return {"updateCells": {"range": cell_range(sheet_id, row, col), "rows": [{"values": [cell]}],
                            "fields": fields}}


def tab_of(reply: Mapping[str, Any], tab: str) -> dict[str, Any] | None:
    """The entry of `tab` in a spreadsheet resource's `sheets`; PayloadError when not a list."""
    sheets = reply.get("sheets", [])
    if not isinstance(sheets, list):
        raise PayloadError(f"tab {tab!r}: `sheets` is not a list in the answer")
    return next((s for s in sheets if isinstance(s, dict)
                 and (s.get("properties") or {}).get("title") == tab), None)


def header_of(grid: Mapping[str, Any]) -> list[str]:
    rows = _grid_rows(grid)
    return [str(c.get("formattedValue", "")) for c in rows[0]] if rows else []


def column_of(grid: Mapping[str, Any]) -> dict[int, str]:
    """A one-column GridData as row index -> its formatted text (stripped; blank cells left out)."""
    out: dict[int, str] = {}
    for index, line in enumerate(_grid_rows(grid)):
        text = str(line[0].get("formattedValue", "") if line else "").strip()
        if text:
            out[index] = text
    return out


def _grid_rows(grid: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    """GridData cells by row; whole-column ranges start at row 0, so the index is the row index."""
    rows = grid.get("rowData") or [] if isinstance(grid, Mapping) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise PayloadError("GridData.rowData is not a list of rows")
    lines = [row.get("values") or [] for row in rows]
    if not all(isinstance(v, list) and all(isinstance(c, dict) for c in v) for v in lines):
        raise PayloadError("GridData.rowData[].values is not a list of cells")
    return [list(v) for v in lines]


def write_rows(settings: SheetsSettings, secrets: Secrets, spreadsheet_id: str, tab: str,
               rows: Sequence[Sequence[Any]], retry: RetryPolicy | None = None) -> None:
    """Replace a tab's values with `rows` (the KPI tab of `baton report --to-sheet`).

    The tab is created when missing. A tab that exists must hold what this function wrote
    before (its first row is `rows[0]`, the KPI header) or be empty: a team's data is never
    replaced (ConfigError). Every value goes as RAW: a KPI label or a record name that starts
    with `=` stays text.
    """
    client = SheetsClient(settings, secrets, retry or RetryPolicy())
    what = f"spreadsheet {spreadsheet_id}, tab {tab!r}"
    calls: Counter[str] = Counter()
    meta = client.execute("spreadsheets.get", lambda: client.sheets.spreadsheets().get(
        spreadsheetId=spreadsheet_id, fields="sheets(properties(sheetId,title))"), what=what, counter=calls)
    titles = {s["properties"]["title"] for s in meta.get("sheets", [])}
    if tab not in titles:
        client.execute("spreadsheets.batchUpdate", lambda: client.sheets.spreadsheets().batchUpdate(
            spreadsheetId=spreadsheet_id, body={"requests": [{"addSheet": {"properties": {"title": tab}}}]}),
            what=what, counter=calls, write=True)
    quoted = quote_tab(tab)
    if tab in titles:
        header = client.execute("values.get", lambda: client.sheets.spreadsheets().values().get(
            spreadsheetId=spreadsheet_id, range=f"{quoted}!1:1", valueRenderOption="FORMATTED_VALUE"),
            what=what, counter=calls).get("values") or [[]]
        found = [str(cell) for cell in header[0]] if header else []
        if found and rows and found != [str(cell) for cell in rows[0]]:
            raise ConfigError(f"{what} holds data Baton did not write (its first row is "
                              f"{', '.join(found[:4])}{', …' if len(found) > 4 else ''}); "
                              "name an empty or new tab for the KPI report")
    client.execute("values.clear", lambda: client.sheets.spreadsheets().values().clear(
        spreadsheetId=spreadsheet_id, range=quoted, body={}), what=what, counter=calls, write=True)
    client.execute("values.update", lambda: client.sheets.spreadsheets().values().update(
        spreadsheetId=spreadsheet_id, range=f"{quoted}!A1", valueInputOption="RAW",
        body={"values": [[("" if v is None else str(v)) for v in row] for row in rows]}),
        what=what, counter=calls, write=True)
