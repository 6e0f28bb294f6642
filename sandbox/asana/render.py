"""How tasks, stories, custom fields and compact references look on the wire."""
from __future__ import annotations

from typing import Any

from .model import WORKSPACE_GID, CustomField, Project, Section, Task, iso
from .state import AsanaState
from .wire import escape_html


class AsanaRendering(AsanaState):
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
            options = [cf.option_by_gid(g) for g in raw]
            return ", ".join(option["name"] for option in options if option)
        if cf.type == "date" and isinstance(raw, dict):
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
            out.setdefault("html_text", f"<body>{escape_html(story['text'])}</body>")
            out["is_pinned"] = story.get("is_pinned", False)
        return out
