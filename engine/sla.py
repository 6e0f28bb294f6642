"""SLA timers: started by a transition, met by a later one, escalated once per step when late.

Outcomes never depend on poll timing: a step that fell due before the timer closed fires even
when the closing was seen only later (`catch_up`), marked late and without reassignment.

Timers are measured from the true transition time (history), and checked on every cycle, also
when nothing changed, so a breach is noticed while the record sits still. Each escalation step
becomes a ledger action keyed by (timer, step): written once, across restarts.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import structlog

from baton.core.actions import Action, ActionKind
from baton.core.keys import stable_key
from baton.core.records import Record, Transition
from baton.core.text import visible
from baton.rules import render
from baton.rules.business_hours import add_time
from baton.rules.sla import EscalationStep, SlaRule
from baton.rules.templates import record_context
from baton.store.models import SlaTimer

log = structlog.get_logger()


def start_and_meet(slas: Sequence[SlaRule], transitions: Sequence[Transition],
                   open_timers: Sequence[SlaTimer], failed: set[tuple[str, str]]) -> list[SlaTimer]:
    """Timers changed by this cycle's transitions, in time order (a hop can start and meet one).

    `failed` holds (transition key, gate id) of gates that failed on entry: an SLA with
    `after_gate` does not start for those. Every entry is gated, also a hop the record already
    left between two polls (engine.entries), so the timer starts on the same entries the gate
    passed, whatever the poll timing.
    """
    by_record: dict[str, list[SlaTimer]] = {}
    for timer in open_timers:
        by_record.setdefault(timer.record_id, []).append(timer)
    rules = {s.id: s for s in slas}
    changed: dict[str, SlaTimer] = {}
    for t in sorted(transitions, key=lambda t: t.at):
        for timer in list(by_record.get(t.record_id, [])):
            rule = rules.get(timer.sla_id)
            if rule is None or t.at < timer.started_at:
                continue
            if t.to_status in rule.reach or (rule.or_leave and t.to_status != rule.starts):
                closed = replace(timer, met_at=t.at, closed_at=t.at,
                                 breached=timer.breached or t.at > timer.deadline)
                changed[timer.key] = closed
                by_record[t.record_id].remove(timer)
            elif t.to_status != rule.starts and rule.cancel_on_leave:
                changed[timer.key] = replace(timer, closed_at=t.at)
                by_record[t.record_id].remove(timer)
        for rule in slas:
            if rule.source != t.source or rule.starts != t.to_status:
                continue
            if rule.after_gate and (t.key, rule.after_gate) in failed:
                continue
            timer = SlaTimer(stable_key(rule.id, t.key), t.source, t.record_id, rule.id, t.key,
                             t.at, add_time(t.at, rule.within, rule.calendar))
            changed[timer.key] = timer
            by_record.setdefault(t.record_id, []).append(timer)
    return list(changed.values())


def escalate(slas: Sequence[SlaRule], timers: Sequence[SlaTimer], records: Mapping[str, Record],
             now: datetime) -> tuple[list[SlaTimer], list[tuple[Action, str]]]:
    """Fire every escalation step that is due on an open timer, each exactly once."""
    rules = {s.id: s for s in slas}
    changed, actions = [], []
    for timer in timers:
        rule = rules.get(timer.sla_id)
        if rule is None or timer.closed_at is not None:
            continue
        fired = timer.steps_fired
        for index, step in enumerate(rule.steps[fired:], start=fired):
            if add_time(timer.started_at, step.after, rule.calendar) > now:
                break
            record = records.get(timer.record_id)
            if record is not None:
                actions += [(a, timer.transition_key) for a in _step_actions(rule, step, index, timer, record)]
            fired = index + 1
            log.warning("sla.breach", sla=rule.id, source=timer.source, record=timer.record_id,
                        step=index + 1, deadline=timer.deadline.isoformat())
        breached = timer.breached or now > timer.deadline
        if fired != timer.steps_fired or breached != timer.breached:
            changed.append(replace(timer, steps_fired=fired, breached=breached))
    return changed, actions


def catch_up(slas: Sequence[SlaRule], timers: Sequence[SlaTimer], records: Mapping[str, Record]
             ) -> tuple[list[SlaTimer], list[tuple[Action, str]]]:
    """Timers closed this cycle (met, or left) fire the steps that fell due before they closed
    and no poll saw: a breach does not depend on when Baton looked (a contact at 5:01 against a
    5-minute SLA, seen at the next poll or after a restart, still escalates). Those steps are
    marked late in their text; a reassignment is left out, the record having moved on."""
    rules = {s.id: s for s in slas}
    changed, actions = [], []
    for timer in timers:
        rule = rules.get(timer.sla_id)
        closed = timer.closed_at
        if rule is None or closed is None:
            continue
        fired = timer.steps_fired
        for index, step in enumerate(rule.steps[fired:], start=fired):
            due = add_time(timer.started_at, step.after, rule.calendar)
            if due >= closed:
                break
            record = records.get(timer.record_id)
            if record is not None:
                actions += [(a, timer.transition_key)
                            for a in _step_actions(rule, step, index, timer, record, late=due)]
            fired = index + 1
            log.warning("sla.breach", sla=rule.id, source=timer.source, record=timer.record_id,
                        step=index + 1, deadline=timer.deadline.isoformat(), late=True)
        breached = timer.breached or closed > timer.deadline
        if fired != timer.steps_fired or breached != timer.breached:
            changed.append(replace(timer, steps_fired=fired, breached=breached))
    return changed, actions


def _late_note(timer: SlaTimer, due: datetime) -> str:
    closed = timer.closed_at or due
    what = "reached the SLA's target" if timer.met_at is not None else "left the status"
    return (f"(Late: this step was due at {due:%Y-%m-%d %H:%M:%S} UTC; the record {what} at "
            f"{closed:%Y-%m-%d %H:%M:%S} UTC, before Baton's next poll saw the breach.)")


def _step_actions(rule: SlaRule, step: EscalationStep, index: int, timer: SlaTimer,
                  record: Record, late: datetime | None = None) -> list[Action]:
    """The step's write-backs; `late` (when it was due) marks a step fired after the timer
    closed: its texts say so and it reassigns nobody."""
    context = {**record_context(record), "sla": rule.id, "deadline": timer.deadline.isoformat(),
               "started": timer.started_at.isoformat(), "step": index + 1}
    note = "" if late is None else _late_note(timer, late)

    def marked(text: str) -> str:
        return f"{text}\n{note}" if note else text

    def action(kind: ActionKind, text: str = "", subject: str = "", **fields: Any) -> Action:
        return Action(key=stable_key(timer.key, index, kind.value), kind=kind, source=timer.source,
                      record_id=timer.record_id, gate_id=f"sla:{rule.id}", text=visible(text),
                      subject=visible(subject), **fields)

    out = []
    if step.comment:
        out.append(action(ActionKind.COMMENT, text=marked(render(step.comment, context))))
    if step.task:
        out.append(action(ActionKind.TASK, subject=render(step.task.subject, context),
                          text=marked(render(step.task.body, context)), assignee=step.task.owner,
                          record_owner=record.owner or ""))
    if step.reassign and late is None:
        out.append(action(ActionKind.REASSIGN, assignee=step.reassign,
                          record_owner=record.owner or ""))
    if step.notify:
        out.append(action(ActionKind.NOTIFY, text=marked(render(step.notify_text, context)),
                          webhook_env=step.notify))
    return out


