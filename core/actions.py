"""What Baton writes back: actions planned by the engine, results reported by connectors."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum
from typing import Any


class ActionKind(StrEnum):
    COMMENT = "comment"  # Asana story, Salesforce FeedItem, Sheets cell note
    TASK = "task"  # Salesforce Task, Asana subtask
    SET_FIELD = "set_field"  # write one field value
    MOVE_STATUS = "move_status"  # bounce: move the record back to a status
    RESOLVE = "resolve"  # close what an earlier violation opened
    REASSIGN = "reassign"  # give the record to another owner (`assignee` is an owner reference)
    NOTIFY = "notify"  # a chat webhook post (Slack / Teams); sent by the engine, not the connector


@dataclass(frozen=True, slots=True)
class Action:
    """One write-back. `key` is the ledger key: the same key is never written twice."""

    key: str
    kind: ActionKind
    source: str
    record_id: str
    gate_id: str
    text: str = ""  # comment text, task description, note text
    subject: str = ""  # task subject / subtask name
    assignee: str | None = None  # a tool user id, resolved by the connector from a reference
    field: str | None = None  # for SET_FIELD
    value: Any = None  # for SET_FIELD / MOVE_STATUS (the status to move to)
    resolves: str | None = None  # for RESOLVE: the remote id recorded for the action it closes
    payload: Mapping[str, Any] = dataclass_field(default_factory=dict)  # connector-specific extras


@dataclass(frozen=True, slots=True)
class ActionResult:
    key: str
    ok: bool
    remote_id: str | None = None
    error: str | None = None
    retryable: bool = False
