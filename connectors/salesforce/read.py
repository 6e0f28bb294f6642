"""Reading one Salesforce source: changed records, the baseline, field history, Records.

Rows come from `SalesforceOrg.query_pages`; each becomes a frozen `Record` here, and a row
that cannot (not an object, no Id, no readable SystemModstamp) is a PayloadError naming the field.
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from baton.connectors.salesforce import soql
from baton.connectors.salesforce.client import SalesforceOrg
from baton.connectors.salesforce.paging import Pages, PagingError
from baton.core.config import SalesforceSource
from baton.core.errors import PayloadError, TransientError
from baton.core.records import (
    ChangeBatch,
    FieldChange,
    PageStream,
    Record,
    StatusChange,
    TimeSource,
)

log = structlog.get_logger()


class SalesforceReader:
    """The read side of one source (an object and its status field)."""

    def __init__(self, source: SalesforceSource, org: SalesforceOrg, calls: Counter[str]) -> None:
        self.source = source
        self.org = org
        self._calls = calls
        self._instance: str | None = None
        # record id -> (the `since` it was read from, its field changes): history read by id
        self._fields: dict[str, tuple[datetime | None, list[FieldChange]]] = {}
        # The streamed poll under way: the lower bound of its change window, and, once many
        # records needed it, the history of every record since that bound (read once).
        self._window: datetime | None = None
        self._window_history: _History | None = None
        self._poll_rows = 0  # the poll's totalSize: how many records it may ask history for

    def fetch_changes(self, cursor: str | None, now: datetime) -> ChangeBatch:
        """Records with SystemModstamp in (cursor - lookback, now], oldest first, all at once
        (the engine streams `pages` instead; this is the contract's eager form)."""
        before = sum(self._calls.values())
        found: dict[str, Record] = {}
        stream = PageStream(self.pages(cursor, now))
        for page in stream:
            for record in page:
                seen = found.get(record.id)
                if seen is None or seen.modified_at <= record.modified_at:
                    found[record.id] = record  # a row read twice across pages: keep the last
        return ChangeBatch(list(found.values()), stream.cursor,
                           api_calls=sum(self._calls.values()) - before, complete=stream.complete)

    def pages(self, cursor: str | None, now: datetime
              ) -> Generator[list[Record], None, tuple[str | None, bool]]:
        """Records with SystemModstamp in (cursor - lookback, now], oldest first, page by page;
        returns (cursor, complete). A later page that fails keeps what was read and the cursor
        passed in; paging that does not converge raises.

        The next cursor is the server's time at the first answer (its `Date` header), never
        after `now`, never lower than the cursor passed in or the newest SystemModstamp read
        (whole seconds). So the window moves on with the server's clock also when nothing
        changes: once a mass update is `lookback` behind the server, an idle poll is one call
        again. The lookback itself stays: a record committed late carries a SystemModstamp up
        to that much older than the server's time when it becomes visible. Without a readable
        `Date`, the cursor is the newest SystemModstamp read (a baseline with no records: `now`).
        """
        upper = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(UTC).replace(
            microsecond=0)
        previous = self._cursor_time(cursor)
        lower = (None if previous is None
                 else previous - timedelta(seconds=self.org.settings.lookback_seconds))
        self._start_window(lower)
        query = soql.changes_query(self.source.object, self.select_fields(), lower, upper)
        newest = previous
        server: datetime | None = None
        read = 0
        paging = Pages()
        try:
            for raw_page in self.org.query_pages(query, page_size=self.org.settings.page_size,
                                                 counter=self._calls, pages=paging):
                if server is None:  # the first answer: the query's snapshot
                    server = self.org.server_time()
                    self._poll_rows = paging.total or 0
                page = [self.to_record(raw, read + number)
                        for number, raw in enumerate(raw_page, 1)]
                raw_page.clear()  # the answer's rows are Records now: not held while they are used
                for record in page:
                    if newest is None or record.modified_at > newest:
                        newest = record.modified_at
                read += len(page)
                yield page
                del page  # the engine is done with it: not held while the next page is read
        except PagingError:
            raise
        except (TransientError, PayloadError) as error:
            if not read:
                raise
            log.warning("source.page_failed", source=self.source.id, records=read,
                        error=type(error).__name__)
            return cursor, False
        if server is not None:
            anchor = min(server.replace(microsecond=0), upper)
            newest = anchor if newest is None else max(newest, anchor)
        newest = min(newest, upper) if newest is not None else upper
        return soql.sf_datetime_text(newest), True

    # -- history

    def _start_window(self, lower: datetime | None) -> None:
        self._window = lower
        self._window_history = None
        self._poll_rows = 0
        self._fields = {}

    def cycle_history(self, record_ids: Sequence[str], since: datetime | None
                      ) -> Mapping[str, Sequence[StatusChange]]:
        """Status changes for one page of a streamed poll (`pages`), oldest first.

        A change before the poll's window is already in the state the engine knows (the window
        reaches `lookback` behind the server's time at the last poll), so no read starts earlier.
        A poll of more rows than three id lists hold reads the window's history of every record
        once, at the first page that needs history (one query by CreatedDate, paged), and serves
        every page from it; a smaller poll (one page) reads by id. Without a poll under way:
        `status_history`.
        """
        window = self._window
        if window is None:
            return self.status_history(record_ids, since)
        if not record_ids:
            return {}
        since = window if since is None or since < window else since
        if self._window_history is None and max(self._poll_rows, len(record_ids)) > (
                3 * soql.IDS_PER_QUERY):
            self._window_history = self._read_window(window)
        if self._window_history is not None:
            return {record_id: found for record_id in record_ids
                    if (found := self._window_history.status(record_id, since))}
        changes, fields = self._read_history(record_ids, since, True)
        if self._tracked():
            self._fields.update({record_id: (since, fields.get(record_id, []))
                                 for record_id in record_ids})
        return changes

    def _read_window(self, since: datetime) -> _History:
        """Status and Owner rows of every record since `since`. Not the other fields' rows: a
        data-cleanup job that rewrote a tracked field on 50,000 leads would make them 50,000
        rows; `field_history` reads those by id for the few records that passed a status by."""
        owner = {"owner": "OwnerId"}
        query = soql.history_window_query(self.source.object, self.source.status_field, since,
                                          [soql.history_field("OwnerId")])
        changes, fields = self._read_rows([query], owner)
        return _History(since, dict(changes), dict(fields))

    def status_history(self, record_ids: Sequence[str], since: datetime | None, *,
                       with_fields: bool = True) -> Mapping[str, Sequence[StatusChange]]:
        """Status changes from field history, oldest first: one query per 300 ids.

        When many ids are asked for with a `since`, one query by CreatedDate serves them all.
        The same rows carry the changes of the source's configured fields (`with_fields`): kept
        for `field_history`, so a passed-through status costs no second query.
        """
        if with_fields:
            self._fields = {}
        if not record_ids:
            return {}
        changes, fields = self._read_history(record_ids, since, with_fields)
        if with_fields and self._tracked():
            self._fields = {record_id: (since, fields.get(record_id, []))
                            for record_id in record_ids}
        return changes

    def field_history(self, record_ids: Sequence[str],
                      since: datetime) -> Mapping[str, Sequence[FieldChange]]:
        """Changes of the configured fields at or after `since`, oldest first, from the rows
        the poll's history reads by id fetched (a record they did not cover, such as one served
        by the window read, costs one query per 300 ids)."""
        if not self._tracked():
            return {}
        wanted = list(dict.fromkeys(record_ids))
        missing = [record_id for record_id in wanted if record_id not in self._fields
                   or not _covers(self._fields[record_id][0], since)]
        if missing:
            _, fields = self._read_history(missing, since, True)
            self._fields.update({record_id: (since, fields.get(record_id, []))
                                 for record_id in missing})
        return {record_id: [c for c in self._fields[record_id][1] if c.at >= since]
                for record_id in wanted}

    def owner_history(self, record_ids: Sequence[str]) -> Mapping[str, Sequence[FieldChange]]:
        """Owner changes the last `status_history` read (the `Owner` rows with ids: a real org
        writes a second row with names, which is not an id and is left out)."""
        out = {}
        window = self._window_history
        for record_id in dict.fromkeys(record_ids):
            read = (window.field_changes(record_id, window.since) if window is not None
                    and record_id not in self._fields else self._fields.get(record_id, (None, []))[1])
            changes = [c for c in read if c.field == "OwnerId" and _is_owner_id(c.new)]
            if changes:
                out[record_id] = changes
        return out

    def _tracked(self) -> dict[str, str]:
        """History `Field` (lower case) -> the record field name, for the configured fields and
        the owner (routing delay)."""
        status = self.source.status_field.lower()
        return {"owner": "OwnerId"} | {
            soql.history_field(name).lower(): name for name in self.source.fields
            if "." not in name and name.lower() not in {status, "id", "name", "ownerid"}}

    def _read_history(self, record_ids: Sequence[str], since: datetime | None, with_fields: bool
                      ) -> tuple[dict[str, list[StatusChange]], dict[str, list[FieldChange]]]:
        tracked = self._tracked() if with_fields else {}
        by_prefix = {record_id[:15]: record_id for record_id in record_ids}
        queries = soql.history_queries(self.source.object, self.source.status_field,
                                       list(by_prefix.values()), since,
                                       [soql.history_field(name) for name in tracked.values()])
        changes, fields = self._read_rows(queries, tracked, by_prefix)
        return dict(changes), dict(fields)

    def _read_rows(self, queries: Sequence[str], tracked: Mapping[str, str],
                   by_prefix: Mapping[str, str] | None = None
                   ) -> tuple[dict[str, list[StatusChange]], dict[str, list[FieldChange]]]:
        """History rows by record id (`by_prefix`: the 15-character prefixes asked for; None:
        every record, keyed by that prefix), oldest first."""
        _, parent = soql.history_object(self.source.object)
        status_name = self.source.status_field.lower()
        changes: dict[str, list[StatusChange]] = defaultdict(list)
        fields: dict[str, list[FieldChange]] = defaultdict(list)
        for query in queries:
            for page in self.org.query_pages(query, counter=self._calls):
                for row in page:
                    prefix = str(row.get(parent) or "")[:15]
                    record_id = prefix if by_prefix is None else by_prefix.get(prefix)
                    if not record_id or not row.get("CreatedDate"):
                        continue
                    at = self._history_time(row["CreatedDate"])
                    name = str(row.get("Field") or status_name).lower() if tracked else status_name
                    old, new = row.get("OldValue"), row.get("NewValue")
                    if name in tracked:
                        fields[record_id].append(FieldChange(record_id, tracked[name], old, new, at))
                    elif name == status_name and new is not None:
                        changes[record_id].append(StatusChange(
                            record_id=record_id,
                            from_status=None if old is None else str(old),
                            to_status=str(new),
                            at=at,
                            time_source=TimeSource.HISTORY,
                        ))
        for history in changes.values():
            history.sort(key=lambda change: change.at)  # stable: same-second rows keep their order
        for values in fields.values():
            values.sort(key=lambda change: change.at)
        return dict(changes), dict(fields)

    # -- normalization

    def select_fields(self) -> list[str]:
        wanted = ["Id", "Name", "OwnerId", self.source.status_field, "SystemModstamp",
                  *self.source.fields]
        seen: set[str] = set()
        out = []
        for name in wanted:
            if name.lower() not in seen:
                seen.add(name.lower())
                out.append(name)
        return out

    def to_record(self, raw: Mapping[str, Any], number: int = 0) -> Record:
        fields = _flatten(raw)
        where = f"Salesforce {self.source.object} row {number}" if number else (
            f"Salesforce {self.source.object} row")
        record_id = fields.get("Id")
        if not isinstance(record_id, str) or not record_id:
            raise PayloadError(f"{where}: no Id (found {_short(record_id)})")
        stamp = fields.get("SystemModstamp")
        try:
            modified_at = soql.parse_sf_datetime(stamp) if isinstance(stamp, str) else None
        except ValueError:
            modified_at = None
        if modified_at is None:
            raise PayloadError(f"{where} {record_id}: SystemModstamp {_short(stamp)} is not a "
                               "datetime")
        status = _get_ci(fields, self.source.status_field)
        owner = fields.get("OwnerId")
        instance = self._instance_url()
        return Record(
            source=self.source.id,
            id=record_id,
            url=f"{instance}/lightning/r/{self.source.object}/{record_id}/view",
            name=str(fields.get("Name") or record_id),
            status=None if status is None else str(status),
            owner=None if owner is None else str(owner),
            fields=fields,
            modified_at=modified_at,
            # A record version: the lookback window re-reads unchanged records, and the engine
            # skips those it has already processed. SystemModstamp alone has whole seconds, and
            # two edits in one second are real, so the values are part of it.
            fingerprint=hashlib.blake2b(repr((stamp, sorted(fields.items()))).encode(),
                                        digest_size=12).hexdigest(),
        )

    def _instance_url(self) -> str:
        if self._instance is None:
            self._instance = self.org.instance_url(self._calls)
        return self._instance

    def _cursor_time(self, cursor: str | None) -> datetime | None:
        if not cursor:
            return None
        try:
            return soql.parse_sf_datetime(cursor)
        except ValueError:
            raise PayloadError(f"Salesforce {self.source.id}: the stored cursor {_short(cursor)} is "
                               "not a SystemModstamp") from None

    def _history_time(self, text: Any) -> datetime:
        try:
            return soql.parse_sf_datetime(str(text))
        except ValueError:
            raise PayloadError(f"Salesforce {self.source.object} history: CreatedDate "
                               f"{_short(text)} is not a datetime") from None


@dataclass(frozen=True, slots=True)
class _History:
    """The field history of every record since `since`, keyed by the 15-character id prefix."""

    since: datetime
    changes: dict[str, list[StatusChange]]
    fields: dict[str, list[FieldChange]]

    def status(self, record_id: str, since: datetime) -> list[StatusChange]:
        return [replace(c, record_id=record_id) for c in self.changes.get(record_id[:15], ())
                if c.at >= since]

    def field_changes(self, record_id: str, since: datetime) -> list[FieldChange]:
        return [replace(c, record_id=record_id) for c in self.fields.get(record_id[:15], ())
                if c.at >= since]


def _is_owner_id(value: Any) -> bool:
    return isinstance(value, str) and (soql.is_id(value, "005") or soql.is_id(value, "00G"))


def _covers(read_since: datetime | None, since: datetime) -> bool:
    return read_since is None or read_since <= since


def _flatten(raw: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A query row without `attributes`, relationship fields as "Owner.Name"."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "attributes":
            continue
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _get_ci(fields: Mapping[str, Any], name: str) -> Any:
    if name in fields:
        return fields[name]
    lowered = name.lower()
    return next((value for key, value in fields.items() if key.lower() == lowered), None)


def _short(value: Any) -> str:
    """A value as it is quoted in an error message: repr, at most 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
