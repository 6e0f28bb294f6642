"""Writing to one Asana project: Baton's actions as Batch API actions (10 per call), and finding
what an earlier, interrupted process may already have written (markers in comments and subtasks).

A write that fails transiently is reported `retryable=True`; the engine calls `find_written`
before trying again, since a POST that timed out may have landed.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from baton.core.actions import Action, ActionKind, ActionResult
from baton.core.errors import SourceError, TransientError
from baton.core.faults import crashpoint
from baton.core.owners import OwnerKind

from .client import BATCH_SIZE, batch_error
from .fields import BUILTIN_FIELDS, MARKER, MARKER_FIELDS, SUBTASK_FIELDS, encode_value, marker_line
from .project import AsanaProject, chunks

log = structlog.get_logger()

Planned = tuple[Action, dict[str, Any]]
_UPDATES_ITEM = (ActionKind.UPDATE_TASK, ActionKind.UPDATE_COMMENT)


class ProjectWriter:
    """The writing half of `AsanaConnector`."""

    def __init__(self, project: AsanaProject, status: str) -> None:
        self.project = project
        self.status = status  # "section", or the name of the enum custom field
        self.by_section = status == "section"
        self._log = log.bind(source=project.source_id)

    def write_back(self, actions: Sequence[Action]) -> Sequence[ActionResult]:
        results: dict[str, ActionResult] = {}
        planned: list[Planned] = []
        for action in actions:
            try:
                planned.append((action, self._plan(action)))
            except SourceError as error:
                results[action.key] = ActionResult(action.key, False, error=str(error),
                                                   retryable=isinstance(error, TransientError))
        for number, chunk in enumerate(chunks(planned, BATCH_SIZE)):
            if number:
                crashpoint("between_writes")
            for (action, _), result in self._send(chunk):
                if action.kind is ActionKind.CLOSE_TASK and "HTTP 404" in (result.error or ""):
                    # the subtask was deleted: nothing is left open
                    result = ActionResult(action.key, True, remote_id=action.target)
                results[action.key] = result
        written = sum(1 for r in results.values() if r.ok)
        self._log.info("asana.written", actions=len(actions), ok=written)
        return [results[a.key] for a in actions]

    def _send(self, chunk: Sequence[Planned]) -> list[tuple[Planned, ActionResult]]:
        try:
            answers = self.project.batch([request for _, request in chunk], write=True)
        except TransientError as error:
            # the batch may or may not have run: the engine asks find_written before retrying
            return [(item, ActionResult(item[0].key, False, error=str(error), retryable=True))
                    for item in chunk]
        except SourceError as error:
            return [(item, ActionResult(item[0].key, False, error=str(error)))
                    for item in chunk]
        out = []
        for item, answer in zip(chunk, answers):
            action, request = item
            status = answer.get("status_code", 0)
            status = status if isinstance(status, int) else 0
            if 200 <= status < 300:
                body = answer.get("body")
                data = (body.get("data") if isinstance(body, dict) else None) or {}
                gid = data.get("gid") if isinstance(data, dict) else None
                remote = gid or (request.get("data") or {}).get("task") or action.record_id
                if action.kind in _UPDATES_ITEM and action.target:
                    remote = action.target  # what a later repeat or the resolution answers
                out.append((item, ActionResult(action.key, True, remote_id=str(remote))))
            else:
                retryable = status == 429 or status >= 500
                out.append((item, ActionResult(
                    action.key, False, error=f"HTTP {status} {batch_error(answer)}",
                    retryable=retryable)))
        return out

    def _plan(self, action: Action) -> dict[str, Any]:
        """One Batch API action for one Baton action (raises SourceError if it cannot be)."""
        marker = marker_line(action.key)
        task = action.record_id
        if action.kind is ActionKind.COMMENT:
            return {"relative_path": f"/tasks/{task}/stories", "method": "post",
                    "data": {"text": f"{action.text}\n\n{marker}"}}
        if action.kind is ActionKind.TASK:
            data: dict[str, Any] = {"name": action.subject or action.text[:80] or "Baton",
                                    "notes": f"{action.text}\n\n{marker}"}
            assignee = self._assignee(action)
            if assignee:
                data["assignee"] = assignee
            return {"relative_path": f"/tasks/{task}/subtasks", "method": "post", "data": data}
        if action.kind is ActionKind.MOVE_STATUS:
            if self.by_section:
                sections = self.project.sections()
                if str(action.value) not in sections:
                    raise SourceError(f"project {self.project.gid} has no section named "
                                      f"{action.value!r}")
                return {"relative_path": f"/sections/{sections[str(action.value)]}/addTask",
                        "method": "post", "data": {"task": task}}
            return self._put_field(task, self.status, action.value)
        if action.kind is ActionKind.SET_FIELD:
            if not action.field:
                raise SourceError(f"action {action.key}: SET_FIELD without a field")
            return self._put_field(task, action.field, action.value)
        if action.kind is ActionKind.REASSIGN:
            assignee = self._assignee(action)
            if not assignee:
                raise SourceError(f"action {action.key}: no Asana user for {action.assignee!r}")
            return {"relative_path": f"/tasks/{task}", "method": "put", "data": {"assignee": assignee}}
        if action.kind is ActionKind.CLOSE_TASK:
            if not action.target:
                raise SourceError(f"action {action.key}: CLOSE_TASK without the task to close")
            return {"relative_path": f"/tasks/{action.target}", "method": "put",
                    "data": {"completed": True}}
        if action.kind in _UPDATES_ITEM:
            # Asana comments are one thread per task: a repeat failure is a comment on the open
            # subtask (UPDATE_TASK), or on the task whose thread holds the first one
            on = action.target if action.kind is ActionKind.UPDATE_TASK else task
            if not on:
                raise SourceError(f"action {action.key}: {action.kind} without its target")
            return {"relative_path": f"/tasks/{on}/stories", "method": "post",
                    "data": {"text": f"{action.text}\n\n{marker}"}}
        if action.kind is ActionKind.REPLY:
            text = action.text or "Resolved: the earlier Baton check now passes."
            return {"relative_path": f"/tasks/{task}/stories", "method": "post",
                    "data": {"text": f"{text}\n\n{marker}"}}
        raise SourceError(f"action {action.key}: unknown kind {action.kind}")

    def _put_field(self, task: str, name: str, value: Any) -> dict[str, Any]:
        if name in BUILTIN_FIELDS:
            return {"relative_path": f"/tasks/{task}", "method": "put", "data": {name: value}}
        field = self.project.custom_fields().get(name)
        if field is None:
            raise SourceError(f"project {self.project.gid} has no custom field named {name!r}")
        return {"relative_path": f"/tasks/{task}", "method": "put",
                "data": {"custom_fields": {field["gid"]: encode_value(field, value)}}}

    def _assignee(self, action: Action) -> str | None:
        """The record's assignee (as the planner saw it), or a named user (Asana takes a gid or
        an email)."""
        reference = action.assignee
        if reference is None or reference.kind is OwnerKind.OWNER:
            if action.record_owner is None:  # planned by an older build: ask the task
                task = self.project.workspace.get_task(action.record_id, "assignee",
                                                       self.project.calls)
                assignee = task.get("assignee")
                return assignee.get("gid") if isinstance(assignee, dict) else None
            return action.record_owner or None
        if reference.kind is OwnerKind.USER and reference.value:
            return reference.value
        raise SourceError(f"action {action.key}: Asana cannot assign to {reference} "
                          "(no queues or managers; name a user)")

    def find_written(self, actions: Sequence[Action]) -> Mapping[str, str]:
        """Markers in the tasks' comments (comments, resolve notes) and subtasks (tasks)."""
        keys = {a.key for a in actions}
        # where each update's comment went, and what it reports as written (its target)
        on = {a.key: (a.target if a.kind is ActionKind.UPDATE_TASK else a.record_id)
              for a in actions if a.kind in _UPDATES_ITEM and a.target}
        targets = {a.key: a.target for a in actions if a.key in on and a.target}
        comment_tasks = sorted({a.record_id for a in actions
                                if a.kind in (ActionKind.COMMENT, ActionKind.REPLY)} | set(on.values()))
        subtask_tasks = sorted({a.record_id for a in actions if a.kind is ActionKind.TASK})
        found: dict[str, str] = {}
        for stories in self.project.read_lists(comment_tasks, "stories", MARKER_FIELDS).values():
            for story in stories:
                if story.get("type") == "comment" or story.get("resource_subtype") == "comment_added":
                    for key in MARKER.findall(str(story.get("text") or "")):
                        if key in keys and story.get("gid"):
                            found.setdefault(key, targets.get(key) or str(story["gid"]))
        for subtasks in self.project.read_lists(subtask_tasks, "subtasks", SUBTASK_FIELDS).values():
            for subtask in subtasks:
                for key in MARKER.findall(str(subtask.get("notes") or "")):
                    if key in keys and subtask.get("gid"):
                        found.setdefault(key, str(subtask["gid"]))
        return found
