"""The shapes every connector speaks: records in, actions out.

SDK dicts never leave a connector module; the engine, rules, store and reports see only the
frozen values defined here.
"""
from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class TimeSource(StrEnum):
    """Where the timestamp of a transition came from, best first."""

    HISTORY = "history"  # the tool's own history (Salesforce field history, Asana stories)
    MODIFIED = "modified"  # the record's modification time
    COLUMN = "column"  # a "changed at" column the team keeps (Sheets)
    POLL = "poll"  # the time Baton saw it: a last resort


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
class ChangeBatch:
    """What one poll found: records changed since the cursor, and the cursor to store after."""

    records: Sequence[Record]
    cursor: str | None
    api_calls: int = 0
    complete: bool = True  # False: a page failed; records so far are valid, the cursor is not


class PageStream:
    """Records page by page (a baseline of 50,000 leads need not sit in memory at once);
    `cursor` and `complete` are final once every page was read."""

    def __init__(self, pages: Generator[Sequence[Record], None, tuple[str | None, bool]]) -> None:
        self._pages = pages
        self.cursor: str | None = None
        self.complete = False

    def __iter__(self) -> Iterator[Sequence[Record]]:
        self.cursor, self.complete = yield from self._pages


class ActionKind(StrEnum):
    COMMENT = "comment"  # Asana story, Salesforce FeedItem, Sheets cell note
    TASK = "task"  # Salesforce Task, Asana subtask
    SET_FIELD = "set_field"  # write one field value
    MOVE_STATUS = "move_status"  # bounce: move the record back to a status
    RESOLVE = "resolve"  # close what an earlier violation opened
    REASSIGN = "reassign"  # give the record to another owner (`assignee` is an owner reference)
    NOTIFY = "notify"  # a chat webhook post (Slack / Teams); sent by the engine, not the connector


@dataclass(frozen=True, slots=True)
class Action:
    """One write-back. `key` is the ledger key: the same key is never written twice."""

    key: str
    kind: ActionKind
    source: str
    record_id: str
    gate_id: str
    text: str = ""  # comment text, task description, note text
    subject: str = ""  # task subject / subtask name
    assignee: str | None = None  # a tool user id, resolved by the connector from a reference
    field: str | None = None  # for SET_FIELD
    value: Any = None  # for SET_FIELD / MOVE_STATUS (the status to move to)
    resolves: str | None = None  # for RESOLVE: the remote id recorded for the action it closes
    payload: Mapping[str, Any] = dataclass_field(default_factory=dict)  # connector-specific extras


@dataclass(frozen=True, slots=True)
class ActionResult:
    key: str
    ok: bool
    remote_id: str | None = None
    error: str | None = None
    retryable: bool = False


class Connector(Protocol):
    """A thin adapter over one tool's SDK, for one configured source."""

    source_id: str

    def fetch_changes(self, cursor: str | None, now: datetime) -> ChangeBatch:
        """Records changed since `cursor` (None: every record, for the baseline)."""

    def status_history(
        self, record_ids: Sequence[str], since: datetime | None
    ) -> Mapping[str, Sequence[StatusChange]]:
        """Status changes per record at or after `since` (whole-second history: inclusive),
        oldest first; {} where the tool keeps none."""

    def write_back(self, actions: Sequence[Action]) -> Sequence[ActionResult]:
        """Write actions, batched where the API allows; one result per action, in order."""

    def find_written(self, actions: Sequence[Action]) -> Mapping[str, str]:
        """For actions that may have been written before a crash: key -> remote id of those found."""

    def api_calls(self) -> Mapping[str, int]:
        """API calls made so far, by endpoint name (for benchmarks and the idle-cycle contract)."""

    # Optional: `stream_baseline(now) -> PageStream` reads the first sight of a source page by
    # page; without it the engine takes `fetch_changes(None, now)` whole.


IDEMPOTENCY_TAG = "baton:"


def idempotency_marker(key: str) -> str:
    """The marker a connector embeds in what it writes, so a crash can be repaired by finding it."""
    return f"[{IDEMPOTENCY_TAG}{key}]"
