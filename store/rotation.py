"""Round-robin over a queue's members, persisted: `queue:<name>` task owners take turns.

`assign(queue, key, members)` gives the action `key` the next member of the rotation, in one
transaction with recording it: the position is how many actions the queue has been given so far,
so it survives restarts, and an action that is written again (a retry after a crash or a lost
answer) keeps the member it got the first time. Twenty tasks for a queue of three active
members go 7/7/6; a member who left the queue is skipped from then on.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update

from baton.store import schema
from baton.store.state import StateStore


class QueueRotation:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    def assign(self, queue: str, key: str, members: Sequence[str]) -> str:
        if not members:
            raise ValueError(f"queue {queue!r} has no member to assign")
        table = schema.queue_assignments
        c = table.c
        with self.store.engine.begin() as connection:
            earlier = connection.execute(select(c.member).where(c.action_key == key)).scalar()
            if earlier in members:
                return str(earlier)
            given = int(connection.execute(select(func.count()).select_from(table).where(
                c.queue == queue, c.action_key != key)).scalar() or 0)
            member = members[given % len(members)]
            now = datetime.now(UTC)
            if earlier is None:
                connection.execute(insert(table).values(action_key=key, queue=queue,
                                                        member=member, assigned_at=now))
            else:  # its member left the queue: the next one in turn
                connection.execute(update(table).where(c.action_key == key).values(
                    member=member, assigned_at=now))
        return member

    def counts(self, queue: str) -> dict[str, int]:
        c = schema.queue_assignments.c
        with self.store.engine.connect() as connection:
            rows = connection.execute(select(c.member, func.count()).where(c.queue == queue)
                                      .group_by(c.member)).all()
        return {str(member): int(n) for member, n in rows}
