"""The task a failed gate or an SLA step opens (Salesforce Task, Asana subtask)."""
from __future__ import annotations

from dataclasses import dataclass

from baton.core.owners import OwnerKind, OwnerRef

DEFAULT_TASK_SUBJECT = "Handoff blocked: {name}"
DEFAULT_TASK_BODY = "{name} can't move to {enters} yet. Please fix:\n{failures}\n\n{url}"


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A task (Salesforce Task, Asana subtask) to open when a gate fails; texts are templates."""

    subject: str = DEFAULT_TASK_SUBJECT
    body: str = DEFAULT_TASK_BODY
    owner: OwnerRef = OwnerRef(OwnerKind.OWNER)
