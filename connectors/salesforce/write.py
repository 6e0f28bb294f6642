"""Writing back to one Salesforce source: plan, send, look up what was written.

Updates (MOVE_STATUS, SET_FIELD, REASSIGN, CLOSE_TASK, UPDATE_TASK) are merged per record and
sent first (PATCH composite/sobjects), then creates (Task, FeedItem, FeedComment, a digest Task;
POST), 200 records a call. Each
create carries its action's marker, so `find_written` can find it after a crash or a lost
answer. A create whose outcome is unknown (a timeout, an unreadable answer) is a retryable
failure: the ledger keeps it pending and the engine's next cycle calls `find_written` first —
written once, repaired in one place.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from simple_salesforce import Salesforce

from baton.connectors.salesforce import soql
from baton.connectors.salesforce.client import SalesforceOrg
from baton.connectors.salesforce.owners import OwnerResolver
from baton.core.actions import EDITS_RECORD, Action, ActionKind, ActionResult
from baton.core.config import SalesforceSource
from baton.core.errors import AuthError, PayloadError, QuotaExhausted, SourceError, TransientError
from baton.core.faults import crashpoint
from baton.core.keys import IDEMPOTENCY_TAG, idempotency_marker

COLLECTION_MAX = 200  # records per composite/sobjects call
FEED_BODY_MAX = 10_000
TASK_DESCRIPTION_MAX = 32_000
TASK_SUBJECT_MAX = 255
RETRYABLE_SAVE_ERRORS = {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG"}
_UPDATES_ITEM = (ActionKind.UPDATE_TASK, ActionKind.UPDATE_COMMENT)  # remote id: what they update
_MARKER = re.compile(r"\[" + re.escape(IDEMPOTENCY_TAG) + r"[^\]\s]+\]")
DIGEST_SUBJECT = "Baton digest:"  # a digest Task's subject starts so: how a repair finds it

Failures = dict[int, tuple[str, bool]]  # action index -> (message, retryable)


@dataclass
class _Op:
    """One record of a composite call, and the actions it serves."""

    sobject: str
    values: dict[str, Any]
    actions: list[int] = field(default_factory=list)
    record_id: str | None = None  # updates
    marker: str | None = None  # creates
    action_key: str | None = None


class SalesforceWriter:
    """The write side of one source."""

    def __init__(self, source: SalesforceSource, org: SalesforceOrg, calls: Counter[str]) -> None:
        self.source = source
        self.org = org
        self._calls = calls
        self.owners = OwnerResolver(source, org, calls)
        self._earlier: dict[str, list[str]] = {}  # task -> its markers, for this write_back

    def write_back(self, actions: Sequence[Action]) -> Sequence[ActionResult]:
        """Updates first (PATCH composite/sobjects), then creates (POST), 200 records a call."""
        results: list[ActionResult | None] = [None] * len(actions)
        owners = self.owners.record_owners(actions)
        self._earlier = self._task_markers(actions)
        updates: dict[tuple[str, str], _Op] = {}
        creates: list[_Op] = []
        for index, action in enumerate(actions):
            try:
                for op in self._plan(action, owners):
                    if op.record_id is not None:
                        merged = updates.setdefault((op.sobject, op.record_id[:15]),
                                                    _Op(op.sobject, {}, record_id=op.record_id))
                        merged.values.update(op.values)
                        merged.actions.append(index)
                    else:
                        op.actions.append(index)
                        creates.append(op)
            except SourceError as error:
                if isinstance(error, QuotaExhausted | AuthError):
                    raise
                results[index] = ActionResult(action.key, False, error=str(error),
                                              retryable=isinstance(error, TransientError))
        failures: Failures = {}
        created: dict[int, str] = {}
        self._send(list(updates.values()), "PATCH", failures, None)
        if updates and creates:
            crashpoint("between_writes")  # the bounce is in Salesforce, the Task not yet
        creates.sort(key=lambda op: op.sobject)  # mixed types: as few chunks as possible
        self._send(creates, "POST", failures, created)
        for index, action in enumerate(actions):
            if results[index] is not None:
                continue
            if index in failures:
                message, retryable = failures[index]
                results[index] = ActionResult(action.key, False, error=message,
                                              retryable=retryable)
            else:
                remote = action.target if action.kind in _UPDATES_ITEM else created.get(
                    index) or action.target or (
                    action.record_id if action.kind in EDITS_RECORD else None)
                results[index] = ActionResult(action.key, True, remote_id=remote)
        return [result for result in results if result is not None]

    def find_written(self, actions: Sequence[Action]) -> Mapping[str, str]:
        """Tasks / FeedItems carrying an action's marker, found by parent and matched here.

        Long text areas (Description, Body) cannot be filtered with LIKE in SOQL, so the rows
        of the parents concerned are read and the markers matched in Python.
        MOVE_STATUS / SET_FIELD are idempotent and are never reported as found.
        """
        task_parents: set[str] = set()
        feed_parents: set[str] = set()
        threads: set[str] = set()
        digest_owners: set[str] = set()
        wanted: dict[str, str] = {}
        targets: dict[str, str] = {}  # a reply's key -> the post it answers (its remote id)
        for action in actions:
            if action.kind == ActionKind.TASK:
                task_parents.add(action.record_id)
            elif action.kind == ActionKind.DIGEST and action.record_owner:
                digest_owners.add(self._digest_owner(action))
            elif action.kind == ActionKind.UPDATE_COMMENT and action.target:
                threads.add(action.target)
                targets[action.key] = action.target
            elif action.kind in (ActionKind.COMMENT, ActionKind.REPLY) or (
                action.kind == ActionKind.CLOSE_TASK and action.text
            ):
                feed_parents.add(action.record_id)
            else:
                continue
            wanted[idempotency_marker(action.key)] = action.key
        found: dict[str, str] = {}
        lookups = [("Task", self._task_parent_field(), "Description", sorted(task_parents)),
                   ("FeedItem", "ParentId", "Body", sorted(feed_parents)),
                   ("FeedComment", "FeedItemId", "CommentBody", sorted(threads)),
                   ("Task", "OwnerId", "Description", sorted(digest_owners))]
        for sobject, parent, text_field, parents in lookups:
            for chunk in soql.chunks(parents):
                query = soql.marked_rows_query(sobject, parent, text_field, chunk,
                                               DIGEST_SUBJECT if parent == "OwnerId" else None)
                for page in self.org.query_pages(query, counter=self._calls):
                    for row in page:
                        text, row_id = row.get(text_field), row.get("Id")
                        if not isinstance(text, str) or "[" + IDEMPOTENCY_TAG not in text:
                            continue
                        for marker, key in wanted.items():
                            if key not in found and marker in text and row_id:
                                found[key] = targets.get(key) or str(row_id)
        return found

    # -- planning

    def _task_markers(self, actions: Sequence[Action]) -> dict[str, list[str]]:
        """The Baton markers in the descriptions of the tasks these actions update (one query
        per 200 tasks, only when some action updates a task)."""
        tasks = sorted({a.target for a in actions if a.kind is ActionKind.UPDATE_TASK and a.target})
        found: dict[str, list[str]] = {}
        for chunk in soql.chunks(tasks):
            for row in self.org.query_records(soql.descriptions_query(chunk),
                                              counter=self._calls):
                found[str(row.get("Id"))[:15]] = _MARKER.findall(str(row.get("Description") or ""))
        return found

    def _digest_owner(self, action: Action) -> str:
        """The user a digest goes to: the records' owner (a queue: one of its members, the
        same one for the same digest)."""
        return self.owners.resolve(None, action.record_owner, action.key)

    def _task_parent_field(self) -> str:
        return "WhoId" if self.source.object in soql.WHO_OBJECTS else "WhatId"

    def _plan(self, action: Action, owners: Mapping[str, str | None]) -> list[_Op]:
        obj = self.source.object
        if action.kind == ActionKind.TASK:
            owner = self.owners.resolve(action.assignee, owners.get(action.record_id[:15]),
                                       action.key)
            first_line = action.text.strip().splitlines()[0] if action.text.strip() else ""
            subject = action.subject or first_line or f"Baton: {action.gate_id}"
            values: dict[str, Any] = {
                "attributes": {"type": "Task"},
                "Subject": subject[:TASK_SUBJECT_MAX],
                "Description": _body(action.text, action.key, TASK_DESCRIPTION_MAX),
                "OwnerId": owner,
                "Status": "Not Started",
                "Priority": "High",
                "ActivityDate": self.org.now().astimezone(UTC).date().isoformat(),
                self._task_parent_field(): action.record_id,
            }
            return [_Op("Task", values, marker=idempotency_marker(action.key),
                        action_key=action.key)]
        if action.kind == ActionKind.DIGEST:
            if not action.record_owner:
                raise PayloadError("DIGEST action without the owner it is for")
            values = {"attributes": {"type": "Task"},
                      "Subject": f"{DIGEST_SUBJECT} {action.subject}"[:TASK_SUBJECT_MAX],
                      "Description": _body(action.text, action.key, TASK_DESCRIPTION_MAX),
                      "OwnerId": self._digest_owner(action), "Status": "Not Started",
                      "Priority": "High",
                      "ActivityDate": self.org.now().astimezone(UTC).date().isoformat()}
            return [_Op("Task", values, marker=idempotency_marker(action.key),
                        action_key=action.key)]
        if action.kind == ActionKind.UPDATE_TASK:
            if not action.target:
                raise PayloadError("UPDATE_TASK action without the task to update")
            # a PATCH is idempotent: sent again after a crash, it writes the same description;
            # the markers of the task and of its earlier updates stay (a repair still finds them)
            markers = [*self._earlier.get(action.target[:15], []), idempotency_marker(action.key)]
            return [_Op("Task", {"Description": _body(action.text, "\n".join(
                dict.fromkeys(markers)), TASK_DESCRIPTION_MAX, marked=True)},
                        record_id=action.target)]
        if action.kind == ActionKind.UPDATE_COMMENT:
            if not action.target:
                raise PayloadError("UPDATE_COMMENT action without the post to answer")
            return [_Op("FeedComment", {"attributes": {"type": "FeedComment"},
                                        "FeedItemId": action.target,
                                        "CommentBody": _body(action.text, action.key,
                                                             FEED_BODY_MAX)},
                        marker=idempotency_marker(action.key), action_key=action.key)]
        if action.kind == ActionKind.COMMENT:
            return [_feed_item(action, action.text)]
        if action.kind == ActionKind.MOVE_STATUS:
            return [_Op(obj, {self.source.status_field: action.value}, record_id=action.record_id)]
        if action.kind == ActionKind.SET_FIELD:
            if not action.field:
                raise PayloadError("SET_FIELD action without a field name")
            return [_Op(obj, {action.field: action.value}, record_id=action.record_id)]
        if action.kind == ActionKind.REASSIGN:
            owner = self.owners.resolve(action.assignee, owners.get(action.record_id[:15]),
                                       action.key)
            return [_Op(obj, {"OwnerId": owner}, record_id=action.record_id)]
        if action.kind == ActionKind.CLOSE_TASK:
            if not action.target:
                raise PayloadError("CLOSE_TASK action without the task to close")
            ops = [_Op("Task", {"Status": "Completed"}, record_id=action.target)]
            if action.text:
                ops.append(_feed_item(action, action.text))
            return ops
        if action.kind == ActionKind.REPLY:
            return [_feed_item(action, action.text or "Resolved.")]
        raise PayloadError(f"unsupported action kind {action.kind!r}")

    # -- sending

    def _send(self, ops: list[_Op], method: str, failures: Failures,
              created: dict[int, str] | None) -> None:
        """Composite calls of up to 200 records. PATCH: updates are idempotent, a retry next
        cycle is harmless. POST: a create that may have landed fails as retryable, and the
        ledger looks for its marker before it is sent again."""
        endpoint = "composite_update" if method == "PATCH" else "composite_create"
        for chunk in soql.chunks(ops, COLLECTION_MAX):
            if method == "PATCH":
                records = [{"attributes": {"type": op.sobject}, "id": op.record_id, **op.values}
                           for op in chunk]
            else:
                records = [op.values for op in chunk]
            try:
                answer = self.org.call(endpoint, _composite(method, records),
                                       counter=self._calls, write=method == "POST")
            except (TransientError, PayloadError) as error:
                _fail(chunk, str(error), not isinstance(error, PayloadError), failures)
                continue
            self._apply_save_results(chunk, answer, failures, created)

    def _apply_save_results(self, ops: Sequence[_Op], answer: Any, failures: Failures,
                            created: dict[int, str] | None) -> None:
        if not isinstance(answer, list) or len(answer) != len(ops):
            _fail(ops, "Salesforce composite answer does not match the records sent", True,
                  failures)
            return
        for op, result in zip(ops, answer, strict=True):
            if isinstance(result, dict) and result.get("success"):
                if created is not None and result.get("id"):
                    for index in op.actions:
                        created.setdefault(index, str(result["id"]))
                continue
            errors = result.get("errors") if isinstance(result, dict) else None
            errors = errors if isinstance(errors, list) else []
            codes = [str(e.get("statusCode", "")) for e in errors if isinstance(e, dict)]
            message = "; ".join(
                f"{e.get('statusCode', '')}: {e.get('message', '')}"
                + (f" ({', '.join(map(str, e['fields']))})"
                   if isinstance(e.get("fields"), list) and e["fields"] else "")
                for e in errors if isinstance(e, dict)
            ) or "Salesforce refused the record"
            retryable = any(code in RETRYABLE_SAVE_ERRORS for code in codes)
            _fail([op], self.org.scrub(message), retryable, failures)


def _composite(method: str, records: list[dict[str, Any]]) -> Callable[[Salesforce], Any]:
    """One composite/sobjects call (allOrNone false: each record succeeds or fails alone)."""

    def fn(sf: Salesforce) -> Any:
        return sf.restful("composite/sobjects", method=method,
                          json={"allOrNone": False, "records": records})

    return fn


def _body(text: str, key: str, limit: int, marked: bool = False) -> str:
    """`text`, cut to fit, then the marker of `key` (or, `marked`, the marker lines given)."""
    marker = key if marked else idempotency_marker(key)
    room = limit - len(marker) - 2
    if len(text) > room:
        text = text[: max(0, room - 1)] + "…"
    return f"{text}\n\n{marker}" if text else marker


def _feed_item(action: Action, text: str) -> _Op:
    return _Op("FeedItem", {"attributes": {"type": "FeedItem"}, "ParentId": action.record_id,
                            "Body": _body(text, action.key, FEED_BODY_MAX), "Type": "TextPost"},
               marker=idempotency_marker(action.key), action_key=action.key)


def _fail(ops: Sequence[_Op], message: str, retryable: bool, failures: Failures) -> None:
    for op in ops:
        for index in op.actions:
            failures.setdefault(index, (message, retryable))
