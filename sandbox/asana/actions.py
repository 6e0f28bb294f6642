"""What people do in Asana (the Python methods tests and the scripted demo call) and the
mutations shared with HTTP writes, which write stories and events the same way either way."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .model import CustomField, Task, iso
from .render import AsanaRendering


class AsanaActions(AsanaRendering):
    # --- "user" actions (tests and the scripted demo) ------------------------------------------

    def create_task(self, project_gid: str, name: str, section_name: str | None = None,
                    custom_fields: dict[str, Any] | None = None, assignee: str | None = None,
                    *, notes: str = "", due_on: str | None = None, by: str | None = None,
                    quiet: bool = False) -> str:
        """Create a task in a project (and section); custom_fields by field NAME and plain value."""
        with self.lock:
            project = self._project(project_gid)
            section = self._section_named(project, section_name) if section_name else (
                project.sections[0] if project.sections else None)
            values = {}
            for field_name, value in (custom_fields or {}).items():
                cf = self._field_named(project, field_name)
                values[cf.gid] = self._plain_to_raw(cf, value)
            task = self._new_task(name, notes=notes, assignee=assignee, due_on=due_on,
                                  memberships={project.gid: section}, values=values)
            if not quiet:
                self._emit_task(task, by or self.default_actor, "added",
                                parent=self._compact_project(project))
            return task.gid

    def move_task(self, task_gid: str, section_name: str, *, by: str | None = None,
                  project_gid: str | None = None) -> None:
        with self.lock:
            task = self._task(task_gid)
            project = self._project(project_gid or next(iter(task.memberships)))
            self._move(task, self._section_named(project, section_name), by or self.default_actor)

    def set_custom_field(self, task_gid: str, field_name: str, value: Any, *,
                         by: str | None = None) -> None:
        """Set a custom field by name to a plain value (option NAME for enums, list for multi)."""
        with self.lock:
            task = self._task(task_gid)
            cf = next((self.custom_fields[g] for p in task.memberships
                       for g in self.projects[p].custom_fields
                       if self.custom_fields[g].name == field_name), None)
            if cf is None:
                raise KeyError(f"no custom field {field_name!r} on task {task_gid}")
            self._set_value(task, cf, self._plain_to_raw(cf, value), by or self.default_actor)

    def rename_task(self, task_gid: str, name: str, *, by: str | None = None) -> None:
        with self.lock:
            self._rename(self._task(task_gid), name, by or self.default_actor)

    def complete_task(self, task_gid: str, completed: bool = True, *, by: str | None = None) -> None:
        with self.lock:
            self._complete(self._task(task_gid), completed, by or self.default_actor)

    def comments(self, task_gid: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(s) for s in self._task(task_gid).stories if s["type"] == "comment"]

    def subtasks(self, task_gid: str) -> list[dict[str, Any]]:
        with self.lock:
            return [self._render_task(self.tasks[g]) for g in self._task(task_gid).subtasks
                    if not self.tasks[g].deleted]

    def section_of(self, task_gid: str, project_gid: str | None = None) -> str | None:
        with self.lock:
            task = self._task(task_gid)
            section = task.memberships.get(project_gid or next(iter(task.memberships)))
            return self.sections[section].name if section else None

    def expire_sync_tokens(self) -> None:
        """Every sync token handed out so far becomes too old (the next use answers 412)."""
        with self.lock:
            self._sync.clear()

    # --- internals: mutations that write stories and events -----------------------------------

    def _new_task(self, name: str, **attrs: Any) -> Task:
        now = self.clock.now()
        task = Task(self.new_gid(), name, created_at=now, modified_at=now, **attrs)
        self.tasks[task.gid] = task
        return task

    def _touch(self, task: Task, at: datetime | None = None) -> None:
        task.modified_at = at or self.clock.now()

    def _story(self, task: Task, actor: str | None, subtype: str, text: str, *,
               kind: str = "system", bump: bool = True, **fields: Any) -> dict[str, Any]:
        now = self.clock.now()  # one change, one time: the story's, its events' and modified_at
        story = {
            "gid": self.new_gid(), "resource_type": "story", "created_at": now,
            "created_by": actor, "type": kind, "resource_subtype": subtype, "text": text,
            "target": task.gid, **fields,
        }
        task.stories.append(story)
        self.stories[story["gid"]] = (task.gid, story)
        if bump:
            self._touch(task, now)
        self._emit(task, {
            "user": self._compact_user(actor), "created_at": iso(now),
            "type": "story", "action": "added",
            "resource": {"gid": story["gid"], "resource_type": "story", "resource_subtype": subtype},
            "parent": self._compact_task(task),
        })
        return story

    def _emit(self, task: Task, event: dict[str, Any]) -> None:
        """Append an event to every project the task (or its top-level parent) belongs to."""
        root = task
        while root.parent and not root.memberships:
            root = self.tasks[root.parent]
        for project_gid in root.memberships:
            self.projects[project_gid].events.append(event)

    def _emit_task(self, task: Task, actor: str | None, action: str, *,
                   parent: dict[str, Any] | None = None, change: dict[str, Any] | None = None,
                   at: datetime | None = None) -> None:
        """A task event; `at` is the time of the change it reports (its story's)."""
        event: dict[str, Any] = {
            "user": self._compact_user(actor), "created_at": iso(at or self.clock.now()),
            "type": "task",
            "action": action, "resource": self._compact_task(task), "parent": parent,
        }
        if change is not None:
            event["change"] = change
        self._emit(task, event)

    def _move(self, task: Task, section_gid: str, actor: str | None) -> None:
        section = self.sections[section_gid]
        old = task.memberships.get(section.project)
        if old == section_gid:
            return
        task.memberships[section.project] = section_gid
        project = self.projects[section.project]
        old_name = self.sections[old].name if old else None
        story = self._story(task, actor, "section_changed",
                            f'moved this task from "{old_name}" to "{section.name}" in {project.name}',
                            bump=self.section_move_bumps_modified_at,
                            old_section=old, new_section=section_gid, project=project.gid)
        at = story["created_at"]
        self._emit_task(task, actor, "added", parent=self._compact_section(section), at=at)
        if old:
            self._emit_task(task, actor, "removed", parent=self._compact_section(self.sections[old]),
                            at=at)

    def _set_value(self, task: Task, cf: CustomField, raw: Any, actor: str | None) -> None:
        old = task.values.get(cf.gid)
        if old == raw:
            return
        if raw is None or raw == [] or raw == "":
            task.values.pop(cf.gid, None)
        else:
            task.values[cf.gid] = raw
        subtype = f"{cf.type}_custom_field_changed"
        fields: dict[str, Any] = {"custom_field": cf.gid}
        if cf.type == "enum":
            fields.update(old_enum_value=old, new_enum_value=raw)
        elif cf.type in ("text", "number"):
            fields.update({f"old_{cf.type}_value": old, f"new_{cf.type}_value": raw})
        elif cf.type == "multi_enum":
            fields.update(old_multi_enum_values=old or [], new_multi_enum_values=raw or [])
        elif cf.type == "date":
            fields.update(old_date_value=old, new_date_value=raw)
        elif cf.type == "people":
            fields.update(old_people_value=old or [], new_people_value=raw or [])
        shown = self._display_value(cf, raw)
        text = f'changed {cf.name} to "{shown}"' if shown else f"cleared {cf.name}"
        story = self._story(task, actor, subtype, text, **fields)
        # the Events API gives the field's compact representation, its new value included
        new_value = {k: v for k, v in self._render_cf(cf, raw).items() if k != "enum_options"}
        self._emit_task(task, actor, "changed", change={
            "field": "custom_fields", "action": "changed", "new_value": new_value},
            at=story["created_at"])

    def _rename(self, task: Task, name: str, actor: str | None) -> None:
        if task.name == name:
            return
        old, task.name = task.name, name
        story = self._story(task, actor, "name_changed", f'changed the name to "{name}"',
                            old_name=old, new_name=name)
        self._emit_task(task, actor, "changed", change={"field": "name", "action": "changed"},
                        at=story["created_at"])

    def _complete(self, task: Task, completed: bool, actor: str | None) -> None:
        if task.completed == completed:
            return
        task.completed = completed
        task.completed_at = self.clock.now() if completed else None
        subtype = "marked_complete" if completed else "marked_incomplete"
        story = self._story(task, actor, subtype,
                            "marked this task complete" if completed else "marked this task incomplete")
        self._emit_task(task, actor, "changed", change={"field": "completed", "action": "changed"},
                        at=story["created_at"])

    def _assign(self, task: Task, assignee: str | None, actor: str | None) -> None:
        if task.assignee == assignee:
            return
        task.assignee = assignee
        if assignee:
            story = self._story(task, actor, "assigned",
                                f"assigned to {self.users[assignee].name}", assignee=assignee)
        else:
            story = self._story(task, actor, "unassigned", "unassigned")
        self._emit_task(task, actor, "changed", change={"field": "assignee", "action": "changed"},
                        at=story["created_at"])
