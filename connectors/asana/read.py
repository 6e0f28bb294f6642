"""Reading one Asana project: events for change detection, stories for history, tasks -> Records.

How a poll finds changes:
- baseline: one events call (412 -> a first sync token), then every task of the project
  (`GET /tasks?project=` at limit 100). Token first, so nothing between the two is missed.
- every cycle: `GET /events?resource=<project>&sync=<token>` (one call when idle; more while
  `has_more`). Tasks named by events are re-read with `POST /batch` (10 GETs per call); a
  `modified_since` poll alone would miss a section move, which does not bump `modified_at`
  (spec: "moving to a new container" does not). When more than 10 named tasks had a change that
  does bump it (a burst), one `modified_since` listing from the oldest such event reads them
  100 a page, and only what it did not return is read by gid.
- every `reconcile_every` cycles: `GET /tasks?project&modified_since=<last reconcile - overlap>`,
  because events are delivered at most once. Every `FULL_SWEEP_EVERY`-th reconciliation lists
  the whole project instead, the only poll that sees a section move whose event was lost.
- a 412 (token expired) stores the fresh token and lists the whole project (section status) or
  the tasks modified since the last reconciliation (enum status, whose changes bump
  `modified_at`); returning a task twice is harmless, the engine drops duplicate transitions.

Whose stories are read: the batch's `status_hints` name the tasks the feed says may have moved
(a section event, a custom field change, a status story; after a 412, every task modified since
the last reconciliation). The engine asks history for those and for the records whose status
differs from the one the store knows; it alone knows the last status, so this module keeps none.
A task whose one status event says all of the move (moves.py) is answered from the event's own
time and reads no story; several hops, an event short of the value, or a 412 read the stories.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import structlog

from baton.core.config import AsanaSource
from baton.core.errors import PayloadError
from baton.core.records import ChangeBatch, FieldChange, Record, StatusChange, TimeSource

from .client import BATCH_SIZE, SyncExpired, object_list
from .cursor import FULL_SWEEP_EVERY, AsanaCursor, iso, parse_time
from .fields import HISTORY_FIELDS, STATUS_STORIES, field_change, normalize_custom_field
from .moves import EventMoves
from .project import AsanaProject

log = structlog.get_logger()

Task = dict[str, Any]


@contextmanager
def for_source(source_id: str) -> Iterator[None]:
    """A PayloadError names the source it happened to (the workspace is shared)."""
    try:
        yield
    except PayloadError as error:
        raise PayloadError(f"{source_id}: {error}") from None


class ProjectReader:
    """The reading half of `AsanaConnector`."""

    def __init__(self, project: AsanaProject, source: AsanaSource, reconcile_every: int) -> None:
        self.project = project
        self.source = source
        self.by_section = source.status == "section"
        self.reconcile_every = reconcile_every
        self._log = log.bind(source=source.id)
        # tasks whose stories this poll already handed over: asked again, they cost nothing
        self._told: set[str] = set()
        # custom-field changes read from those same stories, for `field_history`
        self._field_changes: dict[str, list[FieldChange]] = {}
        # the moves this poll's events dated (moves.py): their stories need no read
        self._dated: dict[str, list[StatusChange]] = {}

    # -- changes

    def fetch_changes(self, cursor: str | None, now: datetime) -> ChangeBatch:
        with for_source(self.source.id):
            return self._fetch(cursor, now)

    def _fetch(self, cursor: str | None, now: datetime) -> ChangeBatch:
        calls_before = self.project.total_calls()
        self._told.clear()
        self._field_changes.clear()
        self._dated.clear()
        state = AsanaCursor.load(cursor)
        tasks: dict[str, Task] = {}
        hinted: set[str] = set()
        complete = True
        if state is None:
            sync = self._first_sync_token()
            _collect(tasks, self._list({"project": self.project.gid}))
            state = AsanaCursor(sync=sync, reconciled_at=iso(now))
            self._log.info("asana.baseline", tasks=len(tasks))
        else:
            state.cycle += 1
            moves = EventMoves(self.by_section, self.source.status)
            named, hinted, resynced = self._read_events(state, moves)
            if resynced:
                moves.forget()  # a gap in the feed: the stories tell every move
                hinted |= self._resync(state, tasks, now)
            elif state.cycle % self.reconcile_every == 0:
                self._reconcile(state, tasks, now)
            self._reread(named, moves, tasks)
            complete = self._read_rest(named, tasks)
            self._date(moves, tasks)
        records = [self._record(t) for t in tasks.values() if self._in_project(t)]
        return ChangeBatch(records=records, cursor=state.dump() if complete else cursor,
                           complete=complete,
                           api_calls=self.project.total_calls() - calls_before,
                           status_hints=frozenset(hinted & {r.id for r in records}))

    def _list(self, params: dict[str, str]) -> list[Task]:
        return self.project.workspace.list_tasks(params, self.project.calls)

    def _events(self, sync: str | None) -> dict[str, Any]:
        return self.project.workspace.events(self.project.gid, sync, self.project.calls)

    def _first_sync_token(self) -> str:
        try:
            result = self._events(None)
        except SyncExpired as expired:
            return expired.sync
        sync = result.get("sync")  # an API that answers 200 without a token first: take it
        if not isinstance(sync, str) or not sync:
            raise PayloadError("Asana GET /events: no sync token in the answer")
        return sync

    def _read_events(self, state: AsanaCursor,
                     moves: EventMoves) -> tuple[set[str], set[str], bool]:
        """Drain the events feed: (tasks to re-read, tasks whose status may have moved, 412?)."""
        named: set[str] = set()
        hinted: set[str] = set()
        me = None
        seen_syncs = {state.sync}
        while True:
            try:
                result = self._events(state.sync)
            except SyncExpired as expired:
                self._log.warning("asana.sync_token_expired")
                state.sync = expired.sync
                return named, hinted, True
            events = [] if result.get("data") is None else \
                object_list(result, "data", "Asana GET /events")
            if events and me is None:
                me = self.project.workspace.me(self.project.calls)["gid"]
            for index, event in enumerate(events):
                self._classify(index, event, me, named, hinted, moves)
            sync = result.get("sync")
            if sync is not None and not isinstance(sync, str):
                raise PayloadError("Asana GET /events: sync is not a string")
            if sync:
                state.sync = sync
            has_more = result.get("has_more")
            if not has_more:
                return named, hinted, False
            if not isinstance(has_more, bool):
                raise PayloadError("Asana GET /events: has_more is not a boolean")
            if not sync or sync in seen_syncs:  # more, but from where we already were
                raise PayloadError("Asana GET /events: has_more without a new sync token")
            seen_syncs.add(sync)

    def _classify(self, index: int, event: Mapping[str, Any], me: str | None, named: set[str],
                  hinted: set[str], moves: EventMoves) -> None:
        resource = _object(event, "resource", index)
        parent = _object(event, "parent", index)
        user = _object(event, "user", index).get("gid")
        kind = resource.get("resource_type")
        if kind == "task":
            if parent.get("resource_type") == "task":
                return  # a subtask added/removed: the parent's status did not move
            gid = _gid(resource, f"Asana GET /events: data[{index}].resource.gid")
            named.add(gid)
            change = _object(event, "change", index)
            if parent.get("resource_type") == "section" or (
                    not self.by_section and change.get("field") == "custom_fields"):
                hinted.add(gid)
            moves.task_event(gid, event, parent, change)
        elif kind == "story" and parent.get("resource_type") == "task":
            if user is not None and user == me:
                return  # our own comments and the stories of our own moves
            gid = _gid(parent, f"Asana GET /events: data[{index}].parent.gid")
            named.add(gid)
            if resource.get("resource_subtype") in STATUS_STORIES:
                hinted.add(gid)
            moves.story_event(gid, event, resource.get("resource_subtype"))

    def _reconcile(self, state: AsanaCursor, tasks: dict[str, Task], now: datetime) -> None:
        state.reconciles += 1
        if self.by_section and state.reconciles % FULL_SWEEP_EVERY == 0:
            _collect(tasks, self._list({"project": self.project.gid}))
            kind = "full"
        else:
            _collect(tasks, self._list({"project": self.project.gid,
                                        "modified_since": state.reconcile_since()}))
            kind = "modified_since"
        state.reconciled_at = iso(now)
        self._log.info("asana.reconciled", kind=kind, tasks=len(tasks))

    def _resync(self, state: AsanaCursor, tasks: dict[str, Task], now: datetime) -> set[str]:
        """After a 412: section moves do not bump modified_at, so a section status needs them all.
        Returns the tasks touched since the last reconciliation: a move that left the status
        where it was is invisible in the snapshot, so their stories are worth reading."""
        since = state.reconcile_since()
        params = {"project": self.project.gid}
        if not self.by_section:
            params["modified_since"] = since
        listed = self._list(params)
        _collect(tasks, listed)
        state.reconciled_at = iso(now)
        self._log.info("asana.resynced", tasks=len(listed))
        cutoff = parse_time(since)
        touched = {t["gid"]: _modified_at(t) for t in listed}
        return {gid for gid, modified in touched.items() if modified and modified >= cutoff}

    def _reread(self, named: set[str], moves: EventMoves, tasks: dict[str, Task]) -> None:
        """Many tasks changed (a burst): one listing of the project's tasks modified since the
        oldest change, 100 a page, instead of a batch call per 10. Whatever it does not return
        (a section move alone leaves modified_at as it was) is read by gid after it."""
        since = moves.listing_since()
        if since is None or len((moves.touched & named) - tasks.keys()) <= BATCH_SIZE:
            return
        listed = self._list({"project": self.project.gid, "modified_since": iso(since)})
        _collect(tasks, listed)
        self._log.info("asana.reread_listed", tasks=len(listed))

    def _read_rest(self, named: set[str], tasks: dict[str, Task]) -> bool:
        """The named tasks not read yet, 10 per batch call; False when a read went unanswered."""
        to_read = sorted(named - tasks.keys())
        if not to_read:
            return True
        read, complete = self.project.read_tasks(to_read, self._log)
        _collect(tasks, read)
        return complete

    def _date(self, moves: EventMoves, tasks: Mapping[str, Task]) -> None:
        """The moves the feed dates by itself (moves.py); the rest are the stories' to tell."""
        sections = set(self.project.sections().values()) \
            if self.by_section and moves.has_hops() else None
        for gid, task in tasks.items():
            if not moves.has_hops(gid):
                continue
            record = self._record(task)
            section = next(((m.get("section") or {}).get("gid") for m in _objects(task, "memberships")
                            if (m.get("project") or {}).get("gid") == self.project.gid), None)
            dated = moves.dated(gid, record.status, section, sections)
            if dated is not None:
                self._dated[gid] = dated

    def _in_project(self, task: Mapping[str, Any]) -> bool:
        return any((m.get("project") or {}).get("gid") == self.project.gid
                   for m in _objects(task, "memberships"))

    def _record(self, task: Mapping[str, Any]) -> Record:
        gid = task["gid"]
        fields = {cf["name"]: normalize_custom_field(cf) for cf in _objects(task, "custom_fields")
                  if isinstance(cf.get("name"), str) and cf["name"]}
        assignee = task.get("assignee") or None
        if assignee is not None and not isinstance(assignee, dict):
            raise PayloadError(f"Asana task {gid}: assignee is not an object")
        fields["assignee"] = assignee.get("gid") if assignee else None
        fields["assignee_name"] = assignee.get("name") if assignee else None
        fields["due_on"] = task.get("due_on")
        fields["completed"] = bool(task.get("completed"))
        if self.by_section:
            status = next((((m.get("section") or {}).get("name"))
                           for m in _objects(task, "memberships")
                           if (m.get("project") or {}).get("gid") == self.project.gid), None)
        else:
            value = fields.get(self.source.status)
            status = value if isinstance(value, str) else None
        modified = _modified_at(task)
        name = task.get("name")
        url = task.get("permalink_url")
        return Record(
            source=self.source.id, id=gid, url=url if isinstance(url, str) else "",
            name=name if isinstance(name, str) else "", status=status,
            owner=fields["assignee"], fields=fields,
            modified_at=modified if modified is not None else datetime.now(UTC),
        )

    # -- history

    def status_history(self, record_ids: Sequence[str], since: datetime | None,
                       *, again: bool = False) -> Mapping[str, Sequence[StatusChange]]:
        """Status changes from the tasks' stories, oldest first; one batch call per 10 tasks.
        A task whose stories this poll already handed over costs nothing (`again`: read anyway)."""
        wanted = [gid for gid in dict.fromkeys(record_ids) if again or gid not in self._told]
        history: dict[str, list[StatusChange]] = {gid: [] for gid in record_ids}
        if not wanted:
            return history
        if not again:  # dated by the events feed: no story read
            for gid in [g for g in wanted if g in self._dated]:
                history[gid] = [c for c in self._dated[gid] if since is None or c.at >= since]
            wanted = [gid for gid in wanted if gid not in self._dated]
            if not wanted:
                return history
        with for_source(self.source.id):
            sections = set(self.project.sections().values()) if self.by_section else set()
            stories_of = self.project.read_lists(wanted, "stories", HISTORY_FIELDS)
            for gid, stories in stories_of.items():
                changes, fields = [], []
                for story in sorted(stories, key=lambda s: str(s.get("created_at") or "")):
                    change = self._status_change(gid, story, sections)
                    if change and (since is None or change.at >= since):
                        changes.append(change)
                    field = field_change(gid, story)
                    if field is not None:
                        fields.append(replace(field, at=_time(field.at, gid)))
                history[gid] = changes
                self._field_changes[gid] = fields
        self._told.update(wanted)
        return history

    def field_history(self, record_ids: Sequence[str],
                      since: datetime) -> Mapping[str, Sequence[FieldChange]]:
        """Custom-field changes (text, number, enum) at or after `since`, from the stories this
        poll read for the status history (a task not read yet costs one batch call per 10)."""
        missing = [gid for gid in dict.fromkeys(record_ids) if gid not in self._field_changes]
        if missing:
            self.status_history(missing, None, again=True)
        return {gid: [c for c in self._field_changes.get(gid, []) if c.at >= since]
                for gid in record_ids}

    def _status_change(self, gid: str, story: Mapping[str, Any],
                       sections: set[str]) -> StatusChange | None:
        subtype = story.get("resource_subtype")
        at = story.get("created_at")
        if not at:
            return None
        if self.by_section and subtype == "section_changed":
            new, old = story.get("new_section") or {}, story.get("old_section") or {}
            if not isinstance(new, dict) or not isinstance(old, dict):
                raise PayloadError(f"Asana story of task {gid}: a section is not an object")
            when = _time(at, gid)
            if new.get("gid") not in sections or not new.get("name"):
                return None  # a move inside another project this task is also in
            return StatusChange(gid, old.get("name"), new["name"], when, TimeSource.HISTORY)
        if not self.by_section and subtype == "enum_custom_field_changed":
            if (story.get("custom_field") or {}).get("name") != self.source.status:
                return None
            new, old = story.get("new_enum_value") or {}, story.get("old_enum_value") or {}
            if not isinstance(new, dict) or not isinstance(old, dict):
                raise PayloadError(f"Asana story of task {gid}: an enum value is not an object")
            if not new.get("name"):
                return None  # cleared: no status to move to
            return StatusChange(gid, old.get("name"), new["name"], _time(at, gid),
                                TimeSource.HISTORY)
        return None


# --- checking what Asana sent ----------------------------------------------------------------------

def _collect(into: dict[str, Task], tasks: Sequence[Task]) -> None:
    for task in tasks:
        into[_gid(task, "Asana: a task's gid")] = task


def _gid(item: Mapping[str, Any], what: str) -> str:
    gid = item.get("gid")
    if not isinstance(gid, str) or not gid:
        raise PayloadError(f"{what} is missing")
    return gid


def _object(event: Mapping[str, Any], key: str, index: int) -> Mapping[str, Any]:
    value = event.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"Asana GET /events: data[{index}].{key} is not an object")
    return value


def _objects(task: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = task.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise PayloadError(f"Asana task {task.get('gid')}: {key} is not a list of objects")
    return value


def _modified_at(task: Mapping[str, Any]) -> datetime | None:
    value = task.get("modified_at")
    return _time(value, task.get("gid")) if value else None


def _time(value: Any, gid: Any) -> datetime:
    try:
        return parse_time(value)
    except (TypeError, ValueError, AttributeError):
        raise PayloadError(f"Asana task {gid}: {value!r} is not a timestamp") from None
