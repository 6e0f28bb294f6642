"""Google Sheets connector: one tab is one source, a key column identifies a row.

Transport is google-api-python-client over httplib2 (explicit CA bundle, explicit timeout),
authorised by a service-account key file whose own `token_uri` is honoured. Retries are ours
(RetryPolicy), never googleapiclient's `num_retries`, which would also retry POSTs and ignores
Retry-After.

Calls per cycle (Drive calls are not Sheets quota):

    idle fetch        1  drive.files.get (version unchanged, or changed only by our own write)
    changed fetch     2  drive.files.get + sheets.values.get of the whole tab
                         (+1 sheets.spreadsheets.get once per connector: sheetId and time zone)
    write_back        4  drive.files.get, sheets.spreadsheets.get (header, key column, status
                         notes), ONE sheets.spreadsheets.batchUpdate, drive.files.get

Rows are located by key at write time, from the same spreadsheets.get that returns the current
notes, so a sort or an insert between the read and the write cannot misplace a note, and notes of
other gates (and of people) on the same cell are kept.

Self-caused versions: the Drive `version` moves on our own writes too. When a write_back starts
at the version we last read (nobody else changed the file since), consists only of notes and
values in `baton_column`, and succeeds, the version after it is remembered as "ours"; the next
fetch treats it as idle. A person's edit landing in the ~100 ms between the two Drive calls of a
write_back would be attributed to us and seen only with the next change of the file.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
import ssl
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import google.auth.exceptions
import httplib2
import structlog
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
import googleapiclient.schema
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from baton.connectors.base import Connector
from baton.core.actions import Action, ActionKind, ActionResult, Capabilities
from baton.core.records import ChangeBatch, Record, StatusChange, TimeSource
from baton.core.keys import idempotency_marker
from baton.connectors.budget import RateBudget
from baton.core.errors import AuthError, ConfigError, RateLimited, SourceError, TransientError
from baton.connectors.retry import RetryPolicy, parse_retry_after
from baton.core.config import Secrets, SheetsSettings, SheetsSource

log = structlog.get_logger()

# googleapiclient writes a docstring for every method it generates, pretty-printing the request
# and response schemas; for the Sheets API the first few methods cost ~90 MB of RSS (measured by
# benchmarks/). Nobody reads those docstrings in a daemon: render them empty.
googleapiclient.schema.Schemas.prettyPrintByName = lambda self, name: ""  # type: ignore[method-assign]
googleapiclient.schema.Schemas.prettyPrintSchema = lambda self, schema: ""  # type: ignore[method-assign]

KEY_FILE_ENV = "GOOGLE_SERVICE_ACCOUNT_FILE"
SCOPES = (
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
)
_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}
_NAME_COLUMNS = ("name", "asset", "title", "campaign", "campaign name")
_OWNER_COLUMNS = ("owner", "assignee", "owner email")
_BLOCK_START = "⚑ Baton"
_MARKER_LINE = re.compile(r"^\[baton:(?P<key>[^\]]+)\]$")


# ---------------------------------------------------------------- the client: auth, transport, errors


class SheetsClient:
    """One service account's authorised Sheets and Drive services, budget and call counts."""

    def __init__(self, settings: SheetsSettings, secrets: Secrets, retry: RetryPolicy) -> None:
        key_path = Path(secrets.require(KEY_FILE_ENV, "Google Sheets service-account auth"))
        info = _read_key_file(key_path)
        try:
            credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
        except (ValueError, KeyError, TypeError):
            # the exception text may quote the key; say only where and what
            raise ConfigError(
                f"{KEY_FILE_ENV}={key_path}: not a usable service-account key "
                "(needs client_email, token_uri and an RSA private_key)"
            ) from None
        self.client_email: str = info.get("client_email", "")
        self._credentials = credentials
        # what must never be quoted back into a message: the key's PEM lines, and the token
        self._secret_texts = [line.strip() for line in str(info.get("private_key", "")).splitlines()
                              if len(line.strip()) >= 16 and not line.startswith("-----")]
        self._tokens: list[str] = []
        http = httplib2.Http(ca_certs=settings.ca_bundle or None, timeout=settings.timeout_seconds)
        authed = AuthorizedHttp(credentials, http=http)
        self.sheets = build(
            "sheets", "v4", http=authed, static_discovery=True, cache_discovery=False,
            client_options={"api_endpoint": settings.sheets_endpoint},
        )
        self.drive = build(
            "drive", "v3", http=authed, static_discovery=True, cache_discovery=False,
            client_options={"api_endpoint": settings.drive_endpoint},
        )
        # Sheets counts reads and writes against separate per-minute quotas; Drive is not budgeted.
        self._reads = RateBudget(settings.requests_per_minute, tool="sheets", sleep=retry.sleep)
        self._writes = RateBudget(settings.requests_per_minute, tool="sheets.write", sleep=retry.sleep)
        self._retry = retry
        self._calls: Counter[str] = Counter()

    def execute(
        self,
        endpoint: str,
        make_request: Callable[[], Any],
        *,
        what: str,
        counters: Sequence[Counter[str]] = (),
        write: bool = False,
    ) -> dict[str, Any]:
        """Run one API call under the retry policy and budget, errors mapped to errors.py.

        Writes are retried only on 429 (Google did not apply the request); after a 5xx or a
        timeout the write may have landed, so it is reported, not repeated blindly.
        """
        budget = None if endpoint.startswith("drive.") else (self._writes if write else self._reads)

        def once() -> dict[str, Any]:
            if budget is not None:
                budget.acquire()
            for counter in (self._calls, *counters):
                counter[endpoint] += 1
            try:
                reply = make_request().execute(num_retries=0)
            except HttpError as error:
                raise map_http_error(error, what, self.client_email, scrub=self.scrub) from None
            except google.auth.exceptions.RefreshError as error:
                if getattr(error, "retryable", False):
                    raise TransientError(f"{what}: token endpoint unavailable") from None
                raise AuthError(f"{what}: the token endpoint refused the service account "
                                f"{self.client_email} ({self.scrub(_first_line(error))})") from None
            except google.auth.exceptions.TransportError:
                raise TransientError(f"{what}: could not reach the token endpoint") from None
            except ssl.SSLCertVerificationError:
                raise SourceError(f"{what}: TLS certificate not trusted (set sheets.ca_bundle)") from None
            except (TimeoutError, socket.timeout, ConnectionError, ssl.SSLError, OSError,
                    httplib2.HttpLib2Error, http.client.HTTPException) as error:
                raise TransientError(f"{what}: {type(error).__name__}") from None
            except ValueError:  # json.JSONDecodeError: a truncated or non-JSON body
                raise TransientError(f"{what}: malformed response body") from None
            self._remember_token()
            if not isinstance(reply, dict):  # googleapiclient hands back unparseable JSON as str
                raise TransientError(f"{what}: malformed response body")
            return reply

        return self._retry.call(once, tool="sheets", what=endpoint, write=write)

    def api_calls(self) -> Mapping[str, int]:
        return dict(self._calls)

    def scrub(self, text: str) -> str:
        """`text` without the private key or an access token (servers may quote them back)."""
        self._remember_token()
        for secret in [*self._secret_texts, *self._tokens]:
            text = text.replace(secret, "***")
        return text

    def _remember_token(self) -> None:
        token = getattr(self._credentials, "token", None)
        if isinstance(token, str) and len(token) >= 8 and token not in self._tokens:
            self._tokens = [*self._tokens[-4:], token]  # the last few: a refresh replaces it


def _read_key_file(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{KEY_FILE_ENV}={path}: {error.strerror}") from None
    except ValueError:
        raise ConfigError(f"{KEY_FILE_ENV}={path}: not a JSON key file") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ConfigError(f"{KEY_FILE_ENV}={path}: not a service-account key (type != service_account)")
    return info


def _first_line(error: Exception) -> str:
    text = str(error.args[0]) if error.args else type(error).__name__
    return text.splitlines()[0][:200] if text else type(error).__name__


def map_http_error(error: HttpError, what: str, client_email: str = "",
                   scrub: Callable[[str], str] = str) -> SourceError:
    """HTTP status (+ Google reason) -> what the caller does next. The table:

        429, 403 rate-limit reasons   RateLimited (retried; Retry-After honoured if sent)
        5xx                           TransientError (retried)
        401, 403                      AuthError
        404, 400, other 4xx           SourceError naming the spreadsheet/tab
    """
    status = error.status_code
    message, reasons = _google_error(error)
    message = scrub(message)
    if status == 429 or (status == 403 and reasons & _RATE_REASONS):
        retry_after = parse_retry_after(error.resp.get("retry-after") if error.resp else None)
        return RateLimited(f"{what}: rate limited ({message})", retry_after)
    if status >= 500:
        return TransientError(f"{what}: server error {status} ({message})")
    if status == 401:
        return AuthError(f"{what}: credentials refused ({message})")
    if status == 403:
        return AuthError(f"{what}: permission denied ({message}); share the spreadsheet with "
                         f"{client_email or 'the service account'}")
    if status == 404:
        return SourceError(f"{what}: not found ({message}); check spreadsheet_id and that the "
                           f"file is shared with {client_email or 'the service account'}")
    return SourceError(f"{what}: {status} {message}")


def _google_error(error: HttpError) -> tuple[str, set[str]]:
    try:
        body = json.loads(error.content.decode("utf-8"))["error"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return (error.reason or str(error.status_code)), set()
    if not isinstance(body, dict):
        return str(body), set()
    reasons = {str(e.get("reason")) for e in body.get("errors") or [] if isinstance(e, dict)}
    reasons |= {str(d.get("reason")) for d in body.get("details") or [] if isinstance(d, dict)}
    return str(body.get("message") or body.get("status") or error.status_code), reasons


# ---------------------------------------------------------------- A1 helpers (never leave this module)


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def quote_tab(tab: str) -> str:
    """A1 sheet prefix; always quoted, quotes doubled: `'It''s'`."""
    return "'" + tab.replace("'", "''") + "'"


# ---------------------------------------------------------------- the connector


@dataclass(frozen=True)
class _Located:
    """The tab as it is right before a write: sheetId, column positions, rows by key, status notes."""

    sheet_id: int
    columns: dict[str, int]
    rows: dict[str, int]  # key -> 0-based row index (first occurrence)
    status_notes: dict[int, str]  # 0-based row index -> current note of the status cell


class SheetsConnector(Connector):
    """A tab with a header row, as records keyed by `key_column`. Not thread-safe."""

    # A sheet holds notes and cell values; no tasks, no owners to assign. A fixed row's note
    # block is removed.
    capabilities = Capabilities(
        writes=frozenset({ActionKind.COMMENT, ActionKind.SET_FIELD, ActionKind.MOVE_STATUS,
                          ActionKind.REMOVE_NOTE}),
        owners=frozenset(), comment_resolution=ActionKind.REMOVE_NOTE)

    def __init__(self, source: SheetsSource, client: SheetsClient) -> None:
        self.source_id = source.id
        self._source = source
        self._client = client
        self._calls: Counter[str] = Counter()
        self._sheet_id: int | None = None
        self._zone: ZoneInfo | None = None
        self._columns: dict[str, int] | None = None  # from the last read: a hint for writes
        self._seen_version: str | None = None  # the version whose values we last read (or wrote)
        self._own_writes: dict[str, str] = {}  # version before our write -> version after it
        self._warned: set[tuple[Any, ...]] = set()  # data problems logged during the last read
        self._warned_before: set[tuple[Any, ...]] = set()
        self._log = log.bind(source=source.id, spreadsheet=source.spreadsheet_id, tab=source.tab)

    # -- Connector protocol

    def fetch_changes(self, cursor: str | None, now: datetime) -> ChangeBatch:
        """Every keyed row when the file's Drive `version` moved since `cursor`; else nothing.

        The cursor is the Drive version read *before* the values, so an edit landing between
        the two calls is read again next cycle.
        """
        calls: Counter[str] = Counter()
        version = self._drive_version(calls)
        if cursor is not None and self._settled(cursor) == version:
            self._log.debug("sheets.idle", version=version, own_write=cursor != version)
            return ChangeBatch(records=[], cursor=version, api_calls=sum(calls.values()))
        sheet_id = self._ensure_sheet(calls)
        try:
            reply = self._read_tab(calls)
        except SourceError as error:
            if not isinstance(error, TransientError):
                self._sheet_id = None  # renamed or deleted tab: look it up again next time
            raise
        records = self._records(reply.get("values") or [], sheet_id, now)
        self._seen_version = version
        self._log.info("sheets.read", version=version, records=len(records))
        return ChangeBatch(records=records, cursor=version, api_calls=sum(calls.values()))

    def _read_tab(self, calls: Counter[str]) -> dict[str, Any]:
        return self._client.execute(
            "sheets.values.get",
            lambda: self._client.sheets.spreadsheets().values().get(
                spreadsheetId=self._source.spreadsheet_id,
                range=quote_tab(self._source.tab),
                valueRenderOption="FORMATTED_VALUE",  # text typed as "=HYPERLINK(..)" stays text
                majorDimension="ROWS",
            ),
            what=self._what("values.get"),
            counters=self._cycle(calls),
        )

    def status_history(
        self, record_ids: Sequence[str], since: datetime | None
    ) -> Mapping[str, Sequence[StatusChange]]:
        """Sheets keeps no per-cell history: transitions are timed by the poll or a column."""
        return {}

    def write_back(self, actions: Sequence[Action]) -> Sequence[ActionResult]:
        """All actions in ONE spreadsheets.batchUpdate, rows located by key right before it.

        COMMENT  a block (text + marker) in the note of the row's status cell; other blocks and
                 a person's own note text are kept.
        REMOVE_NOTE  removes the block of the COMMENT named by `target` (its key); an empty note
                 is cleared.
        SET_FIELD / MOVE_STATUS  a text value (`stringValue`: never a formula) in the named
                 column (default `baton_column`) / the status column.
        """
        if not actions:
            return []
        try:
            before = self._drive_version(None)
            located = self._locate()
        except SourceError as error:
            return [_failed(a, error) for a in actions]

        results: dict[int, ActionResult] = {}
        notes: dict[int, str] = {}  # row -> the note the status cell will have
        values: dict[tuple[int, int], str] = {}
        planned: list[int] = []
        only_own_cells = True
        status_col = located.columns[self._source.status_column]
        for n, action in enumerate(actions):
            row = located.rows.get(action.record_id)
            if row is None:
                results[n] = ActionResult(action.key, ok=False,
                                          error=f"row {action.record_id!r} is no longer in the sheet")
                continue
            if action.kind in (ActionKind.COMMENT, ActionKind.REMOVE_NOTE):
                current = notes.get(row, located.status_notes.get(row, ""))
                if action.kind is ActionKind.COMMENT:
                    notes[row] = _upsert_block(current, action)
                    results[n] = ActionResult(action.key, ok=True, remote_id=action.key)
                elif not action.target:
                    results[n] = ActionResult(action.key, ok=False,
                                              error="REMOVE_NOTE without `target`: no note block to remove")
                    continue
                else:
                    notes[row] = _remove_block(current, action.target)
                    results[n] = ActionResult(action.key, ok=True, remote_id=action.target)
            elif action.kind in (ActionKind.SET_FIELD, ActionKind.MOVE_STATUS):
                column = (self._source.status_column if action.kind is ActionKind.MOVE_STATUS
                          else action.field or self._source.baton_column)
                if not column or column not in located.columns:
                    results[n] = ActionResult(action.key, ok=False,
                                              error=f"tab {self._source.tab!r} has no column {column!r}")
                    continue
                values[(row, located.columns[column])] = "" if action.value is None else str(action.value)
                only_own_cells &= (action.kind is ActionKind.SET_FIELD
                                   and column == self._source.baton_column)
                results[n] = ActionResult(action.key, ok=True)
            else:
                results[n] = ActionResult(action.key, ok=False,
                                          error=f"{action.kind} is not something a sheet can hold")
                continue
            planned.append(n)

        requests = [
            _cell_request(located.sheet_id, row, status_col, {"note": text} if text else {}, "note")
            for row, text in notes.items()
            if text != located.status_notes.get(row, "")
        ] + [
            _cell_request(located.sheet_id, row, col, {"userEnteredValue": {"stringValue": text}},
                          "userEnteredValue")
            for (row, col), text in values.items()
        ]
        if requests:
            try:
                self._client.execute(
                    "sheets.spreadsheets.batchUpdate",
                    lambda: self._client.sheets.spreadsheets().batchUpdate(
                        spreadsheetId=self._source.spreadsheet_id, body={"requests": requests}
                    ),
                    what=self._what("batchUpdate"),
                    counters=self._cycle(None),
                    write=True,
                )
            except SourceError as error:
                for n in planned:
                    results[n] = _failed(actions[n], error)
                return [results[n] for n in range(len(actions))]
            self._remember_own_write(before, only_own_cells)
        self._log.info("sheets.write_back", actions=len(actions), requests=len(requests),
                       failed=sum(1 for r in results.values() if not r.ok))
        return [results[n] for n in range(len(actions))]

    def find_written(self, actions: Sequence[Action]) -> Mapping[str, str]:
        """Always {}: a note block or a cell value is replaced, never appended, so writing an
        action again after a crash is harmless (the same marker's block is overwritten)."""
        return {}

    def api_calls(self) -> Mapping[str, int]:
        return dict(self._calls)

    # -- reading

    def _cycle(self, calls: Counter[str] | None) -> tuple[Counter[str], ...]:
        """Counters besides the client's own: this connector's, and this cycle's when given."""
        return (self._calls,) if calls is None else (self._calls, calls)

    def _what(self, call: str) -> str:
        return f"spreadsheet {self._source.spreadsheet_id} tab {self._source.tab!r}: {call}"

    def _drive_version(self, calls: Counter[str] | None) -> str:
        reply = self._client.execute(
            "drive.files.get",
            lambda: self._client.drive.files().get(
                fileId=self._source.spreadsheet_id, fields="version,modifiedTime",
                supportsAllDrives=True,
            ),
            what=self._what("drive files.get"),
            counters=self._cycle(calls),
        )
        version = reply.get("version")
        if version is None:
            raise TransientError(f"{self._what('drive files.get')}: no version in the answer")
        return str(version)

    def _settled(self, cursor: str) -> str:
        """The cursor moved past our own writes made since it."""
        seen = {cursor}
        while cursor in self._own_writes:
            cursor = self._own_writes[cursor]
            if cursor in seen:
                break
            seen.add(cursor)
        return cursor

    def _remember_own_write(self, before: str, only_own_cells: bool) -> None:
        if not only_own_cells or before != self._seen_version:
            return  # someone else changed the file since our read, or we moved a status
        try:
            after = self._drive_version(None)
        except SourceError:
            return  # the next cycle simply reads the tab again
        self._own_writes[before] = after
        self._seen_version = after
        while len(self._own_writes) > 64:
            self._own_writes.pop(next(iter(self._own_writes)))
        self._log.debug("sheets.own_write", before=before, after=after)

    def _ensure_sheet(self, calls: Counter[str] | None) -> int:
        if self._sheet_id is not None:
            return self._sheet_id
        reply = self._client.execute(
            "sheets.spreadsheets.get",
            lambda: self._client.sheets.spreadsheets().get(
                spreadsheetId=self._source.spreadsheet_id,
                fields="properties.timeZone,sheets.properties(sheetId,title)",
            ),
            what=self._what("spreadsheets.get"),
            counters=self._cycle(calls),
        )
        tabs = {s["properties"]["title"]: s["properties"].get("sheetId", 0) for s in reply.get("sheets", [])}
        if self._source.tab not in tabs:
            raise SourceError(f"{self._what('spreadsheets.get')}: no tab named {self._source.tab!r} "
                              f"(tabs: {', '.join(sorted(tabs))})")
        try:
            self._zone = ZoneInfo(reply.get("properties", {}).get("timeZone") or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self._zone = ZoneInfo("UTC")
        self._sheet_id = int(tabs[self._source.tab])
        return self._sheet_id

    def _header(self, header_row: Sequence[Any], widest: int) -> dict[str, int]:
        """Header name -> column; blank, merged or duplicate header cells are warned about."""
        columns: dict[str, int] = {}
        for index in range(max(len(header_row), widest)):
            name = str(header_row[index]).strip() if index < len(header_row) else ""
            if not name:
                self._warn("sheets.bad_header", column=column_letter(index), row=1,
                           reason="blank or merged header cell; the column is ignored")
            elif name in columns:
                self._warn("sheets.bad_header", column=column_letter(index), row=1, header=name,
                           reason=f"duplicate header; column {column_letter(columns[name])} is used")
            else:
                columns[name] = index
        missing = [c for c in (self._source.key_column, self._source.status_column) if c not in columns]
        if missing:
            raise SourceError(f"{self._what('header')}: no column {', '.join(map(repr, missing))} in the "
                              f"header row (found: {', '.join(map(repr, columns))})")
        return columns

    def _records(self, rows: list[list[Any]], sheet_id: int, now: datetime) -> list[Record]:
        self._warned_before, self._warned = self._warned, set()
        if not rows:
            raise SourceError(f"{self._what('values.get')}: the tab is empty (no header row)")
        widest = max(len(r) for r in rows)
        columns = self._header(rows[0], widest)
        self._columns = columns
        key_col = columns[self._source.key_column]
        status_name = self._source.status_column
        fingerprinted = sorted(n for n in columns if n != self._source.baton_column)
        name_col = _first_named(columns, _NAME_COLUMNS, exclude=frozenset({self._source.key_column}))
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
                self._warn("sheets.bad_row", row=row_number, key=key or None,
                           reason=f"values in columns without a header ({', '.join(stray)}) are ignored")
            if not key:
                self._warn("sheets.bad_row", row=row_number, key=None,
                           reason=f"no {self._source.key_column!r}; the row is skipped")
                continue
            if key in first_row_of:
                self._warn("sheets.bad_row", row=row_number, key=key,
                           reason=f"duplicate key; row {first_row_of[key]} is used")
                continue
            first_row_of[key] = row_number
            fields = {name: (cells[i] if i < len(cells) else "") for name, i in columns.items()}
            modified_at, modified_source = self._modified_at(fields, row_number, key, now)
            records.append(Record(
                source=self.source_id,
                id=key,
                url=(f"https://docs.google.com/spreadsheets/d/{self._source.spreadsheet_id}/edit"
                     f"#gid={sheet_id}&range=A{row_number}"),
                name=(fields.get(name_col) or "").strip() or key if name_col else key,
                status=fields[status_name].strip() or None,
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
        column = self._source.changed_at_column
        text = (fields.get(column) or "").strip() if column else ""
        if not text:
            return now, TimeSource.POLL
        when = _parse_when(text, self._zone or ZoneInfo("UTC"))
        if when is None:
            self._warn("sheets.bad_row", row=row, key=key,
                       reason=f"{column!r} is not a date/time ({text[:40]!r}); the poll time is used")
            return now, TimeSource.POLL
        return when, TimeSource.COLUMN

    def _warn(self, event: str, **context: Any) -> None:
        """Log a data problem once while it lasts: again only after it was gone for a read."""
        signature = (event, *sorted((k, str(v)) for k, v in context.items()))
        self._warned.add(signature)
        if signature not in self._warned_before:
            self._log.warning(event, **context)

    # -- locating rows right before a write

    def _locate(self) -> _Located:
        """One spreadsheets.get: sheetId, the header row, the key column, the status notes."""
        columns = self._columns
        if columns is None:  # never read in this process: learn the header first
            reply = self._client.execute(
                "sheets.values.get",
                lambda: self._client.sheets.spreadsheets().values().get(
                    spreadsheetId=self._source.spreadsheet_id, range=f"{quote_tab(self._source.tab)}!1:1"
                ),
                what=self._what("values.get header"),
                counters=self._cycle(None),
            )
            header = (reply.get("values") or [[]])[0]
            columns = self._header(header, len(header))
        for _ in range(2):
            located = self._locate_with(columns)
            if located is not None:
                return located
            columns = self._columns or columns  # the header moved: _locate_with refreshed it
        raise TransientError(f"{self._what('locate')}: the header keeps changing; try next cycle")

    def _locate_with(self, columns: dict[str, int]) -> _Located | None:
        key_col = columns[self._source.key_column]
        status_col = columns[self._source.status_column]
        tab = quote_tab(self._source.tab)
        ranges = [f"{tab}!1:1"] + [f"{tab}!{column_letter(c)}:{column_letter(c)}" for c in (key_col, status_col)]
        reply = self._client.execute(
            "sheets.spreadsheets.get",
            lambda: self._client.sheets.spreadsheets().get(
                spreadsheetId=self._source.spreadsheet_id,
                ranges=ranges,
                fields="sheets(properties(sheetId,title),data(startRow,startColumn,rowData(values(formattedValue,note))))",
            ),
            what=self._what("spreadsheets.get locate"),
            counters=self._cycle(None),
        )
        sheet = next((s for s in reply.get("sheets", []) if s.get("properties", {}).get("title") == self._source.tab), None)
        if sheet is None or len(sheet.get("data", [])) != 3:
            raise SourceError(f"{self._what('spreadsheets.get locate')}: the tab is gone")
        header_grid, key_grid, status_grid = sheet["data"]
        header = [c.get("formattedValue", "") for c in _grid_rows(header_grid)[0]] if _grid_rows(header_grid) else []
        now_columns = self._header(header, len(header))
        if now_columns.get(self._source.key_column) != key_col or now_columns.get(self._source.status_column) != status_col:
            self._columns = now_columns
            return None
        rows: dict[str, int] = {}
        for index, line in enumerate(_grid_rows(key_grid)):
            key = (line[0].get("formattedValue", "") if line else "").strip()
            if index > 0 and key and key not in rows:
                rows[key] = index
        notes = {
            index: line[0]["note"]
            for index, line in enumerate(_grid_rows(status_grid))
            if line and line[0].get("note")
        }
        self._sheet_id = int(sheet["properties"].get("sheetId", 0))
        return _Located(self._sheet_id, now_columns, rows, notes)


# ---------------------------------------------------------------- small pure helpers


def _failed(action: Action, error: SourceError) -> ActionResult:
    return ActionResult(action.key, ok=False, error=str(error), retryable=isinstance(error, TransientError))


def _grid_rows(grid: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    """GridData cells by row; whole-column ranges start at row 0, so the index is the row index."""
    return [list(row.get("values") or []) for row in grid.get("rowData") or []]


def _cell_request(sheet_id: int, row: int, col: int, cell: dict[str, Any], fields: str) -> dict[str, Any]:
    return {
        "updateCells": {
            "range": {"sheetId": sheet_id, "startRowIndex": row, "endRowIndex": row + 1,
                      "startColumnIndex": col, "endColumnIndex": col + 1},
            "rows": [{"values": [cell]}],
            "fields": fields,
        }
    }


def _first_named(columns: Mapping[str, int], wanted: Sequence[str],
                 exclude: frozenset[str] = frozenset()) -> str | None:
    by_lower = {name.lower(): name for name in columns if name not in exclude}
    return next((by_lower[w] for w in wanted if w in by_lower), None)


def _fingerprint(names: Sequence[str], fields: Mapping[str, str]) -> str:
    """Stable across row moves and column reorders (`names` sorted); blank == missing (ragged)."""
    canonical = "\x1e".join(f"{name}\x1f{fields[name].strip()}" for name in names)
    return hashlib.blake2b(canonical.encode(), digest_size=10).hexdigest()


_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%Y/%m/%d %H:%M", "%d.%m.%Y %H:%M", "%d.%m.%Y")


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


def _parse_note(note: str) -> tuple[list[str], dict[str, list[str]]]:
    """A note -> (a person's lines, Baton blocks by key). A block runs from a `⚑ Baton` line to its marker."""
    own: list[str] = []
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in note.splitlines():
        if line.startswith(_BLOCK_START):
            if current is not None:
                own.extend(current)  # an unterminated block: keep it as the person's text
            current = [line]
            continue
        if current is None:
            own.append(line)
            continue
        current.append(line)
        match = _MARKER_LINE.match(line.strip())
        if match:
            blocks[match.group("key")] = current
            current = None
    if current is not None:
        own.extend(current)
    while own and not own[-1].strip():
        own.pop()
    return own, blocks


def _render_note(own: list[str], blocks: Mapping[str, list[str]]) -> str:
    parts = ["\n".join(own)] if any(line.strip() for line in own) else []
    parts += ["\n".join(lines) for lines in blocks.values()]
    return "\n\n".join(parts)


def _upsert_block(note: str, action: Action) -> str:
    own, blocks = _parse_note(note)
    marker = idempotency_marker(action.key)
    text = action.text.replace(marker, "").strip()
    lines = [f"{_BLOCK_START} · {action.gate_id}" if action.gate_id else _BLOCK_START]
    lines += [line for line in text.splitlines() if not _MARKER_LINE.match(line.strip())]
    blocks[action.key] = [*lines, marker]
    return _render_note(own, blocks)


def _remove_block(note: str, key: str) -> str:
    own, blocks = _parse_note(note)
    blocks.pop(key, None)
    return _render_note(own, blocks)


def write_rows(settings: SheetsSettings, secrets: Secrets, spreadsheet_id: str, tab: str,
               rows: Sequence[Sequence[Any]], retry: RetryPolicy | None = None) -> None:
    """Replace a tab's values with `rows` (the KPI tab of `baton report --to-sheet`).

    The tab is created when missing. Every value goes as RAW: a KPI label or a record name that
    starts with `=` stays text.
    """
    client = SheetsClient(settings, secrets, retry or RetryPolicy())
    what = f"spreadsheet {spreadsheet_id}, tab {tab!r}"
    meta = client.execute("spreadsheets.get", lambda: client.sheets.spreadsheets().get(
        spreadsheetId=spreadsheet_id, fields="sheets(properties(sheetId,title))"), what=what)
    titles = {s["properties"]["title"] for s in meta.get("sheets", [])}
    if tab not in titles:
        client.execute("spreadsheets.batchUpdate", lambda: client.sheets.spreadsheets().batchUpdate(
            spreadsheetId=spreadsheet_id, body={"requests": [{"addSheet": {"properties": {"title": tab}}}]}),
            what=what, write=True)
    quoted = "'" + tab.replace("'", "''") + "'"
    client.execute("values.clear", lambda: client.sheets.spreadsheets().values().clear(
        spreadsheetId=spreadsheet_id, range=quoted, body={}), what=what, write=True)
    client.execute("values.update", lambda: client.sheets.spreadsheets().values().update(
        spreadsheetId=spreadsheet_id, range=f"{quoted}!A1", valueInputOption="RAW",
        body={"values": [[("" if v is None else str(v)) for v in row] for row in rows]}),
        what=what, write=True)
