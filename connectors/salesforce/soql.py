"""SOQL text: literals, id lists, datetimes, and every query the Salesforce connector sends.

SOQL never leaves this package; `read.py` and `write.py` ask here for the query they need.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")

IDS_PER_QUERY = 300  # ids in one IN (...) list: well under the URL and SOQL length limits
WHO_OBJECTS = frozenset({"Lead", "Contact"})  # a Task points at these with WhoId, others WhatId
_SF_ID = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")
_SOQL_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t",
                 "\b": "\\b", "\f": "\\f"}


# ------------------------------------------------------------------------------------ literals

def soql_quote(value: str) -> str:
    """A SOQL string literal for any text: quotes, backslashes and control characters escaped."""
    return "'" + "".join(_SOQL_ESCAPES.get(char, char) for char in str(value)) + "'"


def soql_datetime(value: datetime) -> str:
    """A SOQL datetime literal in UTC, whole seconds: 2026-11-24T10:00:00Z."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_id_list(ids: Sequence[str]) -> str:
    return "(" + ", ".join(soql_quote(record_id) for record_id in ids) + ")"


def parse_sf_datetime(text: str) -> datetime:
    """Salesforce's 2026-11-24T10:00:00.000+0000 (or an ISO string) as an aware UTC datetime.

    ValueError when the text is no datetime."""
    cleaned = text.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", cleaned):
        cleaned = cleaned[:-2] + ":" + cleaned[-2:]
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def sf_datetime_text(value: datetime) -> str:
    """A datetime the way Salesforce writes SystemModstamp: 2026-11-24T10:00:00.000+0000."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def is_id(value: str, prefix: str) -> bool:
    """Whether `value` is a 15/18-character Salesforce id of the object with key `prefix`."""
    return bool(_SF_ID.match(value)) and value.startswith(prefix)


def chunks(items: Sequence[T], size: int = IDS_PER_QUERY) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ------------------------------------------------------------------------------------ reads

def changes_query(sobject: str, fields: Sequence[str], lower: datetime | None,
                  upper: datetime) -> str:
    """Rows with SystemModstamp in (lower, upper], oldest first (Id breaks ties)."""
    conditions = [] if lower is None else [f"SystemModstamp > {soql_datetime(lower)}"]
    conditions.append(f"SystemModstamp <= {soql_datetime(upper)}")
    return (f"SELECT {', '.join(fields)} FROM {sobject} "
            f"WHERE {' AND '.join(conditions)} ORDER BY SystemModstamp, Id")


def history_field(name: str) -> str:
    """The `Field` a history row names a record field by: OwnerId is "Owner" (ids as values)."""
    return "Owner" if name == "OwnerId" else name


def history_object(sobject: str) -> tuple[str, str]:
    """(history sObject, parent id field) where field history of `sobject` is kept."""
    if sobject.endswith("__c"):
        return sobject[:-3] + "__History", "ParentId"
    if sobject == "Opportunity":
        return "OpportunityFieldHistory", "OpportunityId"
    return f"{sobject}History", f"{sobject}Id"


def history_queries(sobject: str, status_field: str, ids: Sequence[str],
                    since: datetime | None, fields: Sequence[str] = ()) -> list[str]:
    """Field history of `status_field` (and of the history `fields` named, in the same rows):
    one query per 300 ids, or, for many ids with a `since`, one query by CreatedDate that
    serves them all."""
    if since is not None and len(ids) > 3 * IDS_PER_QUERY:
        return [history_window_query(sobject, status_field, since, fields)]
    base = _history_base(sobject, status_field, since, fields)
    _, parent = history_object(sobject)
    return [f"{base} AND {parent} IN {soql_id_list(chunk)} ORDER BY CreatedDate, Id"
            for chunk in chunks(ids)]


def history_window_query(sobject: str, status_field: str, since: datetime,
                         fields: Sequence[str] = ()) -> str:
    """Field history of every record at or after `since`: one query (paged), whatever the
    number of records it serves."""
    return _history_base(sobject, status_field, since, fields) + " ORDER BY CreatedDate, Id"


def _history_base(sobject: str, status_field: str, since: datetime | None,
                  fields: Sequence[str]) -> str:
    table, parent = history_object(sobject)
    if fields:
        names = ", ".join(soql_quote(name) for name in dict.fromkeys([status_field, *fields]))
        base = (f"SELECT {parent}, Field, OldValue, NewValue, CreatedDate FROM {table} "
                f"WHERE Field IN ({names})")
    else:
        base = (f"SELECT {parent}, OldValue, NewValue, CreatedDate FROM {table} "
                f"WHERE Field = {soql_quote(status_field)}")
    if since is not None:
        base += f" AND CreatedDate >= {soql_datetime(since)}"
    return base


# ------------------------------------------------------------------------------------ writes

def marked_rows_query(sobject: str, parent: str, text_field: str, parents: Sequence[str],
                      subject_prefix: str | None = None) -> str:
    """Tasks, FeedItems or FeedComments of some parents (digest Tasks: of some owners, their
    subject starting with `subject_prefix`), with the long text that may hold a Baton marker
    (long text areas cannot be filtered with LIKE: the markers are matched in Python)."""
    where = f"{parent} IN {soql_id_list(parents)}"
    if subject_prefix:
        # a fixed prefix of Baton's own (no % or _ in it): a LIKE on it needs no escaping
        where += f" AND Subject LIKE {soql_quote(subject_prefix + '%')}"
    return f"SELECT Id, {parent}, {text_field} FROM {sobject} WHERE {where}"


def descriptions_query(task_ids: Sequence[str]) -> str:
    """The descriptions of some Tasks (the markers a rewrite keeps)."""
    return f"SELECT Id, Description FROM Task WHERE Id IN {soql_id_list(task_ids)}"


def owners_query(sobject: str, ids: Sequence[str]) -> str:
    return f"SELECT Id, OwnerId FROM {sobject} WHERE Id IN {soql_id_list(ids)}"


def user_query(reference: str) -> str:
    """The active user whose username, email or name is `reference`."""
    quoted = soql_quote(reference)
    return ("SELECT Id FROM User WHERE IsActive = true AND (Username = "
            f"{quoted} OR Email = {quoted} OR Name = {quoted}) ORDER BY Username LIMIT 1")


def manager_query(user_id: str) -> str:
    return f"SELECT ManagerId FROM User WHERE Id = {soql_quote(user_id)}"


def queue_members_query(queue: str) -> str:
    """Members of a queue named by id, name or developer name."""
    if is_id(queue, "00G"):
        where = f"GroupId = {soql_quote(queue)}"
    else:
        quoted = soql_quote(queue)
        where = (f"Group.Type = 'Queue' AND (Group.Name = {quoted} "
                 f"OR Group.DeveloperName = {quoted})")
    return f"SELECT UserOrGroupId FROM GroupMember WHERE {where} ORDER BY Id"


def active_users_query(ids: Sequence[str]) -> str:
    return f"SELECT Id FROM User WHERE IsActive = true AND Id IN {soql_id_list(ids)}"
