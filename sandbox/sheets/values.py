"""Routes: `values.get`, `values.batchGet`, `values.update`, `values.batchUpdate` and
`values.clear` (RAW and USER_ENTERED input, the three render options)."""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from baton.sandbox.server import Request, Response, route

from .a1 import GridRange, parse_a1
from .model import Cell, GoogleApiError, Spreadsheet, parse_user_entered
from .state import SheetsState


class ValuesRoutes(SheetsState):
    @route("POST", r"/v4/spreadsheets/(?P<sid>[^/:]+)/values/(?P<range>[^/:]+):clear", name="values_clear")
    def values_clear(self, request: Request) -> Response:
        caller = self._caller(request, "values_clear")
        book = self._book(request.params["sid"], caller, write=True)
        grid = parse_a1(book, unquote(request.params["range"]))
        r0, r1, c0, c1 = grid.bounded()
        for row in grid.sheet.rows[r0:r1]:
            for col in range(c0, min(c1, len(row))):
                cell = row[col]
                if cell is not None:
                    cell.value, cell.formula = None, None
        self._touch(book)
        return Response(200, {"spreadsheetId": book.spreadsheet_id, "clearedRange": grid.a1()})

    # -- routes: values

    # A GET's range may carry a raw ':' ('Tab'!A2:G200, as clients that do not percent-encode send it)
    @route("GET", r"/v4/spreadsheets/(?P<sid>[^/:]+)/values/(?P<range>[^/]+)", name="values_get")
    def values_get(self, request: Request) -> Response:
        caller = self._caller(request, "values_get")
        book = self._book(request.params["sid"], caller)
        return Response(200, self._value_range(book, unquote(request.params["range"]), request))

    @route("GET", r"/v4/spreadsheets/(?P<sid>[^/:]+)/values:batchGet", name="values_batch_get")
    def values_batch_get(self, request: Request) -> Response:
        caller = self._caller(request, "values_batch_get")
        book = self._book(request.params["sid"], caller)
        ranges = request.query.get("ranges") or []
        return Response(
            200,
            {"spreadsheetId": book.spreadsheet_id, "valueRanges": [self._value_range(book, r, request) for r in ranges]},
        )

    def _value_range(self, book: Spreadsheet, a1: str, request: Request) -> dict[str, Any]:
        grid = parse_a1(book, a1)
        option = request.arg("valueRenderOption", "FORMATTED_VALUE") or "FORMATTED_VALUE"
        if option not in ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"):
            raise GoogleApiError(400, f"Invalid value at 'value_render_option' ({option})")
        by_columns = (request.arg("majorDimension") or "ROWS") == "COLUMNS"
        r0, r1, c0, c1 = grid.bounded()
        rows: list[list[Any]] = []
        for r in range(r0, min(r1, len(grid.sheet.rows))):
            line = grid.sheet.rows[r]
            out = [
                (cell.rendered(option) if (cell := line[c]) is not None else None)
                for c in range(c0, min(c1, len(line)))
            ]
            out = ["" if v is None else v for v in out]
            while out and out[-1] == "":
                out.pop()
            rows.append(out)
        while rows and not rows[-1]:
            rows.pop()
        if by_columns:
            width = max((len(r) for r in rows), default=0)
            cols = [[(r[c] if c < len(r) else "") for r in rows] for c in range(width)]
            for col in cols:
                while col and col[-1] == "":
                    col.pop()
            rows = cols
        out_range: dict[str, Any] = {"range": grid.a1(), "majorDimension": "COLUMNS" if by_columns else "ROWS"}
        if rows:
            out_range["values"] = rows
        return out_range

    @route("PUT", r"/v4/spreadsheets/(?P<sid>[^/:]+)/values/(?P<range>[^/:]+)", name="values_update")
    def values_update(self, request: Request) -> Response:
        caller = self._caller(request, "values_update")
        book = self._book(request.params["sid"], caller, write=True)
        option = request.arg("valueInputOption")
        result = self._write_values(book, unquote(request.params["range"]), request.json() or {}, option)
        self._touch(book)
        return Response(200, {"spreadsheetId": book.spreadsheet_id, **result})

    @route("POST", r"/v4/spreadsheets/(?P<sid>[^/:]+)/values:batchUpdate", name="values_batch_update")
    def values_batch_update(self, request: Request) -> Response:
        caller = self._caller(request, "values_batch_update")
        book = self._book(request.params["sid"], caller, write=True)
        body = request.json() or {}
        option = body.get("valueInputOption")
        for data in body.get("data") or []:  # validate everything before touching anything
            self._check_values(book, data.get("range", ""), data, option)
        results = [self._write_values(book, d.get("range", ""), d, option) for d in body.get("data") or []]
        self._touch(book)
        return Response(
            200,
            {
                "spreadsheetId": book.spreadsheet_id,
                "totalUpdatedRows": sum(r["updatedRows"] for r in results),
                "totalUpdatedColumns": max((r["updatedColumns"] for r in results), default=0),
                "totalUpdatedCells": sum(r["updatedCells"] for r in results),
                "totalUpdatedSheets": len({r["updatedRange"].split("!")[0] for r in results}),
                "responses": [{"spreadsheetId": book.spreadsheet_id, **r} for r in results],
            },
        )

    def _check_values(self, book: Spreadsheet, a1: str, body: dict[str, Any], option: str | None) -> GridRange:
        if option not in ("RAW", "USER_ENTERED"):
            raise GoogleApiError(400, "Invalid valueInputOption: INPUT_VALUE_OPTION_UNSPECIFIED")
        grid = parse_a1(book, a1)
        values = body.get("values") or []
        if (body.get("majorDimension") or "ROWS") != "ROWS":
            raise GoogleApiError(400, "the sandbox only emulates majorDimension=ROWS writes")
        r0 = grid.start_row or 0
        c0 = grid.start_col or 0
        if ":" not in a1.rsplit("!", 1)[-1]:
            return grid  # a single cell is an anchor: the data grows from it
        for dr, row in enumerate(values):
            if grid.end_row is not None and r0 + dr >= grid.end_row or (
                grid.end_col is not None and c0 + len(row) > grid.end_col
            ):
                raise GoogleApiError(
                    400,
                    f"Requested writing within range [{a1}], but tried writing to row [{r0 + dr + 1}]",
                )
        return grid

    def _write_values(self, book: Spreadsheet, a1: str, body: dict[str, Any], option: str | None) -> dict[str, Any]:
        grid = self._check_values(book, a1, body, option)
        r0 = grid.start_row or 0
        c0 = grid.start_col or 0
        values = body.get("values") or []
        cells = 0
        for dr, row in enumerate(values):
            for dc, value in enumerate(row):
                if value is None:
                    continue  # null: leave the cell as it is
                cell = grid.sheet.ensure(r0 + dr, c0 + dc)
                new = Cell(value=value) if option == "RAW" else parse_user_entered(value)
                cell.value, cell.formula = new.value, new.formula
                cells += 1
        width = max((len(r) for r in values), default=0)
        written = GridRange(grid.sheet, r0, r0 + max(len(values), 1), c0, c0 + max(width, 1))
        return {"updatedRange": written.a1(), "updatedRows": len(values), "updatedColumns": width, "updatedCells": cells}
