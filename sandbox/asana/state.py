"""The emulator's state and how seeds and tests build it (users, custom fields, projects), plus
the lookups every other part uses. The base of the emulator's class chain:
AsanaState -> AsanaRendering (render.py) -> AsanaActions (actions.py) -> AsanaApi (api.py) ->
the route classes (projects, tasks, stories, events, batch) -> AsanaEmulator (emulator.py).
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from baton.sandbox.clock import SandboxClock
from baton.sandbox.server import Emulator

from .model import (
    BOT_USER_GID,
    SANDBOX_TOKEN,
    WORKSPACE_GID,
    ApiError,
    CustomField,
    Project,
    Section,
    SyncToken,
    Task,
    User,
)


class AsanaState(Emulator):
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

    def add_custom_field(self, name: str, type_: str, options: Sequence[str] = (), *,
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

    def add_project(self, name: str, sections: list[str], custom_fields: Sequence[str] = (),
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
