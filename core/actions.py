"""What Baton writes back: intents planned by the engine, carried out by connectors.

The planner says exactly what to do — close this task, remove this note, post this reply, give
the record to this `OwnerRef` — and a connector only carries it out. A connector declares what
it can carry out (`Capabilities`), so the planner never asks a tool for something it cannot do
and `baton check` can refuse such a rule before it goes live.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from baton.core.owners import OwnerKind, OwnerRef


class ActionKind(StrEnum):
    COMMENT = "comment"  # `text` under the record: Asana story, Salesforce FeedItem, Sheets note block
    TASK = "task"  # a task `subject`/`text` for `assignee`: Salesforce Task, Asana subtask
    SET_FIELD = "set_field"  # `field` = `value`
    MOVE_STATUS = "move_status"  # bounce to `value`, only while the record is in `expected_status`
    REASSIGN = "reassign"  # give the record to `assignee`
    CLOSE_TASK = "close_task"  # mark the task `target` done; `text`, if any, as a note on the record
    REMOVE_NOTE = "remove_note"  # take the note block `target` out of the record's cell (Sheets)
    REPLY = "reply"  # post `text` under the record, answering the comment `target` (Salesforce)
    NOTIFY = "notify"  # `text` to the chat webhook whose URL is in env var `webhook_env` (engine)
    # A repeat failure, said on what is still open instead of a new item (quiet write-backs):
    UPDATE_TASK = "update_task"  # the open task `target` now says `text` (Salesforce: its
    #   description rewritten; Asana: a comment on that subtask)
    UPDATE_COMMENT = "update_comment"  # the open comment `target` now says `text` (Sheets: its
    #   note block rewritten; Salesforce: a reply in its feed thread; Asana: a comment on the task)
    # One message per owner for a bulk of failures of one gate in one cycle (`digest_above`):
    DIGEST = "digest"  # a task `subject`/`text` for the owner `record_owner`, listing the records
    DIGEST_ITEM = "digest_item"  # one record's place in the digest `target`; the engine marks it,
    #   nothing is sent: it is how the record's violation knows what told of it


# What a bounce found already out of the gated status is marked with (`remote_id`): nothing was
# written, the record had moved on by itself.
SUPERSEDED = "superseded: now "

# The kinds that edit the record itself (its status, a field, its owner), not something beside it.
EDITS_RECORD = frozenset({ActionKind.MOVE_STATUS, ActionKind.SET_FIELD, ActionKind.REASSIGN})


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
    assignee: OwnerRef | None = None  # TASK / REASSIGN: who; None is the record's owner
    # the record's owner (the tool's user id) when planned; "": it had none; None: unknown
    record_owner: str | None = None
    field: str | None = None  # SET_FIELD
    value: Any = None  # SET_FIELD: the value; MOVE_STATUS: the status to move to
    expected_status: str | None = None  # MOVE_STATUS: move only while the record is still here
    # CLOSE_TASK / REMOVE_NOTE / REPLY / UPDATE_*: the remote id written earlier; DIGEST_ITEM:
    # the digest's (a `ledger:` reference until it is written)
    target: str | None = None
    webhook_env: str | None = None  # NOTIFY


@dataclass(frozen=True, slots=True)
class ActionResult:
    key: str
    ok: bool
    remote_id: str | None = None
    error: str | None = None
    retryable: bool = False


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a connector can carry out, declared once per tool."""

    writes: frozenset[ActionKind]
    owners: frozenset[OwnerKind]  # the OwnerRef kinds it can resolve to a user of the tool
    # How a fixed record's earlier comment is answered: REPLY (a "resolved" note under it),
    # REMOVE_NOTE (the note block goes), or None (the comment stays as the record of what was wrong).
    comment_resolution: ActionKind | None = None
    # Whether the tool tells status changes after the fact (field history, stories). Where it
    # does not (Sheets), Baton's own bounces come from its ledger (`StateStore.own_moves`).
    keeps_history: bool = True

    def refuses(self, kind: ActionKind, owner: OwnerRef | None = None) -> str | None:
        """Why this tool cannot carry out `kind` (for `owner`), or None when it can."""
        if kind not in self.writes:
            return f"cannot {_DOING[kind]}"
        if owner is not None and owner.kind not in self.owners:
            return f"cannot give work to {owner} (it can to: {', '.join(sorted(self.owners)) or 'nobody'})"
        return None


_DOING = {ActionKind.COMMENT: "write comments", ActionKind.TASK: "open tasks",
          ActionKind.SET_FIELD: "set fields", ActionKind.MOVE_STATUS: "move a record's status",
          ActionKind.REASSIGN: "reassign records", ActionKind.CLOSE_TASK: "close tasks",
          ActionKind.REMOVE_NOTE: "remove notes", ActionKind.REPLY: "post replies",
          ActionKind.NOTIFY: "post to a chat webhook",
          ActionKind.UPDATE_TASK: "update an open task", ActionKind.UPDATE_COMMENT: "update an open comment",
          ActionKind.DIGEST: "send digests (digest_above)", ActionKind.DIGEST_ITEM: "send digests (digest_above)"}
