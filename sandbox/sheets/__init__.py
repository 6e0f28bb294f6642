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
values_batch_update, drive_files_get. Tests place a person's edit at an exact moment with
`before_request` / `after_request` (called with the route name before a request is applied, or
after it is applied and before its answer is sent).
"""
from __future__ import annotations

from .a1 import GridRange, parse_a1
from .emulator import SheetsEmulator
from .model import (
    SANDBOX_REFRESH_TOKEN,
    SANDBOX_USER_EMAIL,
    Cell,
    GoogleApiError,
    Sheet,
    Spreadsheet,
    google_error,
    quota_fault,
)

__all__ = [
    "SANDBOX_REFRESH_TOKEN", "SANDBOX_USER_EMAIL", "Cell", "GoogleApiError", "GridRange", "Sheet",
    "SheetsEmulator", "Spreadsheet", "google_error", "parse_a1", "quota_fault",
]
