"""Who a Salesforce write goes to: the record's owner, their manager, a user, a queue member.

Users and queues are the org's own metadata: cached per source, as the store keeps none of it.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from baton.connectors.salesforce import soql
from baton.connectors.salesforce.client import SalesforceOrg
from baton.core.actions import Action, ActionKind
from baton.core.config import SalesforceSource
from baton.core.errors import PayloadError
from baton.core.owners import OwnerKind, OwnerRef


class OwnerResolver:
    def __init__(self, source: SalesforceSource, org: SalesforceOrg, calls: Counter[str]) -> None:
        self.source = source
        self.org = org
        self._calls = calls
        self._users: dict[str, str | None] = {}  # assignee reference -> user id (cached)
        self._queues: dict[str, list[str]] = {}  # queue name or id -> its active user members

    def record_owners(self, actions: Sequence[Action]) -> dict[str, str | None]:
        """OwnerId of the records whose tasks go to "the owner", one query per 300 records."""
        need = sorted({a.record_id for a in actions
                       if a.kind in (ActionKind.TASK, ActionKind.REASSIGN)
                       and (a.assignee is None
                            or a.assignee.kind in (OwnerKind.OWNER, OwnerKind.MANAGER))})
        owners: dict[str, str | None] = {}
        for chunk in soql.chunks(need):
            for row in self.org.query_records(soql.owners_query(self.source.object, chunk),
                                              counter=self._calls):
                owners[str(row.get("Id"))[:15]] = row.get("OwnerId")
        return owners

    def resolve(self, reference: OwnerRef | None, owner: str | None, key: str | None = None) -> str:
        """A User id for the record's owner (a queue owner: one of its active members), the
        owner's manager, a named user (id, username, email or name) or one of a queue's active
        members: in turns (round robin, `org.rotation`, for the action `key`) when the org has a
        rotation, else the first."""
        kind = OwnerKind.OWNER if reference is None else reference.kind
        if kind in (OwnerKind.OWNER, OwnerKind.MANAGER):
            if not owner:
                raise PayloadError("the record was not found or has no owner")
            if owner.startswith("00G"):
                owner = self._queue_member(owner, key)
            return self._manager_of(owner) if kind is OwnerKind.MANAGER else owner
        value = reference.value if reference is not None else None
        if not value:
            raise PayloadError(f"owner reference {reference} names no user or queue")
        return self._queue_member(value, key) if kind is OwnerKind.QUEUE else self._user(value)

    def _user(self, value: str) -> str:
        if soql.is_id(value, "005"):
            return value
        if value not in self._users:
            rows = self.org.query_records(soql.user_query(value), counter=self._calls)
            self._users[value] = str(rows[0]["Id"]) if rows and rows[0].get("Id") else None
        user = self._users[value]
        if user is None:
            raise PayloadError(f"no active Salesforce user matches {value!r}")
        return user

    def _manager_of(self, user_id: str) -> str:
        key = f"manager:{user_id}"
        if key not in self._users:
            rows = self.org.query_records(soql.manager_query(user_id), counter=self._calls)
            self._users[key] = rows[0].get("ManagerId") if rows else None
        manager = self._users[key]
        if not manager:
            raise PayloadError(f"user {user_id} has no manager in Salesforce")
        return manager

    def _queue_member(self, queue: str, key: str | None = None) -> str:
        """An active user member of a queue (by name, developer name or id): the rotation's
        next for action `key`, else the first; the members are read once per writer."""
        if queue not in self._queues:
            members = [str(row["UserOrGroupId"]) for row in self.org.query_records(
                soql.queue_members_query(queue), counter=self._calls)
                if str(row.get("UserOrGroupId", "")).startswith("005")]
            active_members: list[str] = []
            if members:
                active = {str(row.get("Id"))[:15] for row in self.org.query_records(
                    soql.active_users_query(members), counter=self._calls)}
                active_members = [m for m in members if m[:15] in active]
            self._queues[queue] = active_members
        active_members = self._queues[queue]
        if not active_members:
            raise PayloadError(f"Salesforce queue {queue!r} has no active user member")
        rotation = self.org.rotation
        if rotation is None or key is None:
            return active_members[0]
        return rotation.assign(queue, key, active_members)
