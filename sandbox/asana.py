"""An emulated Asana REST API (/api/1.0) that the official asana SDK cannot tell from the real one.

Wire format follows the official OpenAPI spec (shared/reference/asana_oas.no-code-samples.yaml):
`{"data": ...}` envelopes, `limit`/`offset` paging with `next_page` (only when `limit` is sent),
`opt_fields` projection (dotted sub-fields; `gid` and `resource_type` always present), 16-digit
numeric-string gids, `{"errors": [{"message", "help"}]}` with real statuses, the Events API's
412-with-`sync` dance, and `POST /batch` (at most 10 actions, each counted by the rate limiter).

Decisions where the real API is ambiguous (documented so the connector does not rely on them):
- Moving a task to another section writes a `section_changed` story but does NOT bump the task's
  `modified_at` (the spec: modified_at does not change on "moving to a new container").
  `section_move_bumps_modified_at = True` flips this for tests of the other reading.
- A section move emits a task event `action: "added"` whose `parent` is the new section, then a
  story-added event. Which event live Asana emits is UNCONFIRMED; the connector treats any task
  event as "re-read this task".
- Stories are listed oldest first; the connector sorts by `created_at` anyway.

Test and demo "users" act through Python methods (`move_task`, `set_custom_field`, ...), which go
through the same code paths as HTTP writes, so stories and events look the same either way.
"""
from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from baton.sandbox.clock import SandboxClock
from baton.sandbox.server import Emulator, Request, Response, route

API = "/api/1.0"
SANDBOX_TOKEN = "2/1209000000000002/1209000000000003:5a4b0c7e1f2d3e4f5a6b7c8d9e0f1a2b"
BOT_USER_GID = "1209000000000002"
WORKSPACE_GID = "1209000000000001"
SYNC_TOKEN_LIFETIME = timedelta(hours=24)
SANDBOX_REFRESH_TOKEN = "1/1209000000000003:sandbox-refresh-token"  # OAuth refresh (Singer's tap)
EVENTS_PER_CALL = 100
MAX_BATCH_ACTIONS = 10
MAX_UNPAGED_RESULTS = 1000

SYNC_EXPIRED_MESSAGE = (
    "Sync token invalid or too old. If you are attempting to keep resources in sync, you must "
    "fetch the full dataset for this query now and use the new sync token for the next sync."
)


def iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ApiError(Exception):
    """Raised inside handlers; becomes an `{"errors": [...]}` response."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


_HELP = ("For more information on API status codes and how to handle them, read the docs on "
         "errors: https://developers.asana.com/docs/errors")


def error_body(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "help": _HELP}]}


# --- state ---------------------------------------------------------------------------------------

@dataclass
class User:
    gid: str
    name: str
    email: str


@dataclass
class CustomField:
    gid: str
    name: str
    type: str  # text | number | enum | multi_enum | date | people
    options: list[dict[str, Any]] = field(default_factory=list)  # enum options
    precision: int = 0

    def option_by_name(self, name: str) -> dict[str, Any] | None:
        return next((o for o in self.options if o["name"] == name), None)

    def option_by_gid(self, gid: str) -> dict[str, Any] | None:
        return next((o for o in self.options if o["gid"] == gid), None)


@dataclass
class Section:
    gid: str
    name: str
    project: str


@dataclass
class Project:
    gid: str
    name: str
    sections: list[str] = field(default_factory=list)
    custom_fields: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    created_at: datetime | None = None


@dataclass
class Task:
    gid: str
    name: str
    created_at: datetime
    modified_at: datetime
    notes: str = ""
    assignee: str | None = None
    completed: bool = False
    completed_at: datetime | None = None
    due_on: str | None = None
    parent: str | None = None
    memberships: dict[str, str | None] = field(default_factory=dict)  # project gid -> section gid
    values: dict[str, Any] = field(default_factory=dict)  # cf gid -> raw value
    subtasks: list[str] = field(default_factory=list)
    stories: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False


@dataclass
class SyncToken:
    project: str
    position: int
    created_at: datetime


class AsanaEmulator(Emulator):
    tool = "asana"

    def __init__(self, clock: SandboxClock | None = None, *, domain: str = "app.asana.com") -> None:
        super().__init__()
        self.clock = clock or SandboxClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
        self.domain = domain
        self.section_move_bumps_modified_at = False
        self.rate_limit_per_minute: int | None = None  # None: no emulated per-minute limit
        self.action_calls: Counter[str] = Counter()  # batch actions by route name
        self._gids = itertools.count(1209100000000000)
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}  # token -> user gid
        self.projects: dict[str, Project] = {}
        self.sections: dict[str, Section] = {}
        self.custom_fields: dict[str, CustomField] = {}
        self.tasks: dict[str, Task] = {}
        self.stories: dict[str, tuple[str, dict[str, Any]]] = {}  # story gid -> (task gid, story)
        self._sync: dict[str, SyncToken] = {}
        self._bucket: tuple[float, datetime] | None = None  # (tokens, when), per-minute limit
        self.workspace = {"gid": WORKSPACE_GID, "resource_type": "workspace", "name": "Acme Marketing"}
        self.default_actor: str | None = None  # who the Python-side "user" methods act as
        self.add_user("Baton Bot", "baton-bot@acme.example", gid=BOT_USER_GID, token=SANDBOX_TOKEN)

    # --- building state (seed, tests) ---------------------------------------------------------

    def new_gid(self) -> str:
        return str(next(self._gids))

    def add_user(self, name: str, email: str, *, gid: str | None = None,
                 token: str | None = None) -> str:
        with self.lock:
            user = User(gid or self.new_gid(), name, email)
            self.users[user.gid] = user
            if token:
                self.tokens[token] = user.gid
            if self.default_actor is None and user.gid != BOT_USER_GID:
                self.default_actor = user.gid
            return user.gid

    def add_custom_field(self, name: str, type_: str, options: list[str] = (), *,  # type: ignore[assignment]
                         precision: int = 0) -> str:
        colors = itertools.cycle(["green", "blue", "orange", "purple", "red", "yellow-green"])
        with self.lock:
            cf = CustomField(self.new_gid(), name, type_, precision=precision)
            cf.options = [
                {"gid": self.new_gid(), "resource_type": "enum_option", "name": option,
                 "enabled": True, "color": next(colors)}
                for option in options
            ]
            self.custom_fields[cf.gid] = cf
            return cf.gid

    def add_project(self, name: str, sections: list[str], custom_fields: list[str] = (),  # type: ignore[assignment]
                    *, gid: str | None = None) -> str:
        with self.lock:
            project = Project(gid or self.new_gid(), name, created_at=self.clock.now())
            self.projects[project.gid] = project
            for section_name in sections:
                section = Section(self.new_gid(), section_name, project.gid)
                self.sections[section.gid] = section
                project.sections.append(section.gid)
            project.custom_fields = list(custom_fields)
            return project.gid

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

    def _touch(self, task: Task) -> None:
        task.modified_at = self.clock.now()

    def _story(self, task: Task, actor: str | None, subtype: str, text: str, *,
               kind: str = "system", bump: bool = True, **fields: Any) -> dict[str, Any]:
        story = {
            "gid": self.new_gid(), "resource_type": "story", "created_at": self.clock.now(),
            "created_by": actor, "type": kind, "resource_subtype": subtype, "text": text,
            "target": task.gid, **fields,
        }
        task.stories.append(story)
        self.stories[story["gid"]] = (task.gid, story)
        if bump:
            self._touch(task)
        self._emit(task, {
            "user": self._compact_user(actor), "created_at": iso(self.clock.now()),
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
                   parent: dict[str, Any] | None = None, change: dict[str, Any] | None = None) -> None:
        event: dict[str, Any] = {
            "user": self._compact_user(actor), "created_at": iso(self.clock.now()), "type": "task",
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
        self._story(task, actor, "section_changed",
                    f'moved this task from "{old_name}" to "{section.name}" in {project.name}',
                    bump=self.section_move_bumps_modified_at,
                    old_section=old, new_section=section_gid, project=project.gid)
        self._emit_task(task, actor, "added", parent=self._compact_section(section))
        if old:
            self._emit_task(task, actor, "removed", parent=self._compact_section(self.sections[old]))

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
        self._story(task, actor, subtype, text, **fields)
        self._emit_task(task, actor, "changed", change={
            "field": "custom_fields", "action": "changed",
            "new_value": {"gid": cf.gid, "resource_type": "custom_field",
                          "resource_subtype": cf.type, "name": cf.name},
        })

    def _rename(self, task: Task, name: str, actor: str | None) -> None:
        if task.name == name:
            return
        old, task.name = task.name, name
        self._story(task, actor, "name_changed", f'changed the name to "{name}"',
                    old_name=old, new_name=name)
        self._emit_task(task, actor, "changed", change={"field": "name", "action": "changed"})

    def _complete(self, task: Task, completed: bool, actor: str | None) -> None:
        if task.completed == completed:
            return
        task.completed = completed
        task.completed_at = self.clock.now() if completed else None
        subtype = "marked_complete" if completed else "marked_incomplete"
        self._story(task, actor, subtype,
                    "marked this task complete" if completed else "marked this task incomplete")
        self._emit_task(task, actor, "changed", change={"field": "completed", "action": "changed"})

    def _assign(self, task: Task, assignee: str | None, actor: str | None) -> None:
        if task.assignee == assignee:
            return
        task.assignee = assignee
        if assignee:
            self._story(task, actor, "assigned",
                        f"assigned to {self.users[assignee].name}", assignee=assignee)
        else:
            self._story(task, actor, "unassigned", "unassigned")
        self._emit_task(task, actor, "changed", change={"field": "assignee", "action": "changed"})

    # --- lookups ------------------------------------------------------------------------------

    def _project(self, gid: str) -> Project:
        project = self.projects.get(gid)
        if project is None:
            raise ApiError(404, f"project: Unknown object: {gid}")
        return project

    def _task(self, gid: str) -> Task:
        task = self.tasks.get(gid)
        if task is None or task.deleted:
            raise ApiError(404, f"task: Unknown object: {gid}")
        return task

    def _section_named(self, project: Project, name: str) -> str:
        for gid in project.sections:
            if self.sections[gid].name == name:
                return gid
        raise KeyError(f"no section {name!r} in project {project.name!r}")

    def _field_named(self, project: Project, name: str) -> CustomField:
        for gid in project.custom_fields:
            if self.custom_fields[gid].name == name:
                return self.custom_fields[gid]
        raise KeyError(f"no custom field {name!r} in project {project.name!r}")

    def _user_ref(self, ref: str | None) -> str | None:
        """A user from a gid, an email, or "me" (as the API accepts); None stays None."""
        if ref is None:
            return None
        if ref in self.users:
            return ref
        for user in self.users.values():
            if user.email.lower() == str(ref).lower():
                return user.gid
        raise ApiError(400, f"assignee: Not a recognized ID: {ref}")

    def _plain_to_raw(self, cf: CustomField, value: Any) -> Any:
        """A plain Python value (option names, user gids/emails) -> the stored raw value."""
        if value is None:
            return None
        if cf.type == "enum":
            option = cf.option_by_name(value)
            if option is None:
                raise KeyError(f"{cf.name}: no option {value!r}")
            return option["gid"]
        if cf.type == "multi_enum":
            return [self._plain_to_raw(CustomField(cf.gid, cf.name, "enum", cf.options), v)
                    for v in value]
        if cf.type == "date":
            return {"date": str(value), "date_time": None}
        if cf.type == "people":
            return [self._user_ref(v) for v in value]
        return value

    # --- rendering ----------------------------------------------------------------------------

    def _compact_user(self, gid: str | None) -> dict[str, Any] | None:
        if gid is None:
            return None
        return {"gid": gid, "resource_type": "user", "name": self.users[gid].name}

    def _compact_task(self, task: Task) -> dict[str, Any]:
        return {"gid": task.gid, "resource_type": "task", "name": task.name,
                "resource_subtype": "default_task"}

    def _compact_project(self, project: Project) -> dict[str, Any]:
        return {"gid": project.gid, "resource_type": "project", "name": project.name}

    def _compact_section(self, section: Section) -> dict[str, Any]:
        return {"gid": section.gid, "resource_type": "section", "name": section.name}

    def _permalink(self, task: Task) -> str:
        project = next(iter(task.memberships), "0")
        return f"https://{self.domain}/1/{WORKSPACE_GID}/project/{project}/task/{task.gid}"

    def _display_value(self, cf: CustomField, raw: Any) -> str | None:
        if raw is None or raw == [] or raw == "":
            return None
        if cf.type == "enum":
            option = cf.option_by_gid(raw)
            return option["name"] if option else None
        if cf.type == "multi_enum":
            return ", ".join(cf.option_by_gid(g)["name"] for g in raw if cf.option_by_gid(g))
        if cf.type == "date":
            return raw.get("date_time") or raw.get("date")
        if cf.type == "people":
            return ", ".join(self.users[g].name for g in raw)
        if cf.type == "number":
            return f"{raw:.{cf.precision}f}"
        return str(raw)

    def _render_cf(self, cf: CustomField, raw: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "gid": cf.gid, "resource_type": "custom_field", "name": cf.name, "type": cf.type,
            "resource_subtype": cf.type, "enabled": True,
            "display_value": self._display_value(cf, raw),
        }
        if cf.type == "text":
            out["text_value"] = raw
        elif cf.type == "number":
            out["number_value"] = raw
            out["precision"] = cf.precision
        elif cf.type == "enum":
            out["enum_options"] = cf.options
            out["enum_value"] = cf.option_by_gid(raw) if raw else None
        elif cf.type == "multi_enum":
            out["enum_options"] = cf.options
            out["multi_enum_values"] = [cf.option_by_gid(g) for g in raw or []]
        elif cf.type == "date":
            out["date_value"] = raw
        elif cf.type == "people":
            out["people_value"] = [self._compact_user(g) for g in raw or []]
        return out

    def _render_task(self, task: Task) -> dict[str, Any]:
        fields: list[str] = []
        for project_gid in task.memberships or (
                self.tasks[task.parent].memberships if task.parent else {}):
            for cf_gid in self.projects[project_gid].custom_fields:
                if cf_gid not in fields:
                    fields.append(cf_gid)
        return {
            "gid": task.gid, "resource_type": "task", "resource_subtype": "default_task",
            "name": task.name, "notes": task.notes, "completed": task.completed,
            "completed_at": iso(task.completed_at), "created_at": iso(task.created_at),
            "modified_at": iso(task.modified_at), "due_on": task.due_on, "due_at": None,
            "start_on": None, "assignee": self._compact_user(task.assignee),
            "parent": self._compact_task(self.tasks[task.parent]) if task.parent else None,
            "projects": [self._compact_project(self.projects[p]) for p in task.memberships],
            "memberships": [
                {"project": self._compact_project(self.projects[p]),
                 "section": self._compact_section(self.sections[s]) if s else None}
                for p, s in task.memberships.items()
            ],
            "custom_fields": [self._render_cf(self.custom_fields[g], task.values.get(g))
                              for g in fields],
            "num_subtasks": len([g for g in task.subtasks if not self.tasks[g].deleted]),
            "permalink_url": self._permalink(task),
            "workspace": self.workspace, "tags": [], "followers": [],
        }

    def _render_story(self, story: dict[str, Any]) -> dict[str, Any]:
        out = dict(story)
        out["created_at"] = iso(story["created_at"])
        out["created_by"] = self._compact_user(story["created_by"])
        out["target"] = self._compact_task(self.tasks[story["target"]])
        for key in ("old_section", "new_section"):
            if key in story:
                out[key] = self._compact_section(self.sections[story[key]]) if story[key] else None
        if "project" in story:
            out["project"] = self._compact_project(self.projects[story["project"]])
        if "custom_field" in story:
            cf = self.custom_fields[story["custom_field"]]
            out["custom_field"] = {"gid": cf.gid, "resource_type": "custom_field",
                                   "name": cf.name, "resource_subtype": cf.type, "type": cf.type}
            for key in ("old_enum_value", "new_enum_value"):
                if key in story:
                    out[key] = cf.option_by_gid(story[key]) if story[key] else None
            for key in ("old_multi_enum_values", "new_multi_enum_values"):
                if key in story:
                    out[key] = [cf.option_by_gid(g) for g in story[key]]
            for key in ("old_people_value", "new_people_value"):
                if key in story:
                    out[key] = [self._compact_user(g) for g in story[key]]
        if "assignee" in story:
            out["assignee"] = self._compact_user(story["assignee"])
        if story["type"] == "comment":
            out.setdefault("html_text", f"<body>{_escape(story['text'])}</body>")
            out["is_pinned"] = story.get("is_pinned", False)
        return out

    # --- HTTP plumbing ------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Any:
        user = self.tokens.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        if request.path.startswith(API) and user is None:
            with self.lock:
                self.calls["unauthorized"] += 1
            return Response(401, error_body("Not Authorized"))
        limited = self._rate_limited(_cost(request))
        if limited is not None:
            with self.lock:
                self.calls["rate_limited"] += 1
            return limited
        try:
            return super().dispatch(request)
        except ApiError as error:
            return Response(error.status, error_body(error.message), error.headers)

    def not_found(self, request: Request) -> Response:
        return Response(404, error_body(f"No matching route for request: {request.path}"))

    def _rate_limited(self, cost: int) -> Response | None:
        """The emulated per-token limit: a bucket of `rate_limit_per_minute` refilled evenly on
        the emulator clock (Asana does not publish its algorithm); None when under it."""
        if self.rate_limit_per_minute is None:
            return None
        with self.lock:
            now = self.clock.now()
            capacity = float(self.rate_limit_per_minute)
            if self._bucket is None:
                self._bucket = (capacity, now)
            tokens, stamp = self._bucket
            tokens = min(capacity, tokens + (now - stamp).total_seconds() * capacity / 60)
            if tokens < cost:
                self._bucket = (tokens, now)
                wait = (cost - tokens) * 60 / capacity
                self.calls["rate_limited_total"] += 1
                return Response(429, error_body(
                    "You have made too many requests recently. Please, be chill."),
                    {"Retry-After": str(max(1, int(wait + 0.999)))})
            self._bucket = (tokens - cost, now)
            return None

    def _me(self, request: Request) -> str:
        return self.tokens[request.headers.get("authorization", "").removeprefix("Bearer ")]

    def _ok(self, data: Any, request: Request, status: int = 200) -> Response:
        return Response(status, {"data": project_fields(data, _opt_fields(request))})

    def _page(self, items: list[Any], request: Request, default_fields: tuple[str, ...],
              render: Any = None) -> Response:
        """Offset paging as the API does it; `next_page` only when `limit` was sent.

        `render` turns an item into its full JSON form; only the items of the page are rendered.
        """
        fields = _opt_fields(request) or set(default_fields)
        if render is not None:
            items = _Rendered(items, render)
        raw_limit = request.arg("limit")
        start = 0
        if request.arg("offset"):
            start = _decode_offset(request.arg("offset") or "")
        if raw_limit is None:
            if len(items) > MAX_UNPAGED_RESULTS:
                raise ApiError(400, "The result is too large. You should use pagination "
                                    "(may require specifying a workspace)!")
            return Response(200, {"data": [project_fields(i, fields) for i in items[start:]]})
        try:
            limit = int(raw_limit)
        except ValueError:
            raise ApiError(400, f"limit: Not a valid integer: {raw_limit}") from None
        if not 1 <= limit <= 100:
            raise ApiError(400, "limit: Must be between 1 and 100")
        chunk = items[start:start + limit]
        next_page = None
        if start + limit < len(items):
            token = _encode_offset(start + limit)
            query = {k: v[0] for k, v in request.query.items() if k != "offset"}
            query["offset"] = token
            path = request.path.removeprefix(API) + "?" + urlencode(query)
            host = request.headers.get("host", self.domain)
            next_page = {"offset": token, "path": path, "uri": f"https://{host}{API}{path}"}
        return Response(200, {"data": [project_fields(i, fields) for i in chunk],
                              "next_page": next_page})

    def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise ApiError(400, "Could not parse request data, invalid JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise ApiError(400, "Could not parse request data: missing data envelope")
        return body["data"]

    # --- routes -------------------------------------------------------------------------------

    @route("GET", API + r"/users/me", name="get_user")
    def get_me(self, request: Request) -> Response:
        user = self.users[self._me(request)]
        return self._ok({"gid": user.gid, "resource_type": "user", "name": user.name,
                         "email": user.email, "workspaces": [self.workspace]}, request)

    @route("POST", r"/-/oauth_token", name="oauth_token")
    def oauth_token(self, request: Request) -> Response:
        """The OAuth token endpoint, refresh_token grant only (the sandbox has no consent page)."""
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "refresh_token":
            return Response(400, {"error": "unsupported_grant_type"})
        if form.get("refresh_token") != SANDBOX_REFRESH_TOKEN:
            return Response(400, {"error": "invalid_grant",
                                  "error_description": "The refresh token is invalid."})
        user = self.users[self.tokens[SANDBOX_TOKEN]]
        return Response(200, {"access_token": SANDBOX_TOKEN, "token_type": "bearer",
                              "expires_in": 3600, "data": {"id": user.gid, "gid": user.gid,
                                                           "name": user.name, "email": user.email}})

    @route("GET", API + r"/workspaces", name="get_workspaces")
    def get_workspaces(self, request: Request) -> Response:
        return self._page([{**self.workspace, "is_organization": True}], request, ("name",))

    @route("GET", API + r"/projects", name="get_projects")
    def get_projects(self, request: Request) -> Response:
        workspace = request.arg("workspace")
        if not workspace and not request.arg("team"):
            raise ApiError(400, "workspace: Missing input")
        if workspace and workspace != WORKSPACE_GID:
            raise ApiError(404, "workspace: Not a recognized ID: " + workspace)
        items = [{**self._compact_project(p), "archived": False,
                  "created_at": iso(p.created_at), "workspace": self.workspace}
                 for p in self.projects.values()]
        return self._page(items, request, ("name",))

    @route("GET", API + r"/projects/(?P<gid>\d+)", name="get_project")
    def get_project(self, request: Request) -> Response:
        project = self._project(request.params["gid"])
        return self._ok({
            **self._compact_project(project), "archived": False,
            "created_at": iso(project.created_at), "modified_at": iso(self.clock.now()),
            "permalink_url": f"https://{self.domain}/1/{WORKSPACE_GID}/project/{project.gid}",
            "workspace": self.workspace,
            "custom_field_settings": self._field_settings(project),
        }, request)

    @route("GET", API + r"/projects/(?P<gid>\d+)/sections", name="get_sections_for_project")
    def get_sections(self, request: Request) -> Response:
        project = self._project(request.params["gid"])
        items = [{**self._compact_section(self.sections[g]), "created_at": iso(project.created_at),
                  "project": self._compact_project(project)} for g in project.sections]
        return self._page(items, request, ("name",))

    @route("GET", API + r"/projects/(?P<gid>\d+)/custom_field_settings",
           name="get_custom_field_settings_for_project")
    def get_field_settings(self, request: Request) -> Response:
        project = self._project(request.params["gid"])
        return self._page(self._field_settings(project), request,
                          ("custom_field", "is_important", "parent", "project"))

    def _field_settings(self, project: Project) -> list[dict[str, Any]]:
        out = []
        for index, cf_gid in enumerate(project.custom_fields):
            cf = self.custom_fields[cf_gid]
            rendered = self._render_cf(cf, None)
            for key in ("display_value", "text_value", "number_value", "enum_value",
                        "multi_enum_values", "date_value", "people_value"):
                rendered.pop(key, None)
            out.append({"gid": str(int(project.gid) + 500 + index),
                        "resource_type": "custom_field_setting", "is_important": True,
                        "project": self._compact_project(project), "parent": self._compact_project(project),
                        "custom_field": rendered})
        return out

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
        return Response(201, {"data": project_fields(self._render_task(task), _opt_fields(request))})

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
                                                     _opt_fields(request))})

    @route("GET", API + r"/tasks/(?P<gid>\d+)/subtasks", name="get_subtasks_for_task")
    def get_subtasks(self, request: Request) -> Response:
        parent = self._task(request.params["gid"])
        items = [self._render_task(self.tasks[g]) for g in parent.subtasks
                 if not self.tasks[g].deleted]
        return self._page(items, request, ("name", "resource_subtype"))

    @route("GET", API + r"/tasks/(?P<gid>\d+)/stories", name="get_stories_for_task")
    def get_stories(self, request: Request) -> Response:
        task = self._task(request.params["gid"])
        items = [self._render_story(s) for s in task.stories]
        return self._page(items, request, ("created_at", "created_by", "resource_subtype",
                                           "text", "type"))

    @route("POST", API + r"/tasks/(?P<gid>\d+)/stories", name="create_story_for_task")
    def post_story(self, request: Request) -> Response:
        task = self._task(request.params["gid"])
        data = self._body(request)
        text = data.get("text")
        if text is None and data.get("html_text") is not None:
            text = _strip_html(data["html_text"])
        if not text:
            raise ApiError(400, "text: Missing input")
        extra = {"html_text": data["html_text"]} if data.get("html_text") else {}
        story = self._story(task, self._me(request), "comment_added", text, kind="comment",
                            is_pinned=bool(data.get("is_pinned")), **extra)
        return Response(201, {"data": project_fields(self._render_story(story),
                                                     _opt_fields(request))})

    @route("POST", API + r"/sections/(?P<gid>\d+)/addTask", name="add_task_for_section")
    def add_task_for_section(self, request: Request) -> Response:
        section = self.sections.get(request.params["gid"])
        if section is None:
            raise ApiError(404, f"section: Unknown object: {request.params['gid']}")
        data = self._body(request)
        task = self._task(str(data.get("task") or ""))
        if section.project not in task.memberships:
            raise ApiError(400, "task: Task is not in the section's project")
        self._move(task, section.gid, self._me(request))
        return Response(200, {"data": {}})

    @route("GET", API + r"/events", name="get_events")
    def get_events(self, request: Request) -> Response:
        resource = request.arg("resource")
        if not resource:
            raise ApiError(400, "resource: Missing input")
        project = self._project(resource)
        token = self._sync.get(request.arg("sync") or "")
        now = self.clock.now()
        if token is None or token.project != project.gid or \
                now - token.created_at > SYNC_TOKEN_LIFETIME:
            fresh = self._new_sync(project, len(project.events))
            return Response(412, {**error_body(SYNC_EXPIRED_MESSAGE), "sync": fresh})
        batch = project.events[token.position:token.position + EVENTS_PER_CALL]
        position = token.position + len(batch)
        fields = _opt_fields(request)
        return Response(200, {
            "data": [project_fields(e, fields) if fields else e for e in batch],
            "sync": self._new_sync(project, position),
            "has_more": position < len(project.events),
        })

    def _new_sync(self, project: Project, position: int) -> str:
        value = secrets.token_hex(16)
        self._sync[value] = SyncToken(project.gid, position, self.clock.now())
        return value

    @route("POST", API + r"/batch", name="create_batch_request")
    def post_batch(self, request: Request) -> Response:
        data = self._body(request)
        actions = data.get("actions")
        if not isinstance(actions, list) or not actions:
            raise ApiError(400, "actions: Missing input")
        if len(actions) > MAX_BATCH_ACTIONS:
            raise ApiError(400, f"actions: At most {MAX_BATCH_ACTIONS} actions are allowed")
        return Response(200, {"data": [self._run_action(a, request) for a in actions]})

    def _run_action(self, action: dict[str, Any], outer: Request) -> dict[str, Any]:
        method = str(action.get("method", "")).upper()
        path = str(action.get("relative_path", ""))
        data = action.get("data") or {}
        options = action.get("options") or {}
        query: dict[str, list[str]] = {}
        body = b""
        if method == "GET":
            query = {k: [str(v)] for k, v in data.items()}
        else:
            body = json.dumps({"data": data}).encode()
        if options.get("fields"):
            query["opt_fields"] = [",".join(options["fields"])]
        for key in ("limit", "offset"):
            if options.get(key) is not None:
                query[key] = [str(options[key])]
        inner = Request(method=method, path=API + path.split("?")[0], query=query,
                        headers=outer.headers, body=body)
        for route_method, pattern, name, handler in self._routes:
            if route_method != method or name == "create_batch_request":
                continue
            match = pattern.match(inner.path)
            if not match:
                continue
            inner.params = match.groupdict()
            self.action_calls[name] += 1
            fault = self.faults.take("batch." + name)
            if fault is not None:
                return {"status_code": fault.status, "headers": fault.headers,
                        "body": fault.body if fault.body is not None else error_body("Server Error")}
            try:
                response = handler(inner)
            except ApiError as error:
                return {"status_code": error.status, "headers": {}, "body": error_body(error.message)}
            headers = {}
            if response.status == 201 and isinstance(response.body, dict):
                gid = (response.body.get("data") or {}).get("gid")
                headers["location"] = f"{path.split('?')[0]}/{gid}" if gid else path
            return {"status_code": response.status, "headers": headers, "body": response.body}
        return {"status_code": 404, "headers": {},
                "body": error_body(f"No matching route for request: {path}")}

    # --- writes shared by POST /tasks, POST subtasks and PUT /tasks ----------------------------

    def _apply_task_data(self, task: Task, data: dict[str, Any], actor: str,
                         quiet: bool = False) -> None:
        """Apply writable task properties; `quiet` writes no stories (a new task has none)."""
        for key, value in data.items():
            if key == "name":
                self._rename(task, value, actor)
            elif key in ("notes", "html_notes"):
                task.notes = _strip_html(value) if key == "html_notes" else value
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


class _Rendered:
    """A list whose items are rendered when read, so a page of 100 renders 100, not all."""

    def __init__(self, items: list[Any], render: Any) -> None:
        self._items, self._render = items, render

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: slice) -> list[Any]:
        return [self._render(item) for item in self._items[index]]


# --- opt_fields projection -----------------------------------------------------------------------

_ALWAYS = ("gid", "resource_type")
_COMPACT = ("gid", "resource_type", "name", "resource_subtype")


def _opt_fields(request: Request) -> set[str]:
    raw = request.arg("opt_fields") or ""
    return {f.strip() for f in raw.split(",") if f.strip()}


def _tree(fields: set[str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in fields:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
    return tree


def project_fields(value: Any, fields: set[str]) -> Any:
    """Apply `opt_fields`: only the requested fields, plus gid and resource_type at every level."""
    if not fields:
        return value
    return _project(value, _tree(fields))


def _project(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_project(v, tree) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: value[k] for k in _ALWAYS if k in value}
    for name, sub in tree.items():
        if name in value:
            out[name] = _project(value[name], sub) if sub else _compact(value[name])
    return out


def _compact(value: Any) -> Any:
    """A nested value asked for without sub-fields: objects in their compact form."""
    if isinstance(value, list):
        return [_compact(v) for v in value]
    if isinstance(value, dict):
        if value.get("resource_type") == "custom_field" or "gid" not in value:
            return {k: _compact(v) for k, v in value.items()}
        return {k: value[k] for k in _COMPACT if k in value}
    return value


def _encode_offset(position: int) -> str:
    header = base64.urlsafe_b64encode(b'{"typ":"JWT","alg":"HS256"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps({"o": position}).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}"


def _decode_offset(token: str) -> int:
    try:
        payload = token.split(".")[1]
        return int(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["o"])
    except (IndexError, ValueError, KeyError, TypeError):
        raise ApiError(400, "offset: Your pagination token is invalid.") from None


def _cost(request: Request) -> int:
    """Rate-limit units of a request: each action of a batch counts (checked all at once)."""
    if request.method != "POST" or not request.path.endswith("/batch"):
        return 1
    try:
        actions = request.json()["data"]["actions"]
        return max(1, len(actions)) if isinstance(actions, list) else 1
    except (ValueError, KeyError, TypeError):
        return 1


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _strip_html(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html).replace("&lt;", "<").replace("&gt;", ">").replace(
        "&amp;", "&")
