"""The connector base: one configured source of one tool, records in, actions out.

Every connector subclasses `Connector`: five methods it must write, and a default for each
optional one, so the engine never probes with `getattr`. A connector holds no state the store
does not (the store knows the records; the ledger knows what was written), and counts its API
calls per source.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar

from baton.core.actions import Action, ActionResult, Capabilities
from baton.core.records import ChangeBatch, FieldChange, PageStream, StatusChange


class Connector(ABC):
    """A thin adapter over one tool's SDK, for one configured source."""

    source_id: str
    capabilities: ClassVar[Capabilities]  # what write_back can carry out, declared per tool
    # How many record ids one history read takes in a backfill; a tool that reads history by
    # time window rather than by id takes them all at once.
    backfill_chunk: ClassVar[int] = 2000

    @abstractmethod
    def fetch_changes(self, cursor: str | None, now: datetime) -> ChangeBatch:
        """Records changed since `cursor` (None: every record, for the baseline)."""

    @abstractmethod
    def status_history(
        self, record_ids: Sequence[str], since: datetime | None
    ) -> Mapping[str, Sequence[StatusChange]]:
        """Status changes per record at or after `since` (whole-second history: inclusive),
        oldest first; {} where the tool keeps none."""

    @abstractmethod
    def write_back(self, actions: Sequence[Action]) -> Sequence[ActionResult]:
        """Carry out actions, batched where the API allows; one result per action, in order.
        A write whose outcome is unknown (a timeout, a lost answer) is a retryable failure:
        the ledger keeps it pending and asks `find_written` before sending it again."""

    @abstractmethod
    def find_written(self, actions: Sequence[Action]) -> Mapping[str, str]:
        """For actions that may have been written before a crash: key -> remote id of those found."""

    @abstractmethod
    def api_calls(self) -> Mapping[str, int]:
        """API calls this source made so far, by endpoint name (benchmarks, /metrics, the
        idle-cycle contract)."""

    def stream_baseline(self, now: datetime) -> PageStream:
        """The first sight of the source, page by page; by default one `fetch_changes(None)`."""
        return PageStream.of(lambda: self.fetch_changes(None, now))

    def stream_changes(self, cursor: str | None, now: datetime) -> PageStream:
        """`fetch_changes` page by page, so the engine holds one page at a time; by default one
        page. History asked while the stream runs is for the page just read."""
        return PageStream.of(lambda: self.fetch_changes(cursor, now))

    def field_history(self, record_ids: Sequence[str],
                      since: datetime) -> Mapping[str, Sequence[FieldChange]]:
        """Field value changes per record at or after `since`, oldest first, so a status the
        record passed through between two polls is judged on the values it had then. A record
        missing from the answer has no history to tell (the engine then judges current values
        and says so); by default the tool keeps none."""
        return {}

    def owner_history(self, record_ids: Sequence[str]) -> Mapping[str, Sequence[FieldChange]]:
        """Owner changes (old and new owner ids, field "OwnerId") that the last `status_history`
        read told, oldest first; no call of its own. By default the tool keeps none."""
        return {}

    def backfill_history(self, record_ids: Sequence[str],
                         since: datetime) -> Mapping[str, Sequence[StatusChange]]:
        """History for a backfill (no write-backs follow); by default `status_history`."""
        return self.status_history(record_ids, since)

    def close(self) -> None:  # noqa: B027 - optional: most connectors hold nothing to release
        """Release SDK clients (threads, pools) before the interpreter exits."""

