"""The product's own values: records as every tool's connector normalizes them, the status
changes its history tells, and the transitions Baton records.

SDK dicts never leave a connector; the engine, rules, store and reports see only these frozen
values.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from baton.core.keys import stable_key


class TimeSource(StrEnum):
    """Where the timestamp of a transition came from, best first."""

    HISTORY = "history"  # the tool's own history (Salesforce field history, Asana stories)
    MODIFIED = "modified"  # the record's modification time
    COLUMN = "column"  # a "changed at" column the team keeps (Sheets)
    POLL = "poll"  # the time Baton saw it: a last resort
    WRITE = "write"  # Baton's own bounce, where the tool keeps no history: its cycle's time


@dataclass(frozen=True, slots=True)
class Record:
    """One task / sObject / row, normalized."""

    source: str  # the configured source id, e.g. "salesforce:leads"
    id: str
    url: str
    name: str
    status: str | None
    owner: str | None  # the tool's id of the owner / assignee, if any
    fields: Mapping[str, Any]
    modified_at: datetime  # tz-aware UTC
    fingerprint: str = ""  # a hash of the values, for connectors that diff snapshots (Sheets)
    modified_source: TimeSource = TimeSource.MODIFIED  # what `modified_at` really is


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One status change as the tool's history tells it."""

    record_id: str
    from_status: str | None
    to_status: str
    at: datetime
    time_source: TimeSource = TimeSource.HISTORY


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One change of a field's value as the tool's history tells it: what lets Baton judge a
    status the record has already left on the values it had then."""

    record_id: str
    field: str  # the name the record's `fields` use
    old: Any
    new: Any
    at: datetime


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """What one poll found: records changed since the cursor, and the cursor to store after."""

    records: Sequence[Record]
    cursor: str | None
    api_calls: int = 0
    complete: bool = True  # False: a page failed; records so far are valid, the cursor is not
    # Records the tool's change feed named as possible status moves (Asana's events). With
    # hints, the engine reads history only for these and for records whose status differs from
    # the one it knows; None: the tool gives none, so every changed known record's history is read
    # (Salesforce, to catch an A→B→A hop).
    status_hints: frozenset[str] | None = None


class PageStream:
    """Records page by page (a baseline or a mass update of 50,000 leads need not sit in memory
    at once); `cursor` and `complete` are final once every page was read. `status_hints` is
    the tool's feed's (see ChangeBatch), known once the first page is out."""

    def __init__(self, pages: Generator[Sequence[Record], None, tuple[str | None, bool]]) -> None:
        self._pages = pages
        self.cursor: str | None = None
        self.complete = False
        self.status_hints: frozenset[str] | None = None

    def __iter__(self) -> Iterator[Sequence[Record]]:
        self.cursor, self.complete = yield from self._pages

    @classmethod
    def of(cls, fetch: Callable[[], ChangeBatch]) -> PageStream:
        """One page: the whole batch `fetch` returns (a tool whose poll is small, or not paged)."""

        def pages() -> Generator[Sequence[Record], None, tuple[str | None, bool]]:
            batch = fetch()
            stream.status_hints = batch.status_hints
            yield batch.records
            return batch.cursor, batch.complete

        stream = cls(pages())
        return stream


@dataclass(frozen=True, slots=True)
class Transition:
    """(record, from-status, to-status, at): one status change as Baton records it."""

    source: str
    record_id: str
    from_status: str | None
    to_status: str
    at: datetime
    time_source: TimeSource
    backfilled: bool = False

    @property
    def key(self) -> str:
        # `from` is left out on purpose: the same change seen once from history and once from a
        # poll is one transition, and the first sighting wins.
        return stable_key(self.source, self.record_id, self.to_status, self.at.isoformat())
