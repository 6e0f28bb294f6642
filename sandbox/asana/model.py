"""The emulated Asana's constants, timestamps, error shape and in-memory state (users, custom
fields, projects, sections, tasks, sync tokens)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

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
    # user gid -> access_level (admin | editor | commenter | viewer); empty: every workspace
    # user is an editor (a public project)
    access: dict[str, str] = field(default_factory=dict)


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
