"""`baton doctor` for an Asana source: GETs only.

    GET /users/me                                   the token works; who Baton acts as
    GET /projects/{gid}                             the project exists and is visible
    GET /projects/{gid}/custom_field_settings       rule fields exist; enum options (statuses)
    GET /projects/{gid}/sections                    section names (statuses)
    GET /projects/{gid}/project_memberships?user=me the account may edit the project
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from baton.connectors.diagnosis import (
    Finding, Needs, bad, failure, ok, suggestion, template_findings, where,
)
from baton.core.config import AsanaSource
from baton.core.errors import BatonError, SourceError

from .client import AsanaWorkspace
from .fields import BUILTIN_FIELDS

CAN_WRITE = ("admin", "editor")


def probe(workspace: AsanaWorkspace, source: AsanaSource, needs: Needs,
          counter: Counter[str]) -> list[Finding]:
    findings: list[Finding] = []
    try:
        me = workspace.me(counter)
        findings.append(ok(f"authenticated as {me.get('name') or me.get('gid')}"))
        try:
            project = workspace.get_page(f"/projects/{source.project}", {"opt_fields": "name"},
                                         "GET /projects/{gid}", counter).get("data") or {}
        except SourceError as error:
            return [*findings, bad(f"project {source.project} cannot be read: {error}",
                                   "check `project` (the number in the project's URL) and add "
                                   "the Baton account to the project")]
        findings.append(ok(f"project {project.get('name')!r} ({source.project}) is visible"))
        settings = workspace.custom_fields(source.project, counter)
        custom = {str((s.get("custom_field") or {}).get("name")): s.get("custom_field") or {}
                  for s in settings}
        available = set(custom) | set(BUILTIN_FIELDS)
        missing = sorted(name for name in needs.fields if name not in available)
        findings += [bad(f"project has no custom field {name!r} (read by {where(needs.fields[name])})"
                         + suggestion(name, available),
                         "add the custom field to the project, or correct the name in the rule "
                         "(rules use the custom field's name as shown in Asana)")
                     for name in missing]
        if not missing and needs.fields:
            findings.append(ok(f"{len(needs.fields)} field(s) the rules read exist in the project"))
        findings += _statuses(workspace, source, needs, custom, counter)
        findings += _access(workspace, source, needs, counter)
        findings += template_findings(needs, available, f"the project's tasks ({source.id})")
    except BatonError as error:
        findings.append(failure("asana", error))
    return findings


def _statuses(workspace: AsanaWorkspace, source: AsanaSource, needs: Needs,
              custom: dict[str, dict[str, Any]], counter: Counter[str]) -> list[Finding]:
    if source.status == "section":
        values = [str(s.get("name")) for s in workspace.sections(source.project, counter)]
        kind = "section"
    else:
        field = custom.get(source.status)
        if field is None:
            return [bad(f"status field {source.status!r} is not a custom field of the project"
                        + suggestion(source.status, custom),
                        "set `status` to \"section\" or to the name of an enum custom field")]
        options = field.get("enum_options") or []
        values = [str(o.get("name")) for o in options
                  if isinstance(o, dict) and o.get("enabled", True)]
        kind = f"option of {source.status!r}"
    wanted = {s: (f"config.toml workflow of {source.id}",) for s in source.workflow}
    for name, who in needs.statuses.items():
        wanted[name] = (*wanted.get(name, ()), *who)
    missing = sorted(s for s in wanted if s not in values)
    if not missing:
        return [ok(f"every status named ({len(wanted)}) is a {kind} of the project")]
    return [bad(f"status {name!r} (named by {where(wanted[name])}) is not a {kind} of the project"
                + suggestion(name, values),
                f"use the exact name; the project has: {', '.join(values)}")
            for name in missing]


def _access(workspace: AsanaWorkspace, source: AsanaSource, needs: Needs,
            counter: Counter[str]) -> list[Finding]:
    page = workspace.get_page(f"/projects/{source.project}/project_memberships",
                              {"user": "me", "opt_fields": "access_level"},
                              "GET /projects/{gid}/project_memberships", counter)
    levels = [str(m.get("access_level")) for m in page.get("data") or [] if isinstance(m, dict)]
    if any(level in CAN_WRITE for level in levels):
        return [ok(f"the Baton account can edit the project ({levels[0]})")]
    writes = "comments, moves and subtasks" if needs.tasks else "comments and moves"
    found = ", ".join(levels) or "not a member"
    return [bad(f"the Baton account cannot edit the project ({found}): {writes} would fail",
                "share the project with the Baton account as Editor (Share → Members)")]
