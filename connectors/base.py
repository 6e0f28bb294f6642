"""The connector protocol: one configured source of one tool, records in, actions out."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from baton.core.actions import Action, ActionResult
from baton.core.records import ChangeBatch, StatusChange


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
