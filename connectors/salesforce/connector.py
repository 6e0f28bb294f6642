"""One Salesforce source: an object (Lead, Opportunity, X__c) and its status field.

`SalesforceConnector` holds the source's call counter and hands it, with the shared org, to
its read side (`read.py`) and its write side (`write.py`); it keeps no state the store does not.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from baton.connectors.base import Connector
from baton.connectors.capabilities import CAPABILITIES
from baton.connectors.salesforce.client import SalesforceOrg
from baton.connectors.salesforce.read import SalesforceReader
from baton.connectors.salesforce.write import SalesforceWriter
from baton.core.actions import Action, ActionResult
from baton.core.config import SalesforceSource
from baton.core.records import ChangeBatch, FieldChange, PageStream, StatusChange


class SalesforceConnector(Connector):
    """One Salesforce source: an object (Lead, Opportunity, X__c) and its status field."""

    capabilities = CAPABILITIES["salesforce"]

    # engine.backfill: many ids with a `since` are one field-history query by CreatedDate (paged),
    # whatever their number; chunks of ids would repeat that same query once per chunk.
    backfill_chunk = 1_000_000

    def __init__(self, source: SalesforceSource, org: SalesforceOrg) -> None:
        self.source = source
        self.source_id = source.id
        self.org = org
        self._calls: Counter[str] = Counter()
        self._reader = SalesforceReader(source, org, self._calls)
        self._writer = SalesforceWriter(source, org, self._calls)

    def api_calls(self) -> Mapping[str, int]:
        return dict(self._calls)

    def fetch_changes(self, cursor: str | None, now: datetime) -> ChangeBatch:
        return self._reader.fetch_changes(cursor, now)

    def stream_baseline(self, now: datetime) -> PageStream:
        """Every record, one page at a time (the engine stores each page as it comes)."""
        return PageStream(self._reader.pages(None, now))

    def stream_changes(self, cursor: str | None, now: datetime) -> PageStream:
        """Changed records one page (up to 2,000) at a time, window anchored on server time."""
        return PageStream(self._reader.pages(cursor, now))

    def status_history(self, record_ids: Sequence[str], since: datetime | None
                       ) -> Mapping[str, Sequence[StatusChange]]:
        """For a page of the poll under way: no earlier than its window, read by window once
        many records need it (SalesforceReader.cycle_history)."""
        return self._reader.cycle_history(record_ids, since)

    def field_history(self, record_ids: Sequence[str],
                      since: datetime) -> Mapping[str, Sequence[FieldChange]]:
        """The configured fields' changes, from the rows `status_history` read this cycle."""
        return self._reader.field_history(record_ids, since)

    def owner_history(self, record_ids: Sequence[str]) -> Mapping[str, Sequence[FieldChange]]:
        """LeadHistory's `Owner` rows (ids) from the same read as the status history."""
        return self._reader.owner_history(record_ids)

    def backfill_history(self, record_ids: Sequence[str],
                         since: datetime) -> Mapping[str, Sequence[StatusChange]]:
        """Status rows only: a backfill judges no gate, so it reads no field changes."""
        return self._reader.status_history(record_ids, since, with_fields=False)

    def write_back(self, actions: Sequence[Action]) -> Sequence[ActionResult]:
        return self._writer.write_back(actions)

    def find_written(self, actions: Sequence[Action]) -> Mapping[str, str]:
        return self._writer.find_written(actions)
