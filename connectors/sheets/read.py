"""Reading a tab: the Drive version check, spreadsheets.get for the tab's sheetId and time zone,
values.get of the whole tab, and its rows normalised to Records (header, keys, bad rows warned)."""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from baton.connectors.sheets.a1 import column_letter, quote_tab
from baton.connectors.sheets.client import SheetsClient
from baton.core.config import SheetsSource
from baton.core.errors import PayloadError, SourceError, TransientError
from baton.core.records import Record, TimeSource

log = structlog.get_logger()

_NAME_COLUMNS = ("name", "asset", "title", "campaign", "campaign name")
_OWNER_COLUMNS = ("owner", "assignee", "owner email")
_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%Y/%m/%d %H:%M", "%d.%m.%Y %H:%M", "%d.%m.%Y")


class TabReader:
    """One source's tab: its calls (counted on `calls`), sheetId, time zone and header.

    Holds only the tool's own metadata (sheetId, zone, column positions) and which data
    problems were already logged; never the records.
    """

    def __init__(self, source: SheetsSource, client: SheetsClient, calls: Counter[str]) -> None:
        self.source = source
        self.client = client
        self.calls = calls
        self.sheet_id: int | None = None
        self.zone: ZoneInfo | None = None
        self.columns: dict[str, int] | None = None  # from the last read: a hint for writes
        self._warned: set[tuple[Any, ...]] = set()  # data problems logged during the last read
        self._warned_before: set[tuple[Any, ...]] = set()
        self.log = log.bind(source=source.id, spreadsheet=source.spreadsheet_id, tab=source.tab)

    def what(self, call: str) -> str:
        return f"spreadsheet {self.source.spreadsheet_id} tab {self.source.tab!r}: {call}"

    def execute(self, endpoint: str, make_request: Any, what: str, write: bool = False) -> dict[str, Any]:
        return self.client.execute(endpoint, make_request, what=self.what(what), counter=self.calls,
                                   write=write)

    # -- the calls

    def drive_version(self) -> str:
        reply = self.execute(
            "drive.files.get",
            lambda: self.client.drive.files().get(
                fileId=self.source.spreadsheet_id, fields="version,modifiedTime",
                supportsAllDrives=True,
            ),
            "drive files.get",
        )
        version = reply.get("version")
        if version is None:
            raise TransientError(f"{self.what('drive files.get')}: no version in the answer")
        return str(version)

    def ensure_sheet(self) -> int:
        if self.sheet_id is not None:
            return self.sheet_id
        reply = self.execute(
            "sheets.spreadsheets.get",
            lambda: self.client.sheets.spreadsheets().get(
                spreadsheetId=self.source.spreadsheet_id,
                fields="properties.timeZone,sheets.properties(sheetId,title)",
            ),
            "spreadsheets.get",
        )
        tabs = _tabs(reply, self.what("spreadsheets.get"))
        if self.source.tab not in tabs:
            raise SourceError(f"{self.what('spreadsheets.get')}: no tab named {self.source.tab!r} "
                              f"(tabs: {', '.join(sorted(tabs))})")
        try:
            self.zone = ZoneInfo(reply.get("properties", {}).get("timeZone") or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")
        self.sheet_id = int(tabs[self.source.tab])
        return self.sheet_id

    def read_tab(self) -> list[list[Any]]:
        """The tab's rows (ragged lists of cells); PayloadError naming the field when the answer
        is not a ValueRange of rows."""
        reply = self.execute(
            "sheets.values.get",
            lambda: self.client.sheets.spreadsheets().values().get(
                spreadsheetId=self.source.spreadsheet_id,
                range=quote_tab(self.source.tab),
                valueRenderOption="FORMATTED_VALUE",  # text typed as "=HYPERLINK(..)" stays text
                majorDimension="ROWS",
            ),
            "values.get",
        )
        return _rows(reply, self.what("values.get"))

    def read_header(self) -> dict[str, int]:
        """The header row alone (a write before any read in this process)."""
        reply = self.execute(
            "sheets.values.get",
            lambda: self.client.sheets.spreadsheets().values().get(
                spreadsheetId=self.source.spreadsheet_id, range=f"{quote_tab(self.source.tab)}!1:1"
            ),
            "values.get header",
        )
        header = (_rows(reply, self.what("values.get header")) or [[]])[0]
        return self.header(header, len(header))

    # -- rows to records

    def header(self, header_row: Sequence[Any], widest: int) -> dict[str, int]:
        """Header name -> column; blank, merged or duplicate header cells are warned about."""
        columns: dict[str, int] = {}
        for index in range(max(len(header_row), widest)):
            name = str(header_row[index]).strip() if index < len(header_row) else ""
            if not name:
                self.warn("sheets.bad_header", column=column_letter(index), row=1,
                          reason="blank or merged header cell; the column is ignored")
            elif name in columns:
                self.warn("sheets.bad_header", column=column_letter(index), row=1, header=name,
                          reason=f"duplicate header; column {column_letter(columns[name])} is used")
            else:
                columns[name] = index
        missing = [c for c in (self.source.key_column, self.source.status_column) if c not in columns]
        if missing:
            raise SourceError(f"{self.what('header')}: no column {', '.join(map(repr, missing))} in the "
                              f"header row (found: {', '.join(map(repr, columns))})")
        return columns

    def records(self, rows: list[list[Any]], sheet_id: int, now: datetime) -> list[Record]:
        self._warned_before, self._warned = self._warned, set()
        if not rows:
            raise PayloadError(f"{self.what('values.get')}: the tab is empty (no header row: `values[0]` missing)")
        widest = max(len(r) for r in rows)
        columns = self.header(rows[0], widest)
        self.columns = columns
        source = self.source
        key_col = columns[source.key_column]
        fingerprinted = sorted(n for n in columns if n != source.baton_column)
        name_col = _first_named(columns, _NAME_COLUMNS, exclude=frozenset({source.key_column}))
        owner_col = _first_named(columns, _OWNER_COLUMNS)
        used = set(columns.values())
        first_row_of: dict[str, int] = {}
        records: list[Record] = []
        for row_number, row in enumerate(rows[1:], start=2):
            cells = ["" if v is None else str(v) for v in row]
            if not any(c.strip() for c in cells):
                continue
            key = cells[key_col].strip() if key_col < len(cells) else ""
            stray = [column_letter(i) for i, c in enumerate(cells) if c.strip() and i not in used]
            if stray:
                self.warn("sheets.bad_row", row=row_number, key=key or None,
                          reason=f"values in columns without a header ({', '.join(stray)}) are ignored")
            if not key:
                self.warn("sheets.bad_row", row=row_number, key=None,
                          reason=f"no {source.key_column!r}; the row is skipped")
                continue
            if key in first_row_of:
                self.warn("sheets.bad_row", row=row_number, key=key,
                          reason=f"duplicate key; row {first_row_of[key]} is used")
                continue
            first_row_of[key] = row_number
            fields = {name: (cells[i] if i < len(cells) else "") for name, i in columns.items()}
            modified_at, modified_source = self._modified_at(fields, row_number, key, now)
            records.append(Record(
                source=source.id,
                id=key,
                url=(f"https://docs.google.com/spreadsheets/d/{source.spreadsheet_id}/edit"
                     f"#gid={sheet_id}&range=A{row_number}"),
                name=(fields.get(name_col) or "").strip() or key if name_col else key,
                status=fields[source.status_column].strip() or None,
                owner=(fields.get(owner_col) or "").strip() or None if owner_col else None,
                fields=fields,
                modified_at=modified_at,
                fingerprint=_fingerprint(fingerprinted, fields),
                modified_source=modified_source,
            ))
        return records

    def _modified_at(self, fields: Mapping[str, str], row: int, key: str,
                     now: datetime) -> tuple[datetime, TimeSource]:
        """The team's "changed at" column when it has one; else the poll time, said so."""
        column = self.source.changed_at_column
        text = (fields.get(column) or "").strip() if column else ""
        if not text:
            return now, TimeSource.POLL
        when = _parse_when(text, self.zone or ZoneInfo("UTC"))
        if when is None:
            self.warn("sheets.bad_row", row=row, key=key,
                      reason=f"{column!r} is not a date/time ({text[:40]!r}); the poll time is used")
            return now, TimeSource.POLL
        return when, TimeSource.COLUMN

    def warn(self, event: str, **context: Any) -> None:
        """Log a data problem once while it lasts: again only after it was gone for a read."""
        signature = (event, *sorted((k, str(v)) for k, v in context.items()))
        self._warned.add(signature)
        if signature not in self._warned_before:
            self.log.warning(event, **context)


def _rows(reply: Mapping[str, Any], what: str) -> list[list[Any]]:
    values = reply.get("values", [])
    if not isinstance(values, list):
        raise PayloadError(f"{what}: `values` is not a list of rows")
    for n, row in enumerate(values):
        if not isinstance(row, list):
            raise PayloadError(f"{what}: `values[{n}]` is not a list of cells")
        if any(isinstance(cell, (dict, list)) for cell in row):
            raise PayloadError(f"{what}: `values[{n}]` holds a cell that is not a value")
    return values


def _tabs(reply: Mapping[str, Any], what: str) -> dict[str, int]:
    """Tab title -> sheetId from a spreadsheets.get answer."""
    sheets = reply.get("sheets", [])
    if not isinstance(sheets, list):
        raise PayloadError(f"{what}: `sheets` is not a list")
    tabs: dict[str, int] = {}
    for n, sheet in enumerate(sheets):
        properties = sheet.get("properties") if isinstance(sheet, dict) else None
        if not isinstance(properties, dict) or not isinstance(properties.get("title"), str):
            raise PayloadError(f"{what}: `sheets[{n}].properties.title` missing")
        title: str = properties["title"]
        sheet_id = properties.get("sheetId", 0)
        if not isinstance(sheet_id, int) or isinstance(sheet_id, bool):
            raise PayloadError(f"{what}: `sheets[{n}].properties.sheetId` is not a number")
        tabs[title] = sheet_id
    return tabs


def _first_named(columns: Mapping[str, int], wanted: Sequence[str],
                 exclude: frozenset[str] = frozenset()) -> str | None:
    by_lower = {name.lower(): name for name in columns if name not in exclude}
    return next((by_lower[w] for w in wanted if w in by_lower), None)


def _fingerprint(names: Sequence[str], fields: Mapping[str, str]) -> str:
    """Stable across row moves and column reorders (`names` sorted); blank == missing (ragged)."""
    canonical = "\x1e".join(f"{name}\x1f{fields[name].strip()}" for name in names)
    return hashlib.blake2b(canonical.encode(), digest_size=10).hexdigest()


def _parse_when(text: str, zone: ZoneInfo) -> datetime | None:
    """A cell's date/time; naive values are in the spreadsheet's time zone."""
    when: datetime | None = None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _FORMATS:
            try:
                when = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.astimezone(UTC)
