"""The Sheets/Drive emulator's wire format, driven through google-api-python-client."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httplib2
import pytest
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from baton.sandbox.server import SandboxServer
from baton.sandbox.sheets import SheetsEmulator, parse_a1
from baton.sandbox.sheets_seed import (
    UTM_TAB, UTM_TAB_GID, sandbox_settings, seed_scale, seed_utm_tracker,
)
from baton.sandbox.tls import LocalCA

SID = "1sheet"


@dataclass
class Google:
    emulator: SheetsEmulator
    sheets: Any
    drive: Any

    def version(self, spreadsheet_id: str = SID) -> int:
        return int(self.drive.files().get(fileId=spreadsheet_id, fields="version").execute()["version"])


@pytest.fixture
def google(tmp_path: Path) -> Iterator[Google]:
    ca = LocalCA.create(tmp_path / "ca")
    emulator = SheetsEmulator()
    emulator.add_spreadsheet(SID, "Test", {
        "Sheet1": [["a", "b", "c"], ["1", "", "3"], [], ["x"]],
        "It's": [["k", "v"], ["one", "1"]],
        "UTM Tracker": [["h"]],
    })
    with SandboxServer(emulator, ca) as server:
        overrides, env = sandbox_settings(server.base_url, ca.ca_pem, tmp_path / "keys")
        info = json.loads(Path(env["GOOGLE_SERVICE_ACCOUNT_FILE"]).read_text())
        creds = service_account.Credentials.from_service_account_info(
            info, scopes=["https://www.googleapis.com/auth/spreadsheets"])
        http = AuthorizedHttp(creds, http=httplib2.Http(ca_certs=overrides["ca_bundle"], timeout=10))
        yield Google(
            emulator,
            build("sheets", "v4", http=http, static_discovery=True,
                  client_options={"api_endpoint": overrides["sheets_endpoint"]}),
            build("drive", "v3", http=http, static_discovery=True,
                  client_options={"api_endpoint": overrides["drive_endpoint"]}),
        )


def values(google: Google, a1: str, **params: Any) -> dict[str, Any]:
    return google.sheets.spreadsheets().values().get(spreadsheetId=SID, range=a1, **params).execute()


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(HttpError) as raised:
        call.execute()
    return json.loads(raised.value.content)["error"]


def test_ragged_rows_and_ranges(google: Google) -> None:
    whole = values(google, "Sheet1")
    assert whole["range"] == "Sheet1!A1:Z1000"
    assert whole["values"] == [["a", "b", "c"], ["1", "", "3"], [], ["x"]]
    assert values(google, "Sheet1!B2:C")["values"] == [["", "3"]]
    assert values(google, "'It''s'!A:A")["values"] == [["k"], ["one"]]
    assert values(google, "'It''s'!A:A")["range"] == "'It''s'!A1:A1000"
    assert values(google, "'UTM Tracker'!A1:F")["values"] == [["h"]]
    assert "values" not in values(google, "Sheet1!E5:F6")
    assert values(google, "Sheet1!A:C", majorDimension="COLUMNS")["values"][0] == ["a", "1", "", "x"]
    batch = google.sheets.spreadsheets().values().batchGet(
        spreadsheetId=SID, ranges=["Sheet1!1:1", "'It''s'!B2"]).execute()
    assert [r["values"] for r in batch["valueRanges"]] == [[["a", "b", "c"]], [["1"]]]


@pytest.mark.parametrize("bad", ["Nope!A1", "'Sheet1!A1", "Sheet1!A", "Sheet1!1A:B", "'It's'!A1"])
def test_bad_ranges_are_400_invalid_argument(google: Google, bad: str) -> None:
    error = error_of(google.sheets.spreadsheets().values().get(spreadsheetId=SID, range=bad))
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    assert "Unable to parse range" in error["message"]


def test_raw_keeps_text_and_user_entered_makes_formulas(google: Google) -> None:
    update = google.sheets.spreadsheets().values().update
    update(spreadsheetId=SID, range="Sheet1!A5", valueInputOption="RAW",
           body={"values": [['=HYPERLINK("http://x","y")', "42"]]}).execute()
    reply = update(spreadsheetId=SID, range="Sheet1!A6", valueInputOption="USER_ENTERED",
                   body={"values": [['=HYPERLINK("http://x","y")', "42", "'=1+2"]]}).execute()
    assert reply["updatedRange"] == "Sheet1!A6:C6" and reply["updatedCells"] == 3

    assert google.emulator.formula_cells(SID) == [("Sheet1", 5, 0, '=HYPERLINK("http://x","y")')]
    shown = values(google, "Sheet1!A5:C6")["values"]
    assert shown == [['=HYPERLINK("http://x","y")', "42"], ["y", "42", "=1+2"]]
    assert values(google, "Sheet1!A6:B6", valueRenderOption="FORMULA")["values"] == [
        ['=HYPERLINK("http://x","y")', 42]]
    assert values(google, "Sheet1!B5", valueRenderOption="UNFORMATTED_VALUE")["values"] == [["42"]]
    error = error_of(update(spreadsheetId=SID, range="Sheet1!A1", body={"values": [["v"]]}))
    assert error["status"] == "INVALID_ARGUMENT"


def test_values_batch_update(google: Google) -> None:
    reply = google.sheets.spreadsheets().values().batchUpdate(spreadsheetId=SID, body={
        "valueInputOption": "RAW",
        "data": [{"range": "Sheet1!D1", "values": [["d"]]}, {"range": "'It''s'!C1:C2", "values": [["z"], ["=1"]]}],
    }).execute()
    assert reply["totalUpdatedCells"] == 3 and len(reply["responses"]) == 2
    assert google.emulator.values(SID, "It's")[1] == ["one", "1", "=1"]
    assert google.emulator.formula_cells(SID) == []


def test_batch_update_notes_values_and_version(google: Google) -> None:
    sheet_id = google.emulator.sheet(SID, "Sheet1").sheet_id
    version = google.version()
    google.sheets.spreadsheets().batchUpdate(spreadsheetId=SID, body={"requests": [
        {"updateCells": {"range": {"sheetId": sheet_id, "startRowIndex": 1, "endRowIndex": 2,
                                   "startColumnIndex": 2, "endColumnIndex": 3},
                         "rows": [{"values": [{"note": "check me"}]}], "fields": "note"}},
        {"updateCells": {"start": {"sheetId": sheet_id, "rowIndex": 3, "columnIndex": 1},
                         "rows": [{"values": [{"userEnteredValue": {"stringValue": "=2+2"}}]}],
                         "fields": "userEnteredValue"}},
        {"repeatCell": {"range": {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 1,
                                  "startColumnIndex": 0, "endColumnIndex": 2},
                        "cell": {"note": "header"}, "fields": "note"}},
    ]}).execute()
    assert google.version() == version + 1  # notes bump the version too, one batch = one change
    assert google.emulator.notes(SID, "Sheet1") == {(1, 2): "check me", (0, 0): "header", (0, 1): "header"}
    assert google.emulator.values(SID, "Sheet1")[3] == ["x", "=2+2"]
    assert google.emulator.formula_cells(SID) == []

    got = google.sheets.spreadsheets().get(
        spreadsheetId=SID, ranges=["Sheet1!C1:C2"],
        fields="sheets(properties(sheetId,title),data(startRow,startColumn,rowData(values(formattedValue,note))))",
    ).execute()
    assert got == {"sheets": [{"properties": {"sheetId": sheet_id, "title": "Sheet1"}, "data": [
        {"startColumn": 2, "rowData": [{"values": [{"formattedValue": "c"}]},
                                       {"values": [{"formattedValue": "3", "note": "check me"}]}]}]}]}


def test_batch_update_is_atomic(google: Google) -> None:
    sheet_id = google.emulator.sheet(SID, "Sheet1").sheet_id
    version = google.version()
    error = error_of(google.sheets.spreadsheets().batchUpdate(spreadsheetId=SID, body={"requests": [
        {"repeatCell": {"range": {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 1},
                        "cell": {"note": "n"}, "fields": "note"}},
        {"repeatCell": {"range": {"sheetId": 999}, "cell": {"note": "n"}, "fields": "note"}},
    ]}))
    assert error["code"] == 400 and "No grid with id: 999" in error["message"]
    assert google.emulator.notes(SID, "Sheet1") == {} and google.version() == version


def test_spreadsheet_properties_and_masks(google: Google) -> None:
    got = google.sheets.spreadsheets().get(spreadsheetId=SID, fields="sheets.properties(sheetId,title)").execute()
    assert [s["properties"]["title"] for s in got["sheets"]] == ["Sheet1", "It's", "UTM Tracker"]
    assert set(got["sheets"][0]["properties"]) == {"sheetId", "title"}
    full = google.sheets.spreadsheets().get(spreadsheetId=SID).execute()
    assert "data" not in full["sheets"][0] and full["properties"]["title"] == "Test"
    grid = google.sheets.spreadsheets().get(spreadsheetId=SID, ranges=["Sheet1!A1"], includeGridData=True).execute()
    assert grid["sheets"][0]["data"][0]["rowData"][0]["values"][0]["userEnteredValue"] == {"stringValue": "a"}


def test_drive_metadata_and_errors(google: Google) -> None:
    meta = google.drive.files().get(fileId=SID, fields="version,modifiedTime").execute()
    assert set(meta) == {"version", "modifiedTime"} and meta["modifiedTime"].endswith("Z")
    google.emulator.clock.advance(60)
    google.emulator.set_note(SID, "Sheet1", 0, 0, "hi")
    later = google.drive.files().get(fileId=SID, fields="version,modifiedTime").execute()
    assert int(later["version"]) == int(meta["version"]) + 1 and later["modifiedTime"] > meta["modifiedTime"]

    assert error_of(google.drive.files().get(fileId="nope", fields="version"))["code"] == 404
    assert error_of(google.sheets.spreadsheets().get(spreadsheetId="nope"))["status"] == "NOT_FOUND"
    google.emulator.share_only_with(SID, set())
    assert error_of(google.sheets.spreadsheets().get(spreadsheetId=SID))["status"] == "PERMISSION_DENIED"


def test_unauthenticated_calls_are_refused(google: Google) -> None:
    plain = build("sheets", "v4", http=httplib2.Http(ca_certs=None, disable_ssl_certificate_validation=True),
                  static_discovery=True,
                  client_options={"api_endpoint": google.sheets._baseUrl})
    error = error_of(plain.spreadsheets().get(spreadsheetId=SID))
    assert error["code"] == 401 and error["status"] == "UNAUTHENTICATED"


def test_user_edits_sort_insert_delete(google: Google) -> None:
    em = google.emulator
    sid = seed_utm_tracker(em)
    em.set_note(sid, UTM_TAB, em.row_of(sid, UTM_TAB, "Campaign ID", "CMP-1101"), 5, "n")
    em.sort_rows(sid, UTM_TAB, "Campaign ID", descending=True)
    row = em.row_of(sid, UTM_TAB, "Campaign ID", "CMP-1101")
    assert row == 25 and em.note(sid, UTM_TAB, row, 5) == "n"
    em.insert_row(sid, UTM_TAB, 1, ["CMP-NEW"])
    em.delete_row(sid, UTM_TAB, 2)
    assert [r[0] for r in em.values(sid, UTM_TAB)[:3]] == ["Campaign ID", "CMP-NEW", "CMP-1124"]
    assert em.sheet(sid, UTM_TAB).sheet_id == UTM_TAB_GID
    assert len(em.values(seed_scale(em, 50), "Scale")) == 51


def test_parse_a1_shapes(google: Google) -> None:
    book = google.emulator.books[SID]
    assert parse_a1(book, "A1:B2").sheet.title == "Sheet1"
    r = parse_a1(book, "'UTM Tracker'!C:C")
    assert (r.start_row, r.end_row, r.start_col, r.end_col) == (None, None, 2, 3)
    r = parse_a1(book, "Sheet1!2:4")
    assert (r.start_row, r.end_row, r.start_col, r.end_col) == (1, 4, None, None)
    r = parse_a1(book, "Sheet1!B3:D")
    assert (r.start_row, r.end_row, r.start_col, r.end_col) == (2, None, 1, 4)
