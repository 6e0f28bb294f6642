"""Routes: the user, OAuth refresh, workspaces, projects, sections, custom field settings."""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from baton.sandbox.server import Request, Response, route

from .api import AsanaApi
from .model import API, SANDBOX_REFRESH_TOKEN, SANDBOX_TOKEN, WORKSPACE_GID, ApiError, Project, iso


class ProjectRoutes(AsanaApi):
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

    @route("GET", API + r"/projects/(?P<gid>\d+)/project_memberships",
           name="get_project_memberships_for_project")
    def get_project_memberships(self, request: Request) -> Response:
        """getProjectMembershipsForProject: `user` ("me", an email or a gid) filters."""
        project = self._project(request.params["gid"])
        levels = project.access or {gid: "editor" for gid in self.users}
        wanted = request.arg("user")
        if wanted == "me":
            wanted = self._me(request)
        items = [{"gid": str(int(project.gid) + 900 + index), "resource_type": "membership",
                  "resource_subtype": "project_membership", "access_level": level,
                  "parent": self._compact_project(project),
                  "member": {"gid": gid, "resource_type": "user", "name": self.users[gid].name}}
                 for index, (gid, level) in enumerate(sorted(levels.items()))
                 if wanted in (None, gid, self.users[gid].email)]
        return self._page(items, request, ("parent", "member", "access_level"))

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
