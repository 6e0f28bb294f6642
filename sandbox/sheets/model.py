"""The emulated Sheets' error shape and its in-memory state: cells as a user entered them (value,
formula, note), sheets (tabs) and spreadsheets."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from baton.sandbox.server import Response

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


def parse_user_entered(value: Any) -> Cell:
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
        cell = line[col]
        if cell is None:
            cell = line[col] = Cell()
        self.row_count = max(self.row_count, row + 1)
        self.column_count = max(self.column_count, col + 1)
        return cell

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
    viewers: set[str] = field(default_factory=set)  # shared as Viewer: may read, not edit

    def sheet(self, title: str) -> Sheet:
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        raise KeyError(title)

    def sheet_by_id(self, sheet_id: int) -> Sheet | None:
        return next((s for s in self.sheets if s.sheet_id == sheet_id), None)
