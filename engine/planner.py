"""From a gate's verdict to the write-backs it calls for; pure, so it is easy to test and preview."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from baton.core.actions import Action, ActionKind, Capabilities
from baton.core.keys import stable_key
from baton.core.records import Record
from baton.core.text import visible
from baton.rules import Gate, GateResult, render
from baton.rules.evaluate import failure_context
from baton.rules.templates import record_context
from baton.store.models import OpenViolation


LEDGER_REF = "ledger:"  # a `target` written in this very cycle: the ledger row's remote id, once known


def ledger_ref(key: str) -> str:
    return LEDGER_REF + key


def plan_failure(record: Record, gate: Gate, result: GateResult, transition_key: str,
                 open_violation: OpenViolation | None, capabilities: Capabilities | None = None,
                 *, still_there: bool = True) -> list[Action]:
    """Actions for a failed gate; none for a gate in shadow mode (`mode = "observe"`)."""
    if gate.observed:
        return []
    return failure_actions(record, gate, result, transition_key, open_violation, capabilities,
                           still_there=still_there)


def failure_actions(record: Record, gate: Gate, result: GateResult, transition_key: str,
                    open_violation: OpenViolation | None, capabilities: Capabilities | None = None,
                    *, still_there: bool = True) -> list[Action]:
    """What a failed gate writes, whatever its mode (`preview` shows a shadow gate's with it):
    message first, bounce last (so the message is there first). An entry the record has
    already left (`still_there` false) gets its comment, task and fields, never a bounce: the
    record is no longer in the status the gate guards.

    A repeat failure while the earlier one is still open is said on what that one wrote, where
    the tool can (UPDATE_TASK / UPDATE_COMMENT): no second task, no second note."""
    spec = gate.on_fail
    context = failure_context(gate, record, result)
    can = capabilities.writes if capabilities is not None else frozenset()

    def action(kind: ActionKind, **fields: Any) -> Action:
        key = stable_key(record.source, record.id, gate.id, transition_key, kind.value,
                         fields.get("field"))
        return Action(key=key, kind=kind, source=record.source, record_id=record.id,
                      gate_id=gate.id, **_shown(fields))

    open_task = _still_open(open_violation, ActionKind.TASK, ActionKind.UPDATE_TASK)
    open_comment = _still_open(open_violation, ActionKind.COMMENT, ActionKind.UPDATE_COMMENT)
    actions: list[Action] = []
    if spec.comment is not None:
        text = render(spec.comment, context)
        if open_comment is not None and ActionKind.UPDATE_COMMENT in can:
            actions.append(action(ActionKind.UPDATE_COMMENT, text=text, target=open_comment))
        else:
            actions.append(action(ActionKind.COMMENT, text=text))
    if spec.task is not None:
        text = render(spec.task.body, context)
        if open_task is None:
            actions.append(action(ActionKind.TASK, subject=render(spec.task.subject, context),
                                  text=text, assignee=spec.task.owner,
                                  record_owner=record.owner or ""))
        elif ActionKind.UPDATE_TASK in can:
            actions.append(action(ActionKind.UPDATE_TASK, text=text, target=open_task))
    for field_name, value in spec.set.items():
        actions.append(action(ActionKind.SET_FIELD, field=field_name, value=render(value, context)))
    if spec.move_to and still_there:
        actions.append(action(ActionKind.MOVE_STATUS, value=spec.move_to,
                              expected_status=gate.enters))
    return actions


def _still_open(violation: OpenViolation | None, *kinds: ActionKind) -> str | None:
    """The remote id (or `ledger:` reference) of the latest item of these kinds the open
    violation wrote; an update's remote id is the item it updated."""
    if violation is None:
        return None
    wanted = {kind.value for kind in kinds}
    found = [remote for _, kind, remote in violation.written if kind in wanted and remote]
    return found[-1] if found else None


def plan_resolution(record: Record, gate: Gate, transition_key: str,
                    open_violation: OpenViolation, capabilities: Capabilities) -> list[Action]:
    """Answer what the open violation wrote, once per resolving entry: its task is closed, its
    comment answered the way the tool allows (a reply, the note removed, or left as it is)."""
    if not gate.on_pass.resolve or gate.observed:  # a shadow gate opened nothing to answer
        return []
    note = render(gate.on_pass.note, {**record_context(record), "gate": gate.id, "enters": gate.enters}) if gate.on_pass.note else ""
    answers = {ActionKind.TASK.value: ActionKind.CLOSE_TASK,
               ActionKind.UPDATE_TASK.value: ActionKind.CLOSE_TASK,
               ActionKind.COMMENT.value: capabilities.comment_resolution,
               ActionKind.UPDATE_COMMENT.value: capabilities.comment_resolution}
    actions = []
    for _, written_kind, remote_id in open_violation.written:
        kind = answers.get(written_kind)
        if kind is None or kind not in capabilities.writes:
            continue
        text = note or "Resolved." if kind is ActionKind.REPLY else note
        actions.append(Action(
            key=stable_key(record.source, record.id, gate.id, transition_key, "resolve", remote_id),
            kind=kind, source=record.source, record_id=record.id, gate_id=gate.id,
            text=visible(text), target=remote_id))
    return actions


def _shown(fields: dict[str, Any]) -> dict[str, Any]:
    """What Baton writes for people to read shows its invisible characters (core.text)."""
    for name in ("text", "subject"):
        if name in fields:
            fields[name] = visible(fields[name])
    return fields


def describe(actions: Sequence[Action]) -> list[str]:
    """One line per action, for --dry-run and the demo."""
    return [f"{a.source} {a.record_id} [{a.gate_id}] {_label(a.kind)}: {_detail(a)}" for a in actions]


_ANSWERS = {ActionKind.CLOSE_TASK: "close task", ActionKind.REMOVE_NOTE: "close comment",
            ActionKind.REPLY: "close comment"}


def _label(kind: ActionKind) -> str:
    return "resolve" if kind in _ANSWERS else kind.value


def _detail(a: Action) -> str:
    if a.kind is ActionKind.COMMENT:
        return a.text.splitlines()[0] if a.text else ""
    if a.kind is ActionKind.TASK:
        return f"{a.subject!r} for {a.assignee or 'owner'}"
    if a.kind in _ANSWERS:
        return f"{_ANSWERS[a.kind]} {a.target}"
    if a.kind is ActionKind.SET_FIELD:
        return f"{a.field} = {a.value!r}"
    if a.kind is ActionKind.NOTIFY:
        return f"webhook {a.webhook_env or ''}"
    if a.kind in (ActionKind.UPDATE_TASK, ActionKind.UPDATE_COMMENT):
        return f"{a.target}: {a.text.splitlines()[0] if a.text else ''}"
    if a.kind is ActionKind.DIGEST:
        return f"{a.subject!r} for {a.record_owner}"
    if a.kind is ActionKind.DIGEST_ITEM:
        return f"listed in the digest {a.target}"
    return f"to {a.value if a.kind is ActionKind.MOVE_STATUS else str(a.assignee)!r}"
