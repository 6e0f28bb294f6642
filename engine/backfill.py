"""`baton backfill`: the transition log from the tools' history, so the first report means
something on day one. It writes transitions only: no gates, no timers, no write-backs."""
from __future__ import annotations

from datetime import datetime

import structlog

from baton.connectors.base import Connector
from baton.engine.cycle import run_cycle
from baton.rules import RuleSet
from baton.store import CycleWrite, StateStore
from baton.core.records import Transition

log = structlog.get_logger()


def backfill(source_id: str, connector: Connector, store: StateStore, since: datetime,
             now: datetime) -> int:
    """Transitions after `since` for every known record of the source; returns how many were new."""
    if not store.source_state(source_id).has_baseline:
        run_cycle(source_id, connector, store, RuleSet.empty(), now)  # the baseline, silently
    ids = [row.record_id for row in store.stored_records(source_id)]
    chunk = connector.backfill_chunk
    added = 0
    for start in range(0, len(ids), chunk):
        history = connector.backfill_history(ids[start:start + chunk], since)
        transitions = [Transition(source_id, change.record_id, change.from_status, change.to_status,
                                  change.at, change.time_source, backfilled=True)
                       for changes in history.values() for change in changes if change.at >= since]
        new = set(t.key for t in transitions) - store.existing_transition_keys([t.key for t in transitions])
        store.commit_cycle(CycleWrite(source_id, None, advance_cursor=False,
                                      transitions=[t for t in transitions if t.key in new]), now)
        added += len(new)
    log.info("source.backfilled", source=source_id, transitions=added, since=since.isoformat())
    return added
