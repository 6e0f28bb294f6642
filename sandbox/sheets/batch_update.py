"""Routes: `spreadsheets.batchUpdate` (updateCells and repeatCell for notes and values,
addSheet), every request checked before any is applied; with `includeSpreadsheetInResponse` the
answer carries `updatedSpreadsheet` as it is right after the requests (`responseRanges`,
`responseIncludeGridData`, or a `fields` mask naming `updatedSpreadsheet.sheets.data`)."""
from __future__ import annotations

from typing import Any

from baton.sandbox.server import Request, Response, route

from .a1 import parse_a1
from .fields import apply_field_mask, mask_mentions, parse_field_mask
from .model import Cell, GoogleApiError, Sheet, Spreadsheet
from .state import SheetsState


class BatchUpdateRoutes(SheetsState):
    @route("POST", r"/v4/spreadsheets/(?P<sid>[^/:]+):batchUpdate", name="batch_update")
    def batch_update(self, request: Request) -> Response:
        caller = self._caller(request, "batch_update")
        book = self._book(request.params["sid"], caller, write=True)
        body = request.json() or {}
        requests = body.get("requests") or []
        if not requests:
            raise GoogleApiError(400, "Must specify at least one request.")
        writes: list[tuple[Sheet, int, int, str, Any]] = []  # planned, applied only if all are valid
        for n, item in enumerate(requests):
            if len(item) != 1:
                raise GoogleApiError(400, f"Invalid requests[{n}]: exactly one kind of request must be set")
            kind, spec = next(iter(item.items()))
            if kind == "updateCells":
                writes.extend(self._plan_update_cells(book, n, spec))
            elif kind == "repeatCell":
                writes.extend(self._plan_repeat_cell(book, n, spec))
            elif kind == "addSheet":
                continue  # applied below, after every request was checked
            else:
                raise GoogleApiError(400, f"Invalid requests[{n}]: the sandbox does not emulate {kind}")
        replies: list[dict[str, Any]] = []
        for item in requests:
            spec = item.get("addSheet")
            replies.append({"addSheet": {"properties": self._add_sheet(book, spec)}} if spec else {})
        for sheet, row, col, field_name, value in writes:
            cell = sheet.ensure(row, col)
            if field_name == "note":
                cell.note = value or None
            else:
                cell.value, cell.formula = value.value, value.formula
        self._touch(book)
        answer: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id, "replies": replies}
        mask = parse_field_mask(request.arg("fields") or "")
        if body.get("includeSpreadsheetInResponse"):
            include = bool(body.get("responseIncludeGridData"))
            if request.arg("fields"):  # a field mask overrides responseIncludeGridData
                include = mask_mentions(mask, "updatedSpreadsheet", "sheets", "data")
            ranges = [parse_a1(book, r) for r in body.get("responseRanges") or []]
            answer["updatedSpreadsheet"] = self._resource(book, ranges, include)  # type: ignore[attr-defined]  # MetadataRoutes' method: the emulator class combines both
        return Response(200, apply_field_mask(answer, mask))

    def _add_sheet(self, book: Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
        title = ((spec or {}).get("properties") or {}).get("title") or f"Sheet{len(book.sheets) + 1}"
        if any(sheet.title == title for sheet in book.sheets):
            raise GoogleApiError(400, f'Invalid requests[0].addSheet: A sheet with the name "{title}" '
                                      "already exists. Please enter another name.")
        sheet = Sheet(next(self._sheet_ids), title)
        sheet.rows, sheet.row_count, sheet.column_count = [], 1000, 26
        book.sheets.append(sheet)
        return sheet.properties(len(book.sheets) - 1)

    def _fields(self, n: int, kind: str, spec: dict[str, Any]) -> set[str]:
        fields = {f.strip() for f in (spec.get("fields") or "").split(",") if f.strip()}
        if not fields:
            raise GoogleApiError(400, f"Invalid requests[{n}].{kind}: At least one field must be specified in 'fields'.")
        if "*" in fields:
            return {"note", "userEnteredValue"}
        unknown = fields - {"note", "userEnteredValue"}
        if unknown:
            raise GoogleApiError(400, f"Invalid requests[{n}].{kind}: the sandbox does not emulate fields {sorted(unknown)}")
        return fields

    def _grid(self, book: Spreadsheet, n: int, kind: str, spec: dict[str, Any]) -> tuple[Sheet, int, int, int | None, int | None]:
        sheet = book.sheet_by_id(int(spec.get("sheetId", 0)))
        if sheet is None:
            raise GoogleApiError(400, f"Invalid requests[{n}].{kind}: No grid with id: {spec.get('sheetId', 0)}")
        r0 = int(spec.get("startRowIndex", spec.get("rowIndex", 0)))
        c0 = int(spec.get("startColumnIndex", spec.get("columnIndex", 0)))
        r1 = spec.get("endRowIndex")
        c1 = spec.get("endColumnIndex")
        if r0 >= sheet.row_count:
            raise GoogleApiError(
                400, f"Invalid requests[{n}].{kind}: GridCoordinate.rowIndex[{r0}] is after last row in grid[{sheet.row_count - 1}]"
            )
        return sheet, r0, c0, (int(r1) if r1 is not None else None), (int(c1) if c1 is not None else None)

    def _cell_from(self, n: int, data: dict[str, Any]) -> Cell:
        entered = data.get("userEnteredValue") or {}
        if "formulaValue" in entered:
            return Cell(formula=str(entered["formulaValue"]))
        if "stringValue" in entered:
            return Cell(value=str(entered["stringValue"]))
        if "numberValue" in entered:
            return Cell(value=float(entered["numberValue"]))
        if "boolValue" in entered:
            return Cell(value=bool(entered["boolValue"]))
        return Cell()

    def _plan_update_cells(self, book: Spreadsheet, n: int, spec: dict[str, Any]) -> list[tuple[Sheet, int, int, str, Any]]:
        fields = self._fields(n, "updateCells", spec)
        if "range" in spec:
            sheet, r0, c0, r1, c1 = self._grid(book, n, "updateCells", spec["range"])
        elif "start" in spec:
            sheet, r0, c0, _, _ = self._grid(book, n, "updateCells", spec["start"])
            r1 = c1 = None
        else:
            raise GoogleApiError(400, f"Invalid requests[{n}].updateCells: range or start is required")
        planned: list[tuple[Sheet, int, int, str, Any]] = []
        covered: set[tuple[int, int]] = set()
        for dr, row in enumerate(spec.get("rows") or []):
            for dc, data in enumerate(row.get("values") or []):
                r, c = r0 + dr, c0 + dc
                if (r1 is not None and r >= r1) or (c1 is not None and c >= c1):
                    raise GoogleApiError(400, f"Invalid requests[{n}].updateCells: data is outside the range")
                covered.add((r, c))
                if "note" in fields:
                    planned.append((sheet, r, c, "note", data.get("note")))
                if "userEnteredValue" in fields:
                    planned.append((sheet, r, c, "userEnteredValue", self._cell_from(n, data)))
        if r1 is not None or c1 is not None:  # cells of the range the rows do not cover are cleared
            rr1 = r1 if r1 is not None else sheet.row_count
            cc1 = c1 if c1 is not None else sheet.column_count
            for r in range(r0, rr1):
                for c in range(c0, cc1):
                    if (r, c) not in covered and sheet.cell(r, c) is not None:
                        if "note" in fields:
                            planned.append((sheet, r, c, "note", None))
                        if "userEnteredValue" in fields:
                            planned.append((sheet, r, c, "userEnteredValue", Cell()))
        return planned

    def _plan_repeat_cell(self, book: Spreadsheet, n: int, spec: dict[str, Any]) -> list[tuple[Sheet, int, int, str, Any]]:
        fields = self._fields(n, "repeatCell", spec)
        sheet, r0, c0, r1, c1 = self._grid(book, n, "repeatCell", spec.get("range") or {})
        data = spec.get("cell") or {}
        planned: list[tuple[Sheet, int, int, str, Any]] = []
        for r in range(r0, r1 if r1 is not None else sheet.row_count):
            for c in range(c0, c1 if c1 is not None else sheet.column_count):
                if "note" in fields:
                    planned.append((sheet, r, c, "note", data.get("note")))
                if "userEnteredValue" in fields:
                    planned.append((sheet, r, c, "userEnteredValue", self._cell_from(n, data)))
        return planned
