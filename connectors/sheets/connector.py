"""The Sheets connector: one tab is one source, a key column identifies a row.

Calls per cycle (Drive calls are not Sheets quota):

    idle fetch        1  drive.files.get (version unchanged since the values were last read)
    changed fetch     2  drive.files.get + sheets.values.get of the whole tab
                         (+1 sheets.spreadsheets.get once per connector: sheetId and time zone)
    write_back        2  sheets.spreadsheets.get (header, key column, status notes), ONE
                         sheets.spreadsheets.batchUpdate (its answer carries the key column
                         after the write: verify.py)
                         (+1 batchUpdate undoing a write that rows moved under, rarely)

Our own writes move the Drive `version` too, so the fetch after a write_back is a changed fetch:
the tab is read again and the records our notes or `baton_column` values did not change are
dropped by fingerprint (read.py leaves `baton_column` out of it). No version is ever taken as
"ours": Drive documents `version` only as monotonically increasing, not as counting changes, and
`lastModifyingUser` names only the last editor, so nothing shows that a person's edit did not land
just before or just after our batchUpdate. A version remembered as ours once made such an edit
unseen until the file's next change (benchmarks/RESULTS.md, latency); the re-read costs one
values.get per cycle that follows a write-back.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from baton.connectors.base import Connector
from baton.connectors.capabilities import CAPABILITIES
from baton.connectors.sheets.client import SheetsClient
from baton.connectors.sheets.read import TabReader
from baton.connectors.sheets.verify import check, undo_requests
from baton.connectors.sheets.write import Located, Plan, failed, locate, plan, send
from baton.core.actions import Action, ActionKind, ActionResult
from baton.core.config import SheetsSource
from baton.core.errors import PayloadError, SourceError, TransientError
from baton.core.records import ChangeBatch, StatusChange


class SheetsConnector(Connector):
    """A tab with a header row, as records keyed by `key_column`. Not thread-safe."""

    capabilities = CAPABILITIES["sheets"]

    def __init__(self, source: SheetsSource, client: SheetsClient) -> None:
        self.source_id = source.id
        self._source = source
        self._calls: Counter[str] = Counter()
        self._tab = TabReader(source, client, self._calls)
        self._log = self._tab.log

    def fetch_changes(self, cursor: str | None, now: datetime) -> ChangeBatch:
        """Every keyed row when the file's Drive `version` moved since `cursor`; else nothing.

        The cursor is the Drive version read *before* the values, so an edit landing between
        the two calls is read again next cycle.
        """
        start = self._spent()
        version = self._tab.drive_version()
        if cursor == version:
            self._log.debug("sheets.idle", version=version)
            return ChangeBatch(records=[], cursor=version, api_calls=self._spent() - start)
        sheet_id = self._tab.ensure_sheet()
        try:
            rows = self._tab.read_tab()
        except SourceError as error:
            if not isinstance(error, TransientError):
                self._tab.sheet_id = None  # renamed or deleted tab: look it up again next time
            raise
        records = self._tab.records(rows, sheet_id, now)
        self._log.info("sheets.read", version=version, records=len(records))
        return ChangeBatch(records=records, cursor=version, api_calls=self._spent() - start)

    def status_history(
        self, record_ids: Sequence[str], since: datetime | None
    ) -> Mapping[str, Sequence[StatusChange]]:
        """Sheets keeps no per-cell history: transitions are timed by the poll or a column."""
        return {}

    def write_back(self, actions: Sequence[Action]) -> Sequence[ActionResult]:
        """All actions in ONE spreadsheets.batchUpdate, rows located by key right before it
        (what each action kind writes: `write.plan`), checked in its own answer to have landed
        on the rows meant (`verify`): a write that went astray is undone and fails retryable."""
        if not actions:
            return []
        source = self._source
        value_columns = [source.baton_column or "", *(a.field or "" for a in actions
                                                      if a.kind is ActionKind.SET_FIELD)]
        try:
            located = locate(self._tab, value_columns)
        except SourceError as error:
            return [failed(a, error) for a in actions]
        planned = plan(actions, located, source.status_column, source.baton_column, source.tab)
        results = planned.results
        if planned.requests:
            key_col = located.columns[source.key_column]
            try:
                reply = send(self._tab, planned.requests, key_col)
                checked = check(reply, source.tab, located, planned, actions, source.key_column)
            except PayloadError as error:  # it landed, somewhere: write it again next cycle
                for n in planned.planned:
                    results[n] = ActionResult(actions[n].key, ok=False, error=str(error), retryable=True)
                return [results[n] for n in range(len(actions))]
            except SourceError as error:
                for n in planned.planned:
                    results[n] = failed(actions[n], error)
                return [results[n] for n in range(len(actions))]
            if checked is None or checked[0]:
                self._went_astray(actions, located, planned, checked)
                return [results[n] for n in range(len(actions))]
        self._log.info("sheets.write_back", actions=len(actions), requests=len(planned.requests),
                       failed=sum(1 for r in results.values() if not r.ok))
        return [results[n] for n in range(len(actions))]

    def _went_astray(self, actions: Sequence[Action], located: Located, planned: Plan,
                     checked: tuple[set[int], dict[int, str]] | None) -> None:
        """Rows moved under the write: undo the cells that hit a neighbour, fail those actions
        retryable (the ledger keeps them pending; the next cycle locates the rows again)."""
        reason = ("the header moved while writing" if checked is None
                  else "a row was inserted, deleted or moved while writing")
        astray = set(planned.rows_of.values()) if checked is None else checked[0]
        for n, row in planned.rows_of.items():
            if row in astray:
                planned.results[n] = ActionResult(actions[n].key, ok=False, retryable=True,
                                                  error=f"row {actions[n].record_id!r}: {reason}; "
                                                        "not recorded, retried next cycle")
        if checked is None:
            self._log.error("sheets.write_astray", reason=reason, undone=False,
                            cells=sorted(planned.cells))
            return
        status_col = located.columns[self._source.status_column]
        undo = undo_requests(located, planned, astray, checked[1], status_col)
        try:
            if undo:
                send(self._tab, undo)
        except SourceError as error:
            self._log.error("sheets.write_astray", reason=reason, undone=False, rows=sorted(astray),
                            error=str(error))
            return
        self._log.warning("sheets.write_astray", reason=reason, undone=True, rows=sorted(astray))

    def find_written(self, actions: Sequence[Action]) -> Mapping[str, str]:
        """Always {}: a note block or a cell value is replaced, never appended, so writing an
        action again after a crash is harmless (the same marker's block is overwritten)."""
        return {}

    def api_calls(self) -> Mapping[str, int]:
        return dict(self._calls)

    def _spent(self) -> int:
        return sum(self._calls.values())
