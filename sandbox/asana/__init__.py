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
- A section move emits a story-added event, then a task event `action: "added"` whose `parent`
  is the new section and one `action: "removed"` whose `parent` is the old (the spec's example
  for a task added to a project, applied to sections). A custom field change emits a task event
  `action: "changed"`, `change.field: "custom_fields"`, `change.new_value` = the field's compact
  representation with its new value (`enum_value`, `text_value`, ...), as the spec says the
  Events API gives it. A change's story, its events and the `modified_at` it sets carry one
  time (the events' `created_at` is "the timestamp when the event occurred"). All of this is
  UNCONFIRMED against live Asana; the connector dates a move from
  them only when they say all of it, and reads stories otherwise.
- Stories are listed oldest first; the connector sorts by `created_at` anyway.

Test and demo "users" act through Python methods (`move_task`, `set_custom_field`, ...), which go
through the same code paths as HTTP writes, so stories and events look the same either way.
"""
from __future__ import annotations

from .emulator import AsanaEmulator
from .model import (
    BOT_USER_GID,
    EVENTS_PER_CALL,
    MAX_BATCH_ACTIONS,
    SANDBOX_REFRESH_TOKEN,
    SANDBOX_TOKEN,
    WORKSPACE_GID,
    ApiError,
)

__all__ = [
    "BOT_USER_GID", "EVENTS_PER_CALL", "MAX_BATCH_ACTIONS", "SANDBOX_REFRESH_TOKEN", "SANDBOX_TOKEN",
    "WORKSPACE_GID", "ApiError", "AsanaEmulator",
]
