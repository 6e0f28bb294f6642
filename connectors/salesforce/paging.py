"""The shape of a SOQL query answer, checked page by page, and bounded paging.

An answer is an object `{"totalSize": n, "done": bool, "records": [...], "nextRecordsUrl": ...}`;
each row is an object. A page that is not, a `nextRecordsUrl` seen before, or more pages than
`totalSize` rows could fill is a PayloadError (a `PagingError` for the last two), never a loop.
"""
from __future__ import annotations

from typing import Any

from baton.core.errors import PayloadError


class PagingError(PayloadError):
    """The answers do not converge: a repeated nextRecordsUrl, or more pages than rows."""


class Pages:
    """Reads one query's answers in order; `take(answer)` → (rows, next URL or None)."""

    def __init__(self) -> None:
        self._urls: set[str] = set()
        self._rows = 0
        self._pages = 0
        self._total: int | None = None

    @property
    def total(self) -> int | None:
        """The largest totalSize the answers so far gave (the query's row count)."""
        return self._total

    def take(self, answer: Any) -> tuple[list[dict[str, Any]], str | None]:
        if not isinstance(answer, dict):
            raise PayloadError(f"Salesforce query answer is not an object "
                               f"(found {type(answer).__name__})")
        records = answer.get("records")
        if not isinstance(records, list):
            raise PayloadError("Salesforce query answer has no records list")
        for number, row in enumerate(records, self._rows + 1):
            if not isinstance(row, dict):
                raise PayloadError(f"Salesforce query row {number} is not an object "
                                   f"(found {type(row).__name__})")
        self._pages += 1
        self._rows += len(records)
        total = answer.get("totalSize")
        if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
            self._total = max(total, self._total or 0)
        if answer.get("done", True):
            return records, None
        next_url = answer.get("nextRecordsUrl")
        if not isinstance(next_url, str) or not next_url:
            raise PayloadError("Salesforce query answer is not done but has no nextRecordsUrl")
        if next_url in self._urls:
            raise PagingError(f"Salesforce query paging repeats nextRecordsUrl {next_url!r} "
                              f"after {self._pages} pages; stopped")
        if self._total is None:
            raise PayloadError("Salesforce query answer is not done but has no totalSize")
        if self._rows >= self._total or self._pages > self._total:
            raise PagingError(f"Salesforce query paging: {self._pages} pages and {self._rows} "
                              f"rows read, totalSize {self._total}, and still not done; stopped")
        self._urls.add(next_url)
        return records, next_url
