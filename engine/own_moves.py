"""Baton's own bounces as the status history of a tool that keeps none (Sheets).

A bounce edits the record after Baton stored it; a person who sets the status straight back
before the next poll leaves a row that reads exactly as that stored version. The ledger knows
what Baton wrote, so the engine can tell the bounce and the way back in.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from baton.core.records import Record, StatusChange
from baton.engine.transitions import fallback_time
from baton.store import StateStore


def own_history(source_id: str, records: Sequence[Record], known: dict, store: StateStore,
                now: datetime) -> dict[str, list[StatusChange]]:
    """Per record: Baton's bounces since the status the store knows, then the way back (at the
    record's modification time, or this poll's) when it is no longer where the bounce put it."""
    moves = store.own_moves(source_id, [r.id for r in records if r.id in known])
    history: dict[str, list[StatusChange]] = {}
    for record in records:
        since = known[record.id].status_since if record.id in known else None
        mine = [m for m in moves.get(record.id, ()) if since is None or m.at >= since]
        if not mine:
            continue
        if record.status is not None and record.status != mine[-1].to_status:
            at, timed_by = fallback_time(record, mine[-1].at, now)
            mine.append(StatusChange(record.id, mine[-1].to_status, record.status, at, timed_by))
        history[record.id] = mine
    return history
