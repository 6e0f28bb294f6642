"""Routes: Drive `files.get` (version, modifiedTime) and `spreadsheets.get` (properties, grid
data with notes)."""
from __future__ import annotations

from typing import Any

from baton.sandbox.server import Request, Response, route

from .a1 import GridRange, parse_a1
from .model import Spreadsheet
from .fields import apply_field_mask, mask_mentions, parse_field_mask
from .state import SheetsState


class MetadataRoutes(SheetsState):
    # -- routes: Drive

    @route("GET", r"/drive/v3/files/(?P<file_id>[^/]+)", name="drive_files_get")
    def drive_files_get(self, request: Request) -> Response:
        caller = self._caller(request, "drive_files_get")
        book = self._book(request.params["file_id"], caller, drive=True)
        full = {
            "kind": "drive#file",
            "id": book.spreadsheet_id,
            "name": book.title,
            "mimeType": "application/vnd.google-apps.spreadsheet",
            "version": str(book.version),
            "modifiedTime": book.modified.strftime("%Y-%m-%dT%H:%M:%S.") + f"{book.modified.microsecond // 1000:03d}Z",
            "capabilities": {"canEdit": caller not in book.viewers,
                             "canComment": True, "canReadRevisions": caller not in book.viewers},
        }
        fields = request.arg("fields")
        if fields is None:
            return Response(200, {k: full[k] for k in ("kind", "id", "name", "mimeType")})
        return Response(200, apply_field_mask(full, parse_field_mask(fields)))

    # -- routes: spreadsheets

    @route("GET", r"/v4/spreadsheets/(?P<sid>[^/:]+)", name="spreadsheets_get")
    def spreadsheets_get(self, request: Request) -> Response:
        caller = self._caller(request, "spreadsheets_get")
        book = self._book(request.params["sid"], caller)
        mask = parse_field_mask(request.arg("fields") or "")
        include = (request.arg("includeGridData") or "false").lower() == "true"
        if request.arg("fields"):
            include = mask_mentions(mask, "sheets", "data")
        ranges = [parse_a1(book, r) for r in request.query.get("ranges", [])]
        return Response(200, apply_field_mask(self._resource(book, ranges, include), mask))

    def _resource(self, book: Spreadsheet, ranges: list[GridRange], include: bool) -> dict[str, Any]:
        """The Spreadsheet resource (also a batchUpdate's `updatedSpreadsheet`)."""
        sheets = []
        for index, sheet in enumerate(book.sheets):
            mine = [r for r in ranges if r.sheet is sheet]
            if ranges and not mine:
                continue
            entry: dict[str, Any] = {"properties": sheet.properties(index)}
            if include:
                entry["data"] = [self._grid_data(r) for r in (mine or [GridRange(sheet, None, None, None, None)])]
            sheets.append(entry)
        return {
            "spreadsheetId": book.spreadsheet_id,
            "properties": {"title": book.title, "locale": "en_US", "timeZone": "Etc/GMT"},
            "sheets": sheets,
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit",
        }

    def _grid_data(self, grid: GridRange) -> dict[str, Any]:
        r0, r1, c0, c1 = grid.bounded()
        rows: list[dict[str, Any]] = []
        for r in range(r0, min(r1, len(grid.sheet.rows))):
            line = grid.sheet.rows[r]
            values = [
                (cell.cell_data() if c < len(line) and (cell := line[c]) is not None else {})
                for c in range(c0, min(c1, len(line)))
            ]
            while values and not values[-1]:
                values.pop()
            rows.append({"values": values} if values else {})
        while rows and not rows[-1]:
            rows.pop()
        out: dict[str, Any] = {"rowData": rows}
        if r0:
            out["startRow"] = r0
        if c0:
            out["startColumn"] = c0
        return out
