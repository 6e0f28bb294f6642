"""Asana's protocol text: the `opt_fields` Baton asks for, custom field values both ways, and
the idempotency marker line Baton leaves in comments and subtasks."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from baton.core.errors import PayloadError, SourceError
from baton.core.records import FieldChange
from baton.core.keys import IDEMPOTENCY_TAG, idempotency_marker

TEXT_FIELD_MAX = 1024  # characters in a text custom field

TASK_FIELDS = ",".join([
    "name", "permalink_url", "modified_at", "completed", "due_on", "assignee", "assignee.name",
    "parent", "memberships.project", "memberships.section.name",
    "custom_fields.name", "custom_fields.type", "custom_fields.resource_subtype",
    "custom_fields.text_value", "custom_fields.number_value", "custom_fields.enum_value.name",
    "custom_fields.multi_enum_values.name", "custom_fields.date_value",
    "custom_fields.people_value.name", "custom_fields.display_value",
])
HISTORY_FIELDS = [
    "created_at", "resource_subtype", "old_section.name", "new_section.name",
    "custom_field.name", "old_enum_value.name", "new_enum_value.name",
    # other custom fields' changes: the values a task had when it passed through a status
    "custom_field.resource_subtype", "old_text_value", "new_text_value", "old_number_value",
    "new_number_value",
]
MARKER_FIELDS = ["type", "resource_subtype", "text"]
SUBTASK_FIELDS = ["name", "notes", "completed"]
STATUS_STORIES = frozenset({"section_changed", "enum_custom_field_changed"})
BUILTIN_FIELDS = frozenset({"name", "notes", "due_on", "completed", "assignee"})

MARKER = re.compile(r"\[" + re.escape(IDEMPOTENCY_TAG) + r"([^\]\s]+)\]")


def marker_line(key: str) -> str:
    return f"— Baton {idempotency_marker(key)}"


def normalize_custom_field(cf: Mapping[str, Any]) -> Any:
    """A task's custom field entry -> a plain value (enum option NAMEs, ISO dates, user names)."""
    kind = cf.get("resource_subtype") or cf.get("type")
    if kind == "text":
        return cf.get("text_value") or None  # "" and null both mean "not filled in"
    if kind == "number":
        value = cf.get("number_value")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    if kind == "enum":
        return (cf.get("enum_value") or {}).get("name")
    if kind == "multi_enum":
        return [v.get("name") for v in cf.get("multi_enum_values") or [] if v]
    if kind == "date":
        value = cf.get("date_value") or {}
        return value.get("date") if isinstance(value, dict) else None
    if kind == "people":
        return [p.get("name") or p.get("gid") for p in cf.get("people_value") or [] if p]
    return cf.get("display_value")


def field_change(gid: str, story: Mapping[str, Any]) -> FieldChange | None:
    """A text / number / enum custom-field story as a change of the Record field of that name,
    values normalized as `normalize_custom_field` does; `at` is the story's raw `created_at`
    (the reader parses it)."""
    subtype = story.get("resource_subtype")
    field = story.get("custom_field") or {}
    name = field.get("name") if isinstance(field, dict) else None
    if not isinstance(name, str) or not name or not story.get("created_at"):
        return None
    if subtype == "text_custom_field_changed":
        old, new = story.get("old_text_value") or None, story.get("new_text_value") or None
    elif subtype == "number_custom_field_changed":
        old, new = _number(story.get("old_number_value")), _number(story.get("new_number_value"))
    elif subtype == "enum_custom_field_changed":
        old, new = (_option(story.get("old_enum_value"), gid),
                    _option(story.get("new_enum_value"), gid))
    else:
        return None
    return FieldChange(gid, name, old, new, story["created_at"])


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _option(value: Any, gid: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PayloadError(f"Asana story of task {gid}: an enum value is not an object")
    name = value.get("name")
    return name if isinstance(name, str) else None


def encode_value(field: Mapping[str, Any], value: Any) -> Any:
    """A plain value -> what PUT /tasks takes in `custom_fields` (option gids for enums)."""
    kind = field.get("resource_subtype") or field.get("type")
    if value is None:
        return None
    options = {o.get("name"): o["gid"] for o in field.get("enum_options") or []}
    if kind == "enum":
        if value not in options:
            raise SourceError(f"custom field {field.get('name')!r} has no option {value!r}")
        return options[value]
    if kind == "multi_enum":
        values = [value] if isinstance(value, str) else list(value)
        missing = [v for v in values if v not in options]
        if missing:
            raise SourceError(f"custom field {field.get('name')!r} has no option {missing[0]!r}")
        return [options[v] for v in values]
    if kind == "date":
        return {"date": str(value)[:10]}
    if kind == "people":
        return [value] if isinstance(value, str) else list(value)
    if kind == "text":  # Asana refuses a text value over 1,024 characters: cut, never fail
        text = str(value)
        return text if len(text) <= TEXT_FIELD_MAX else text[:TEXT_FIELD_MAX - 1] + "…"
    return value
