"""An emulated Google Sheets v4 + Drive v3 server, close enough that google-api-python-client
cannot tell it from the real one for the calls Baton makes.

Served under one base URL (see `sandbox_settings` in sheets_seed.py):

    POST /token                                         service-account JWT grant
    GET  /v4/spreadsheets/{id}                          spreadsheets.get (fields, ranges, includeGridData)
    POST /v4/spreadsheets/{id}:batchUpdate              updateCells / repeatCell (notes, values)
    GET  /v4/spreadsheets/{id}/values/{range}           values.get
    PUT  /v4/spreadsheets/{id}/values/{range}           values.update (RAW | USER_ENTERED)
    GET  /v4/spreadsheets/{id}/values:batchGet          values.batchGet (repeated ranges)
    POST /v4/spreadsheets/{id}/values:batchUpdate       values.batchUpdate
    GET  /drive/v3/files/{id}                           files.get (fields=version,modifiedTime)

Cells keep what a user entered: a string, a number, a bool, or a formula. RAW stores text as it
is; USER_ENTERED turns "=..." into a formula (kept, and shown as a computed placeholder under
FORMATTED_VALUE). Every change bumps the Drive `version`, notes included. Errors use Google's
`{"error": {"code", "message", "status"}}` shape. Route names for `faults.add(...)`:
token, spreadsheets_get, batch_update, values_get, values_update, values_batch_get,
values_batch_update, drive_files_get.
"""
from __future__ import annotations

import base64
import itertools
from collections import deque
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from baton.sandbox.clock import SandboxClock
from baton.sandbox.server import Emulator, Fault, Request, Response, route

SANDBOX_REFRESH_TOKEN = "1//sandbox-refresh-token"  # an OAuth user's refresh token (Singer's tap)
SANDBOX_USER_EMAIL = "marketing-ops@northwind.example"

_STATUS_BY_CODE = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def google_error(code: int, message: str = "", reason: str | None = None) -> dict[str, Any]:
    """An error body in Google's shape; also what tests queue as a fault body."""
    status = _STATUS_BY_CODE.get(code, "UNKNOWN")
    error: dict[str, Any] = {"code": code, "message": message or status, "status": status}
    if reason:  # Drive-style detail that googleapiclient's num_retries looks at
        error["errors"] = [{"domain": "usageLimits", "reason": reason, "message": message}]
    return {"error": error}


def quota_fault(times: int = 1) -> dict[str, Any]:
    """kwargs for `faults.add(route, **quota_fault())`: the Sheets per-minute quota answer."""
    return {
        "times": times,
        "status": 429,
        "body": google_error(
            429,
            "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per "
            "minute per user' of service 'sheets.googleapis.com'",
        ),
    }


class GoogleApiError(Exception):
    def __init__(self, code: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason

    def response(self) -> Response:
        return Response(self.code, google_error(self.code, self.message, self.reason))


# ---------------------------------------------------------------- cells, sheets, spreadsheets


@dataclass
class Cell:
    value: str | float | bool | None = None  # the entered value, when not a formula
    formula: str | None = None  # "=..." when the user entered a formula
    note: str | None = None

    def is_empty(self) -> bool:
        return self.value in (None, "") and self.formula is None and not self.note

    def has_value(self) -> bool:
        return self.value not in (None, "") or self.formula is not None

    def formatted(self) -> str | None:
        if self.formula is not None:
            return _compute_placeholder(self.formula)
        return _format(self.value)

    def rendered(self, option: str) -> Any:
        if option == "FORMULA" and self.formula is not None:
            return self.formula
        if option in ("UNFORMATTED_VALUE", "FORMULA"):
            if self.formula is not None:
                return _compute_placeholder(self.formula)
            return self.value
        return self.formatted()

    def user_entered(self) -> dict[str, Any] | None:
        if self.formula is not None:
            return {"formulaValue": self.formula}
        if isinstance(self.value, bool):
            return {"boolValue": self.value}
        if isinstance(self.value, int | float):
            return {"numberValue": self.value}
        if self.value not in (None, ""):
            return {"stringValue": self.value}
        return None

    def cell_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        entered = self.user_entered()
        if entered is not None:
            out["userEnteredValue"] = entered
            if self.formula is not None:
                out["effectiveValue"] = {"stringValue": _compute_placeholder(self.formula)}
            else:
                out["effectiveValue"] = entered
            out["formattedValue"] = self.formatted()
        if self.note:
            out["note"] = self.note
        return out


def _format(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_HYPERLINK = re.compile(r'^=HYPERLINK\(\s*"([^"]*)"\s*(?:,\s*"([^"]*)"\s*)?\)$', re.IGNORECASE)


def _compute_placeholder(formula: str) -> str:
    """What a formula 'computes' to: HYPERLINK shows its label, anything else a marker."""
    match = _HYPERLINK.match(formula.strip())
    if match:
        return match.group(2) if match.group(2) is not None else match.group(1)
    return "#COMPUTED"


def _parse_user_entered(value: Any) -> Cell:
    """Interpret a value as if a person typed it (valueInputOption=USER_ENTERED)."""
    if isinstance(value, bool | int | float) or value is None:
        return Cell(value=value)
    text = str(value)
    if text.startswith("'"):
        return Cell(value=text[1:])
    if text.startswith("="):
        return Cell(formula=text)
    if text.upper() in ("TRUE", "FALSE"):
        return Cell(value=text.upper() == "TRUE")
    try:
        number = float(text.replace(",", "")) if text.strip() else None
    except ValueError:
        number = None
    if number is not None and re.fullmatch(r"[+-]?[\d,]*\.?\d+(e[+-]?\d+)?", text.strip(), re.I):
        return Cell(value=number)
    return Cell(value=text)


@dataclass
class Sheet:
    sheet_id: int
    title: str
    rows: list[list[Cell | None]] = field(default_factory=list)
    row_count: int = 1000
    column_count: int = 26

    def cell(self, row: int, col: int) -> Cell | None:
        if row < len(self.rows) and col < len(self.rows[row]):
            return self.rows[row][col]
        return None

    def ensure(self, row: int, col: int) -> Cell:
        while len(self.rows) <= row:
            self.rows.append([])
        line = self.rows[row]
        while len(line) <= col:
            line.append(None)
        if line[col] is None:
            line[col] = Cell()
        self.row_count = max(self.row_count, row + 1)
        self.column_count = max(self.column_count, col + 1)
        return line[col]  # type: ignore[return-value]

    def properties(self, index: int) -> dict[str, Any]:
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": self.row_count, "columnCount": self.column_count},
        }


@dataclass
class Spreadsheet:
    spreadsheet_id: str
    title: str
    sheets: list[Sheet]
    version: int
    modified: datetime
    readers: set[str] | None = None  # client_emails it is shared with; None: anyone

    def sheet(self, title: str) -> Sheet:
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        raise KeyError(title)

    def sheet_by_id(self, sheet_id: int) -> Sheet | None:
        return next((s for s in self.sheets if s.sheet_id == sheet_id), None)


# ---------------------------------------------------------------- A1 notation


@dataclass(frozen=True)
class GridRange:
    sheet: Sheet
    start_row: int | None  # 0-based; None = unbounded
    end_row: int | None  # exclusive
    start_col: int | None
    end_col: int | None

    def bounded(self) -> tuple[int, int, int, int]:
        return (
            self.start_row or 0,
            self.end_row if self.end_row is not None else self.sheet.row_count,
            self.start_col or 0,
            self.end_col if self.end_col is not None else self.sheet.column_count,
        )

    def a1(self) -> str:
        r0, r1, c0, c1 = self.bounded()
        name = quote_sheet_title(self.sheet.title)
        return f"{name}!{column_letter(c0)}{r0 + 1}:{column_letter(max(c1, c0 + 1) - 1)}{max(r1, r0 + 1)}"


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def column_index(letters: str) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + (ord(char) - 64)
    return index - 1


def quote_sheet_title(title: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) and not re.fullmatch(r"[A-Za-z]{1,3}\d+", title):
        return title
    return "'" + title.replace("'", "''") + "'"


_CELLS = re.compile(r"^([A-Za-z]{0,3})(\d*)(?::([A-Za-z]{0,3})(\d*))?$")


def parse_a1(book: Spreadsheet, text: str) -> GridRange:
    """Parse `'Tab'!A1:F`, `Tab!A:A`, `'It''s'!1:3`, `Tab`, `A1:B2` (first tab) into a GridRange."""

    def bad() -> GoogleApiError:
        return GoogleApiError(400, f"Unable to parse range: {text}")

    title: str | None
    cells: str | None
    if text.startswith("'"):
        i, buf = 1, []
        while True:
            if i >= len(text):
                raise bad()
            if text[i] == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    buf.append("'")
                    i += 2
                    continue
                i += 1
                break
            buf.append(text[i])
            i += 1
        title = "".join(buf)
        rest = text[i:]
        if rest == "":
            cells = None
        elif rest.startswith("!"):
            cells = rest[1:]
        else:
            raise bad()
    elif "!" in text:
        title, cells = text.split("!", 1)
    elif _CELLS.match(text) and any(ch.isalnum() for ch in text) and _looks_like_cells(text):
        title, cells = None, text
    else:
        title, cells = text, None
    if title is None:
        sheet = book.sheets[0]
    else:
        try:
            sheet = book.sheet(title)
        except KeyError:
            raise bad() from None
    if cells is None or cells == "":
        return GridRange(sheet, None, None, None, None)
    match = _CELLS.match(cells)
    if not match or not _looks_like_cells(cells):
        raise bad()
    c0, r0, c1, r1 = match.groups()
    has_colon = ":" in cells
    if not has_colon:
        if not c0 or not r0:
            raise bad()
        c1, r1 = c0, r0
    start_col = column_index(c0) if c0 else None
    start_row = int(r0) - 1 if r0 else None
    end_col = column_index(c1) + 1 if c1 else None
    end_row = int(r1) if r1 else None
    if (start_row is not None and start_row < 0) or (end_row is not None and end_row < 1):
        raise bad()
    if not c0 and not c1 and (not r0 or not r1):
        raise bad()
    if start_row is None and not c0:
        raise bad()
    return GridRange(sheet, start_row, end_row, start_col, end_col)


def _looks_like_cells(text: str) -> bool:
    match = _CELLS.match(text)
    if not match:
        return False
    c0, r0, c1, r1 = match.groups()
    if ":" not in text:
        return bool(c0 and r0)
    return bool((c0 or r0) and (c1 or r1))


# ---------------------------------------------------------------- field masks


def parse_field_mask(mask: str) -> dict[str, Any] | None:
    """`sheets(properties(sheetId,title),data.rowData)` -> nested dict; None = everything."""
    mask = mask.replace(" ", "")
    if not mask or mask == "*":
        return None
    pos = 0

    def parse_list() -> dict[str, Any]:
        nonlocal pos
        tree: dict[str, Any] = {}
        while True:
            _merge(tree, parse_path())
            if pos < len(mask) and mask[pos] == ",":
                pos += 1
                continue
            return tree

    def parse_path() -> dict[str, Any]:
        nonlocal pos
        match = re.compile(r"[A-Za-z0-9_*@]+").match(mask, pos)
        if not match:
            raise GoogleApiError(400, f"Invalid field selection {mask}")
        name = match.group(0)
        pos = match.end()
        if pos < len(mask) and mask[pos] == ".":
            pos += 1
            return {name: parse_path()}
        if pos < len(mask) and mask[pos] == "(":
            pos += 1
            sub = parse_list()
            if pos >= len(mask) or mask[pos] != ")":
                raise GoogleApiError(400, f"Invalid field selection {mask}")
            pos += 1
            return {name: sub}
        return {name: None}

    tree = parse_list()
    if pos != len(mask):
        raise GoogleApiError(400, f"Invalid field selection {mask}")
    return tree


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, sub in other.items():
        if key in into:
            if into[key] is None or sub is None:
                into[key] = None
            else:
                _merge(into[key], sub)
        else:
            into[key] = sub


def apply_field_mask(value: Any, tree: dict[str, Any] | None) -> Any:
    if tree is None or "*" in tree:
        return value
    if isinstance(value, list):
        return [apply_field_mask(item, tree) for item in value]
    if isinstance(value, dict):
        return {k: apply_field_mask(value[k], sub) for k, sub in tree.items() if k in value}
    return value


def _mask_mentions(tree: dict[str, Any] | None, *path: str) -> bool:
    for part in path:
        if tree is None or "*" in tree:
            return True
        if part not in tree:
            return False
        tree = tree[part]
    return True


# ---------------------------------------------------------------- the emulator


class SheetsEmulator(Emulator):
    tool = "sheets"

    def __init__(self) -> None:
        super().__init__()
        self.clock = SandboxClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        self.books: dict[str, Spreadsheet] = {}
        self.tokens: dict[str, str] = {}  # access token -> client_email
        self.require_auth = True
        self._token_seq = itertools.count(1)
        self._sheet_ids = itertools.count(1_187_654_321, 7_919)
        self.requests: deque[tuple[str, str, dict[str, list[str]]]] = deque(maxlen=500)  # recent (route, path, query)

    # -- plumbing

    def dispatch(self, request: Request) -> Response | Fault:
        try:
            return super().dispatch(request)
        except GoogleApiError as error:
            return error.response()

    def not_found(self, request: Request) -> Response:
        return Response(404, google_error(404, f"Requested entity was not found: {request.path}"))

    def _caller(self, request: Request, name: str) -> str | None:
        self.requests.append((name, request.path, request.query))
        if not self.require_auth:
            return None
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        if token not in self.tokens:
            raise GoogleApiError(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential.",
            )
        return self.tokens[token]

    def _book(self, spreadsheet_id: str, caller: str | None, *, drive: bool = False) -> Spreadsheet:
        book = self.books.get(spreadsheet_id)
        if book is None:
            if drive:
                raise GoogleApiError(404, f"File not found: {spreadsheet_id}.", "notFound")
            raise GoogleApiError(404, "Requested entity was not found.")
        if book.readers is not None and caller not in book.readers:
            raise GoogleApiError(403, "The caller does not have permission")
        return book

    def _touch(self, book: Spreadsheet) -> None:
        book.version += 1
        book.modified = self.clock.now()

    # -- routes: auth

    @route("POST", r"/token", name="token")
    def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") == "refresh_token":  # an installed app's user (Singer's tap)
            if form.get("refresh_token") != SANDBOX_REFRESH_TOKEN:
                return Response(400, {"error": "invalid_grant", "error_description": "Bad Request"})
            token = f"ya29.sandbox-{next(self._token_seq)}"
            self.tokens[token] = SANDBOX_USER_EMAIL
            return Response(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer",
                                  "scope": "https://www.googleapis.com/auth/spreadsheets.readonly"})
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Response(400, {"error": "unsupported_grant_type"})
        try:
            payload_b64 = form["assertion"].split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
            email = claims["iss"]
        except (KeyError, IndexError, ValueError):
            return Response(400, {"error": "invalid_grant", "error_description": "Invalid JWT"})
        token = f"ya29.sandbox-{next(self._token_seq)}"
        self.tokens[token] = email
        return Response(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def expire_tokens(self) -> None:
        """Every issued access token stops working (the client must refresh)."""
        with self.lock:
            self.tokens.clear()

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
            include = _mask_mentions(mask, "sheets", "data")
        ranges = [parse_a1(book, r) for r in request.query.get("ranges", [])]
        sheets = []
        for index, sheet in enumerate(book.sheets):
            mine = [r for r in ranges if r.sheet is sheet]
            if ranges and not mine:
                continue
            entry: dict[str, Any] = {"properties": sheet.properties(index)}
            if include:
                entry["data"] = [self._grid_data(r) for r in (mine or [GridRange(sheet, None, None, None, None)])]
            sheets.append(entry)
        full = {
            "spreadsheetId": book.spreadsheet_id,
            "properties": {"title": book.title, "locale": "en_US", "timeZone": "Etc/GMT"},
            "sheets": sheets,
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit",
        }
        return Response(200, apply_field_mask(full, mask))

    def _grid_data(self, grid: GridRange) -> dict[str, Any]:
        r0, r1, c0, c1 = grid.bounded()
        rows: list[dict[str, Any]] = []
        for r in range(r0, min(r1, len(grid.sheet.rows))):
            line = grid.sheet.rows[r]
            values = [
                (line[c].cell_data() if c < len(line) and line[c] is not None else {})  # type: ignore[union-attr]
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

    @route("POST", r"/v4/spreadsheets/(?P<sid>[^/:]+):batchUpdate", name="batch_update")
    def batch_update(self, request: Request) -> Response:
        caller = self._caller(request, "batch_update")
        book = self._book(request.params["sid"], caller)
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
        return Response(200, {"spreadsheetId": book.spreadsheet_id, "replies": replies})

    def _add_sheet(self, book: Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
        title = ((spec or {}).get("properties") or {}).get("title") or f"Sheet{len(book.sheets) + 1}"
        if any(sheet.title == title for sheet in book.sheets):
            raise GoogleApiError(400, f'Invalid requests[0].addSheet: A sheet with the name "{title}" '
                                      "already exists. Please enter another name.")
        sheet = Sheet(next(self._sheet_ids), title)
        sheet.rows, sheet.row_count, sheet.column_count = [], 1000, 26
        book.sheets.append(sheet)
        return sheet.properties(len(book.sheets) - 1)

    @route("POST", r"/v4/spreadsheets/(?P<sid>[^/:]+)/values/(?P<range>[^/:]+):clear", name="values_clear")
    def values_clear(self, request: Request) -> Response:
        caller = self._caller(request, "values_clear")
        book = self._book(request.params["sid"], caller)
        grid = parse_a1(book, unquote(request.params["range"]))
        r0, r1, c0, c1 = grid.bounded()
        for row in grid.sheet.rows[r0:r1]:
            for col in range(c0, min(c1, len(row))):
                if row[col] is not None:
                    row[col].value, row[col].formula = None, None
        self._touch(book)
        return Response(200, {"spreadsheetId": book.spreadsheet_id, "clearedRange": grid.a1()})

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
                (line[c].rendered(option) if line[c] is not None else None)  # type: ignore[union-attr]
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
        book = self._book(request.params["sid"], caller)
        option = request.arg("valueInputOption")
        result = self._write_values(book, unquote(request.params["range"]), request.json() or {}, option)
        self._touch(book)
        return Response(200, {"spreadsheetId": book.spreadsheet_id, **result})

    @route("POST", r"/v4/spreadsheets/(?P<sid>[^/:]+)/values:batchUpdate", name="values_batch_update")
    def values_batch_update(self, request: Request) -> Response:
        caller = self._caller(request, "values_batch_update")
        book = self._book(request.params["sid"], caller)
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
                new = Cell(value=value) if option == "RAW" else _parse_user_entered(value)
                cell.value, cell.formula = new.value, new.formula
                cells += 1
        width = max((len(r) for r in values), default=0)
        written = GridRange(grid.sheet, r0, r0 + max(len(values), 1), c0, c0 + max(width, 1))
        return {"updatedRange": written.a1(), "updatedRows": len(values), "updatedColumns": width, "updatedCells": cells}

    # -- Python-side "users" for tests, the demo and benchmarks

    def add_spreadsheet(
        self,
        spreadsheet_id: str,
        title: str,
        tabs: dict[str, list[list[Any]]],
        *,
        sheet_ids: dict[str, int] | None = None,
    ) -> str:
        """Create a spreadsheet; tab rows are typed as text (like RAW), numbers stay numbers."""
        with self.lock:
            sheets = []
            for tab, rows in tabs.items():
                sheet_id = (sheet_ids or {}).get(tab, next(self._sheet_ids))
                sheet = Sheet(sheet_id, tab)
                sheet.rows = [[Cell(value=v) if v not in (None, "") else None for v in row] for row in rows]
                sheet.row_count = max(1000, len(rows) + 100)
                sheet.column_count = max(26, max((len(r) for r in rows), default=0))
                sheets.append(sheet)
            self.books[spreadsheet_id] = Spreadsheet(spreadsheet_id, title, sheets, 1, self.clock.now())
            return spreadsheet_id

    def share_only_with(self, spreadsheet_id: str, emails: set[str] | None) -> None:
        with self.lock:
            self.books[spreadsheet_id].readers = emails

    def sheet(self, spreadsheet_id: str, tab: str) -> Sheet:
        return self.books[spreadsheet_id].sheet(tab)

    def version(self, spreadsheet_id: str) -> int:
        return self.books[spreadsheet_id].version

    def header(self, spreadsheet_id: str, tab: str) -> list[str]:
        rows = self.values(spreadsheet_id, tab)
        return rows[0] if rows else []

    def row_of(self, spreadsheet_id: str, tab: str, key_column: str, key: str) -> int:
        """The 0-based row index of the first row whose `key_column` shows `key`."""
        with self.lock:
            rows = self.values(spreadsheet_id, tab)
            col = rows[0].index(key_column)
            for index, row in enumerate(rows[1:], start=1):
                if col < len(row) and row[col] == key:
                    return index
            raise KeyError(key)

    def set_cell(
        self,
        spreadsheet_id: str,
        tab: str,
        key_column: str,
        key: str,
        column: str,
        value: Any,
        *,
        user_entered: bool = False,
    ) -> None:
        """A person edits one cell of the row keyed `key`; typed as text unless `user_entered`."""
        with self.lock:
            book = self.books[spreadsheet_id]
            sheet = book.sheet(tab)
            row = self.row_of(spreadsheet_id, tab, key_column, key)
            col = self.header(spreadsheet_id, tab).index(column)
            new = _parse_user_entered(value) if user_entered else Cell(value=value)
            cell = sheet.ensure(row, col)
            cell.value, cell.formula = new.value, new.formula
            self._touch(book)

    def sort_rows(self, spreadsheet_id: str, tab: str, column: str, descending: bool = False) -> None:
        """Sort the rows under the header by a column's shown text (notes move with their rows)."""
        with self.lock:
            book = self.books[spreadsheet_id]
            sheet = book.sheet(tab)
            col = self.header(spreadsheet_id, tab).index(column)

            def sort_key(row: list[Cell | None]) -> str:
                cell = row[col] if col < len(row) else None
                return (cell.formatted() or "") if cell is not None else ""

            sheet.rows[1:] = sorted(sheet.rows[1:], key=sort_key, reverse=descending)
            self._touch(book)

    def insert_row(self, spreadsheet_id: str, tab: str, index: int, values: list[Any]) -> None:
        """Insert a row at 0-based `index` (1 = just under the header), pushing the rest down."""
        with self.lock:
            book = self.books[spreadsheet_id]
            sheet = book.sheet(tab)
            while len(sheet.rows) < index:
                sheet.rows.append([])
            sheet.rows.insert(index, [Cell(value=v) if v not in (None, "") else None for v in values])
            sheet.row_count += 1
            self._touch(book)

    def delete_row(self, spreadsheet_id: str, tab: str, index: int) -> None:
        """Delete the row at 0-based `index`."""
        with self.lock:
            book = self.books[spreadsheet_id]
            sheet = book.sheet(tab)
            if index < len(sheet.rows):
                del sheet.rows[index]
            sheet.row_count -= 1
            self._touch(book)

    def set_note(self, spreadsheet_id: str, tab: str, row: int, col: int, text: str | None) -> None:
        """A person writes (or clears) a note by hand."""
        with self.lock:
            book = self.books[spreadsheet_id]
            book.sheet(tab).ensure(row, col).note = text or None
            self._touch(book)

    def values(self, spreadsheet_id: str, tab: str) -> list[list[str]]:
        """What a person sees: formatted text, ragged like the API."""
        with self.lock:
            sheet = self.books[spreadsheet_id].sheet(tab)
            out = []
            for line in sheet.rows:
                row = [(c.formatted() or "") if c is not None else "" for c in line]
                while row and row[-1] == "":
                    row.pop()
                out.append(row)
            while out and not out[-1]:
                out.pop()
            return out

    def note(self, spreadsheet_id: str, tab: str, row: int, col: int) -> str | None:
        with self.lock:
            cell = self.books[spreadsheet_id].sheet(tab).cell(row, col)
            return cell.note if cell is not None else None

    def notes(self, spreadsheet_id: str, tab: str) -> dict[tuple[int, int], str]:
        """Every note of a tab by (0-based row, 0-based column)."""
        with self.lock:
            sheet = self.books[spreadsheet_id].sheet(tab)
            return {
                (r, c): cell.note
                for r, line in enumerate(sheet.rows)
                for c, cell in enumerate(line)
                if cell is not None and cell.note
            }

    def formula_cells(self, spreadsheet_id: str, tab: str | None = None) -> list[tuple[str, int, int, str]]:
        """Every cell holding a formula: (tab, row, col, formula). Empty means nothing became one."""
        with self.lock:
            book = self.books[spreadsheet_id]
            return [
                (sheet.title, r, c, cell.formula)
                for sheet in book.sheets
                if tab is None or sheet.title == tab
                for r, line in enumerate(sheet.rows)
                for c, cell in enumerate(line)
                if cell is not None and cell.formula is not None
            ]

    def raw_cell(self, spreadsheet_id: str, tab: str, row: int, col: int) -> Cell | None:
        with self.lock:
            return self.books[spreadsheet_id].sheet(tab).cell(row, col)
