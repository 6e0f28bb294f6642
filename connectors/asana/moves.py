"""Status moves as the events feed tells them, so that a single-hop move needs no story read.

An event's `created_at` is Asana's own time of the change [spec `EventResponse.created_at`: "the
timestamp when the event occurred"], as a story's is; taken to be the same instant as the
change's story (if live Asana stamped events later, a dated move would be late by that lag). A section move arrives as a task event `action: "added"` whose `parent` is the new
section (and one `"removed"` from the old); an enum status as a task event `action: "changed"`,
`change.field: "custom_fields"` whose `new_value` is the field's compact representation, value
included [spec `EventResponseChange.new_value`: "the compact representation ... when using the
Events resource"; `CustomFieldCompact.enum_value`]. Live Asana's exact shape is not confirmed
(API-NOTES), so anything less than that shape is left to the stories:

- a task with exactly ONE status event since the last poll, whose value is the one the re-read
  task has now, is dated by that event (no story read);
- several hops (order and the values between them are the stories' to tell), an event that does
  not say the value, or a task read in another state than its event left it (it moved again
  after the feed was read): stories, as before;
- a gap in the feed (412, sync token expired): the caller drops everything seen (`forget`), and
  the hinted tasks' stories are read. The reconciliation sweep stays the net under lost events.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from baton.core.records import StatusChange, TimeSource

from .cursor import parse_time

# an event and the modified_at it set are one server's clock, at most its rounding apart
LISTING_MARGIN = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Hop:
    at: datetime
    to_gid: str | None  # the section moved into (section status)
    to_name: str | None  # the section's or enum option's name, as the event gives it


class EventMoves:
    """What one drain of the events feed says about status moves and touched tasks."""

    def __init__(self, by_section: bool, status_field: str) -> None:
        self.by_section = by_section
        self.status_field = status_field
        self._hops: dict[str, list[Hop]] = {}
        # (task, time) -> the section (gid, name) it left then
        self._left: dict[tuple[str, datetime], tuple[str | None, str | None]] = {}
        self._unclear: set[str] = set()  # a status event we cannot read: stories decide
        self.touched: set[str] = set()  # named by a change that bumps modified_at
        self.earliest: datetime | None = None  # the oldest such change

    def forget(self) -> None:
        """A gap in the feed: nothing seen so far may date a move."""
        self._hops.clear()
        self._left.clear()
        self._unclear.clear()

    def task_event(self, gid: str, event: Mapping[str, Any], parent: Mapping[str, Any],
                   change: Mapping[str, Any]) -> None:
        at = _when(event.get("created_at"))
        action = event.get("action")
        if parent.get("resource_type") == "section" and action in ("added", "removed"):
            if not self.by_section:
                return
            section = (_str(parent.get("gid")), _str(parent.get("name")))
            if at is None:
                self._unclear.add(gid)
            elif action == "added":
                self._hops.setdefault(gid, []).append(Hop(at, section[0], section[1]))
            else:
                self._left[(gid, at)] = section
            return
        if action != "changed":
            return  # added to / removed from the project, deleted, undeleted: re-read only
        self._touch(gid, at)
        if self.by_section or change.get("field") != "custom_fields":
            return
        value = change.get("new_value")
        name = value.get("name") if isinstance(value, dict) else None
        if name is None:
            self._unclear.add(gid)  # which field changed is not said: it may be the status
        elif name == self.status_field:
            enum = value.get("enum_value", "absent") if isinstance(value, dict) else "absent"
            if at is None or enum == "absent" or (enum is not None and not isinstance(enum, dict)):
                self._unclear.add(gid)
            else:
                self._hops.setdefault(gid, []).append(
                    Hop(at, None, _str(enum.get("name")) if enum else None))

    def story_event(self, gid: str, event: Mapping[str, Any], subtype: Any) -> None:
        if subtype != "section_changed":  # whether a move's own story bumps modified_at is unclear
            self._touch(gid, _when(event.get("created_at")))

    def _touch(self, gid: str, at: datetime | None) -> None:
        self.touched.add(gid)
        if at is not None and (self.earliest is None or at < self.earliest):
            self.earliest = at

    def has_hops(self, gid: str | None = None) -> bool:
        return bool(self._hops.get(gid)) if gid is not None else bool(self._hops)

    def listing_since(self) -> datetime | None:
        return self.earliest - LISTING_MARGIN if self.earliest is not None else None

    def dated(self, gid: str, status: str | None, section: str | None,
              sections: set[str] | None) -> list[StatusChange] | None:
        """The task's one move from the feed, or None when its stories must tell.

        `status` and `section` are what the re-read task holds now; `sections` the gids of this
        project's sections (a task in two projects also moves in the other one)."""
        hops = self._hops.get(gid, [])
        if sections is not None:
            hops = [h for h in hops if h.to_gid in sections]
        if gid in self._unclear or len(hops) != 1 or status is None:
            return None
        hop = hops[0]
        if self.by_section:
            if hop.to_gid != section:
                return None  # moved again after the feed was read
            left_gid, left_name = self._left.get((gid, hop.at), (None, None))
            before = left_name if sections is None or left_gid in sections else None
        else:
            if hop.to_name != status:
                return None
            before = None  # the event does not say; the engine knows the status it left
        return [StatusChange(gid, before, status, hop.at, TimeSource.HISTORY)]


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
