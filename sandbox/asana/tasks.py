"""Routes: tasks and subtasks (list, read, create, update), and the task writes they share."""
from __future__ import annotations

from typing import Any

from baton.sandbox.server import Request, Response, route

from .api import AsanaApi
from .model import API, ApiError, CustomField, Task, parse_iso
from .wire import opt_fields, project_fields, strip_html


class TaskRoutes(AsanaApi):
    @route("GET", API + r"/tasks", name="get_tasks")
    def get_tasks(self, request: Request) -> Response:
        project_gid, section_gid = request.arg("project"), request.arg("section")
        if not project_gid and not section_gid and not request.arg("assignee"):
            raise ApiError(400, "Must specify exactly one of project, tag, section, "
                                "user task list, or assignee + workspace")
        since = request.arg("modified_since")
        completed_since = request.arg("completed_since")
        try:
            since_at = parse_iso(since) if since else None
            completed_at = (self.clock.now() if completed_since == "now" else
                            parse_iso(completed_since) if completed_since else None)
        except ValueError:
            raise ApiError(400, "modified_since: Not a valid date-time") from None
        if project_gid:
            self._project(project_gid)
        items = []
        for task in self.tasks.values():
            if task.deleted:
                continue
            if project_gid and project_gid not in task.memberships:
                continue
            if section_gid and section_gid not in task.memberships.values():
                continue
            if since_at and task.modified_at < since_at:
                continue
            if completed_at and task.completed and task.completed_at and \
                    task.completed_at < completed_at:
                continue
            items.append(task)
        return self._page(items, request, ("name", "resource_subtype"), self._render_task)

    @route("GET", API + r"/tasks/(?P<gid>\d+)", name="get_task")
    def get_task(self, request: Request) -> Response:
        return self._ok(self._render_task(self._task(request.params["gid"])), request)

    @route("PUT", API + r"/tasks/(?P<gid>\d+)", name="update_task")
    def update_task(self, request: Request) -> Response:
        task = self._task(request.params["gid"])
        data = self._body(request)
        self._apply_task_data(task, data, self._me(request))
        return self._ok(self._render_task(task), request)

    @route("POST", API + r"/tasks", name="create_task")
    def post_task(self, request: Request) -> Response:
        data = self._body(request)
        me = self._me(request)
        memberships: dict[str, str | None] = {}
        for project_gid in data.get("projects") or []:
            project = self._project(project_gid)
            memberships[project.gid] = project.sections[0] if project.sections else None
        for membership in data.get("memberships") or []:
            memberships[membership["project"]] = membership.get("section")
        if not memberships and not data.get("workspace") and not data.get("parent"):
            raise ApiError(400, "workspace: Missing input")
        if not data.get("name"):
            raise ApiError(400, "name: Missing input")
        task = self._new_task(data["name"], memberships=memberships)
        self._apply_task_data(task, {k: v for k, v in data.items() if k != "name"}, me,
                              quiet=True)
        self._emit_task(task, me, "added", parent=(
            self._compact_project(self.projects[next(iter(memberships))]) if memberships else None))
        return Response(201, {"data": project_fields(self._render_task(task), opt_fields(request))})

    @route("POST", API + r"/tasks/(?P<gid>\d+)/subtasks", name="create_subtask_for_task")
    def post_subtask(self, request: Request) -> Response:
        parent = self._task(request.params["gid"])
        data = self._body(request)
        if not data.get("name"):
            raise ApiError(400, "name: Missing input")
        me = self._me(request)
        subtask = self._new_task(data["name"], parent=parent.gid)
        parent.subtasks.append(subtask.gid)
        self._apply_task_data(subtask, {k: v for k, v in data.items() if k != "name"}, me,
                              quiet=True)
        self._emit_task(subtask, me, "added", parent=self._compact_task(parent))
        return Response(201, {"data": project_fields(self._render_task(subtask),
                                                     opt_fields(request))})

    @route("GET", API + r"/tasks/(?P<gid>\d+)/subtasks", name="get_subtasks_for_task")
    def get_subtasks(self, request: Request) -> Response:
        parent = self._task(request.params["gid"])
        items = [self._render_task(self.tasks[g]) for g in parent.subtasks
                 if not self.tasks[g].deleted]
        return self._page(items, request, ("name", "resource_subtype"))

    # --- writes shared by POST /tasks, POST subtasks and PUT /tasks ----------------------------

    def _apply_task_data(self, task: Task, data: dict[str, Any], actor: str,
                         quiet: bool = False) -> None:
        """Apply writable task properties; `quiet` writes no stories (a new task has none)."""
        for key, value in data.items():
            if key == "name":
                self._rename(task, value, actor)
            elif key in ("notes", "html_notes"):
                task.notes = strip_html(value) if key == "html_notes" else value
                self._touch(task)
            elif key == "assignee":
                user = actor if value == "me" else self._user_ref(value)
                if quiet:
                    task.assignee = user
                else:
                    self._assign(task, user, actor)
            elif key == "completed":
                if quiet:
                    task.completed = bool(value)
                else:
                    self._complete(task, bool(value), actor)
            elif key == "due_on":
                task.due_on = value
                self._touch(task)
            elif key == "custom_fields":
                if not isinstance(value, dict):
                    raise ApiError(400, "custom_fields: Must be an object")
                for cf_gid, cf_value in value.items():
                    cf = self.custom_fields.get(cf_gid)
                    if cf is None or not self._field_applies(task, cf_gid):
                        raise ApiError(400, f"custom_fields: Custom field with ID {cf_gid} is "
                                            "not on given object")
                    raw = self._wire_to_raw(cf, cf_value)
                    if quiet:
                        if raw not in (None, "", []):
                            task.values[cf.gid] = raw
                    else:
                        self._set_value(task, cf, raw, actor)
            elif key in ("projects", "memberships", "workspace", "parent", "followers", "tags"):
                continue  # create-only properties handled by the caller, or not emulated
            else:
                raise ApiError(400, f"{key}: Unknown property or not writable")
        if quiet:
            self._touch(task)

    def _field_applies(self, task: Task, cf_gid: str) -> bool:
        projects = task.memberships or (self.tasks[task.parent].memberships if task.parent else {})
        return any(cf_gid in self.projects[p].custom_fields for p in projects)

    def _wire_to_raw(self, cf: CustomField, value: Any) -> Any:
        """A value as the API accepts it in `custom_fields` -> the stored raw value."""
        if value is None:
            return None
        if cf.type == "enum":
            if cf.option_by_gid(str(value)) is None:
                raise ApiError(400, f"custom_fields: enum option {value} is not an option of "
                                    f"{cf.name}")
            return str(value)
        if cf.type == "multi_enum":
            values = value if isinstance(value, list) else [value]
            for option in values:
                if cf.option_by_gid(str(option)) is None:
                    raise ApiError(400, f"custom_fields: enum option {option} is not an option "
                                        f"of {cf.name}")
            return [str(v) for v in values]
        if cf.type == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise ApiError(400, f"custom_fields: {cf.name} expects a number") from None
            return value
        if cf.type == "text":
            if not isinstance(value, str):
                raise ApiError(400, f"custom_fields: {cf.name} expects a string")
            if len(value) > 1024:
                raise ApiError(400, f"custom_fields: {cf.name} is longer than 1024 characters")
            return value
        if cf.type == "date":
            if isinstance(value, dict):
                return {"date": value.get("date"), "date_time": value.get("date_time")}
            return {"date": str(value), "date_time": None}
        if cf.type == "people":
            return [self._user_ref(v) for v in (value if isinstance(value, list) else [value])]
        return value
