"""Asana over the official asana SDK (v5): events for change detection, stories for history.

Two layers:
- `AsanaWorkspace` owns transport: the one `ApiClient` per process, the rate budget, timeouts,
  the error mapping and the retry policy. Nothing else here touches the SDK's exceptions.
- `AsanaConnector` is one configured source (a project): it turns tasks into `Record`s, stories
  into `StatusChange`s and `Action`s into comments, subtasks, section moves and field writes.

How a poll finds changes (the cursor is `{"v":1,"sync":...,"reconciled_at":...,"cycle":n,
"reconciles":k}`):
- baseline: one events call (412 -> a first sync token), then every task of the project
  (`GET /tasks?project=` at limit 100). Token first, so nothing between the two is missed.
- every cycle: `GET /events?resource=<project>&sync=<token>` (one call when idle; more while
  `has_more`). Tasks named by events are re-read with `POST /batch` (10 GETs per call): a
  `modified_since` poll would be one call, but a section move does not bump `modified_at`
  (spec: "moving to a new container" does not), so it would miss exactly the changes we watch.
- every `reconcile_every` cycles: `GET /tasks?project&modified_since=<last reconcile - overlap>`,
  because events are delivered at most once. Every `FULL_SWEEP_EVERY`-th reconciliation lists
  the whole project instead, the only poll that sees a section move whose event was lost.
- a 412 (token expired) stores the fresh token and lists the whole project (section status) or
  the tasks modified since the last reconciliation (enum status, whose changes bump
  `modified_at`); returning a task twice is harmless, the engine drops duplicate transitions.

Retries: the SDK's own urllib3 retry is switched off so there is one bounded policy
(connectors/retry.py) that logs its waits and honours Retry-After. Reads are retried on any
TransientError; writes (POST) only on 429, which Asana rejects before doing anything. A write that
fails transiently is reported `retryable=True`; the engine calls `find_written` before trying again.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asana
import structlog
import urllib3
from asana.rest import ApiException
from urllib3.util.retry import Retry

from baton.core.keys import IDEMPOTENCY_TAG, idempotency_marker
from baton.connectors.base import Connector
from baton.core.actions import Action, ActionKind, ActionResult, Capabilities
from baton.core.owners import OwnerKind
from baton.core.records import ChangeBatch, Record, StatusChange, TimeSource
from baton.connectors.budget import RateBudget
from baton.core.errors import AuthError, PayloadError, RateLimited, SourceError, TransientError
from baton.connectors.retry import RetryPolicy, parse_retry_after
from baton.core.config import AsanaSettings, AsanaSource, Secrets
from baton.core.faults import crashpoint

log = structlog.get_logger()
T = TypeVar("T")

TOKEN_ENV = "ASANA_ACCESS_TOKEN"
PAGE_SIZE = 100
BATCH_SIZE = 10  # the Batch API's maximum
RECONCILE_OVERLAP = timedelta(minutes=5)  # clock skew and late commits
FULL_SWEEP_EVERY = 6  # every 6th reconciliation lists the whole project
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
]
MARKER_FIELDS = ["type", "resource_subtype", "text"]
SUBTASK_FIELDS = ["name", "notes", "completed"]
_MARKER = re.compile(r"\[" + re.escape(IDEMPOTENCY_TAG) + r"([^\]\s]+)\]")
_STATUS_STORIES = {"section_changed", "enum_custom_field_changed"}


class _SyncExpired(Exception):
    """The events sync token was missing or too old; `sync` is the fresh one Asana sent."""

    def __init__(self, sync: str) -> None:
        super().__init__("sync token expired")
        self.sync = sync


# --- transport ------------------------------------------------------------------------------------

class AsanaWorkspace:
    """The one Asana API client of this process, shared by every Asana source."""

    def __init__(self, settings: AsanaSettings, secrets: Secrets, retry: RetryPolicy, *,
                 budget: RateBudget | None = None) -> None:
        token = secrets.require(TOKEN_ENV, "the Asana connector")
        self._secrets = [s for s in secrets.handed_out() if s] or [token]
        self.settings = settings
        self.retry = retry
        self.budget = budget or RateBudget(settings.requests_per_minute, tool="asana")
        config = asana.Configuration()
        # host and TLS before the ApiClient: its urllib3 pool is built in the constructor
        config.host = settings.base_url.rstrip("/")
        if settings.ca_bundle:
            config.ssl_ca_cert = settings.ca_bundle
        config.access_token = token
        config.retry_strategy = Retry(total=0, redirect=0, status_forcelist=(),
                                      raise_on_status=False)
        config.debug = False
        self.client = asana.ApiClient(config)
        self._timeout = (min(10.0, settings.timeout_seconds), settings.timeout_seconds)
        self._calls: Counter[str] = Counter()
        self._me: dict[str, Any] | None = None
        self._tasks = asana.TasksApi(self.client)
        self._events = asana.EventsApi(self.client)
        self._stories = asana.StoriesApi(self.client)
        self._sections = asana.SectionsApi(self.client)
        self._fields = asana.CustomFieldSettingsApi(self.client)
        self._users = asana.UsersApi(self.client)
        self._batch = asana.BatchAPIApi(self.client)

    # -- bookkeeping

    def api_calls(self) -> dict[str, int]:
        return dict(self._calls)

    def total_calls(self) -> int:
        return sum(self._calls.values())

    def close(self) -> None:
        """Stop the SDK's idle thread pool now; left to ApiClient.__del__ at interpreter exit it
        writes to a pipe already closed and prints a traceback. Idempotent."""
        pool = getattr(self.client, "pool", None)
        if pool is not None:
            pool.close()
            pool.join()
            del self.client.pool  # ApiClient.__del__ then has nothing left to close

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- the one way to make a call

    def call(self, endpoint: str, fn: Callable[[Any], T], *, cost: int = 1,
             write: bool = False) -> T:
        """Run `fn(timeout)` within the budget, mapping errors; reads retry, writes only on 429."""

        def attempt() -> T:
            self.budget.acquire(cost)
            self._calls[endpoint] += 1
            try:
                result = fn(self._timeout)
            except ApiException as error:
                raise self._map(endpoint, error) from None
            except (urllib3.exceptions.HTTPError, OSError) as error:
                # MaxRetryError (connection refused, reset, timeouts) and socket errors
                raise TransientError(self.scrub(
                    f"Asana {endpoint}: {type(error).__name__}: {error}")) from None
            if not isinstance(result, dict):
                raise TransientError(f"Asana {endpoint}: the answer was not a JSON object")
            return result  # type: ignore[return-value]

        return self.retry.call(attempt, tool="asana", what=endpoint, write=write)

    def _map(self, endpoint: str, error: ApiException) -> Exception:
        """The decision table: HTTP status -> what the caller does next."""
        status = error.status or 0
        message = self.scrub(f"Asana {endpoint}: HTTP {status} {_error_message(error)}")
        if status == 412:
            sync = _json_body(error).get("sync")
            if isinstance(sync, str) and sync:
                return _SyncExpired(sync)
            return PayloadError(message + " (412 without a sync token)")
        if status == 429:
            headers = error.headers or {}
            return RateLimited(message, parse_retry_after(headers.get("Retry-After")))
        if status == 0 or status >= 500:
            return TransientError(message)
        if status in (401, 403):
            return AuthError(message)
        if status == 400:
            return PayloadError(message)
        if status == 402:
            return SourceError(message + " (a premium Asana feature)")
        return SourceError(message)  # 404 and the rest

    # -- endpoints

    def me(self) -> dict[str, Any]:
        if self._me is None:
            self._me = self.call("GET /users/me", lambda t: self._users.get_user(
                "me", {"opt_fields": "name,email"}, full_payload=True, _request_timeout=t))["data"]
        return self._me

    def list_tasks(self, params: dict[str, str]) -> list[dict[str, Any]]:
        opts = {**params, "limit": PAGE_SIZE, "opt_fields": TASK_FIELDS}
        return self._pages("GET /tasks", lambda o, t: self._tasks.get_tasks(
            o, full_payload=True, _request_timeout=t), opts)

    def get_task(self, gid: str, opt_fields: str) -> dict[str, Any]:
        return self.call("GET /tasks/{gid}", lambda t: self._tasks.get_task(
            gid, {"opt_fields": opt_fields}, full_payload=True, _request_timeout=t))["data"]

    def events(self, project: str, sync: str | None) -> dict[str, Any]:
        """One events call; raises _SyncExpired(fresh token) on 412."""
        opts = {"sync": sync} if sync else {}
        return self.call("GET /events", lambda t: self._events.get_events(
            project, dict(opts), full_payload=True, _request_timeout=t))

    def sections(self, project: str) -> list[dict[str, Any]]:
        return self._pages("GET /projects/{gid}/sections",
                           lambda o, t: self._sections.get_sections_for_project(
                               project, o, full_payload=True, _request_timeout=t),
                           {"limit": PAGE_SIZE, "opt_fields": "name"})

    def custom_fields(self, project: str) -> list[dict[str, Any]]:
        fields = ("custom_field.name,custom_field.resource_subtype,custom_field.type,"
                  "custom_field.enum_options.name,custom_field.enum_options.enabled")
        return self._pages("GET /projects/{gid}/custom_field_settings",
                           lambda o, t: self._fields.get_custom_field_settings_for_project(
                               project, o, full_payload=True, _request_timeout=t),
                           {"limit": PAGE_SIZE, "opt_fields": fields})

    def get_page(self, path: str, params: dict[str, Any], endpoint: str) -> dict[str, Any]:
        """A GET on a path (for the rare next page after a batch read)."""
        return self.call(endpoint, lambda t: self.client.call_api(
            path, "GET", query_params=dict(params), header_params={"Accept": "application/json"},
            response_type=object, auth_settings=["personalAccessToken"],
            _return_http_data_only=True, _request_timeout=t))

    def batch(self, actions: Sequence[dict[str, Any]], *, write: bool) -> list[dict[str, Any]]:
        """POST /batch with at most 10 actions; one result per action, in order."""
        assert 0 < len(actions) <= BATCH_SIZE
        body = {"data": {"actions": list(actions)}}
        result = self.call("POST /batch", lambda t: self._batch.create_batch_request(
            body, {}, full_payload=True, _request_timeout=t), cost=len(actions), write=write)
        data = result.get("data")
        if not isinstance(data, list) or len(data) != len(actions):
            raise TransientError("Asana POST /batch: the answer does not match the actions sent")
        return data

    def _pages(self, endpoint: str, fetch: Callable[[dict[str, Any], Any], Any],
               opts: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        opts = dict(opts)
        while True:
            page = self.call(endpoint, lambda t, o=dict(opts): fetch(o, t))
            data = page.get("data")
            if not isinstance(data, list):
                raise PayloadError(f"Asana {endpoint}: no data list in the answer")
            items.extend(data)
            next_page = page.get("next_page")
            if not next_page or not next_page.get("offset"):
                return items
            opts["offset"] = next_page["offset"]


def _json_body(error: ApiException) -> dict[str, Any]:
    try:
        body = json.loads(error.body or b"{}")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _error_message(error: ApiException) -> str:
    errors = _json_body(error).get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message", error.reason or ""))
    return str(error.reason or "")


def _batch_error(result: Mapping[str, Any]) -> str:
    body = result.get("body") or {}
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message", ""))
    return f"HTTP {result.get('status_code')}"


# --- the cursor ---------------------------------------------------------------------------------

@dataclass
class _Cursor:
    sync: str
    reconciled_at: str  # ISO UTC: the start of the last poll that listed tasks
    cycle: int = 0
    reconciles: int = 0
    v: int = 1

    @classmethod
    def load(cls, text: str | None) -> _Cursor | None:
        if not text:
            return None
        try:
            raw = json.loads(text)
            return cls(**{k: raw[k] for k in ("sync", "reconciled_at", "cycle", "reconciles")})
        except (ValueError, KeyError, TypeError):
            log.warning("asana.cursor_unreadable")
            return None

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)


# --- the connector ------------------------------------------------------------------------------

class AsanaConnector(Connector):
    """One Asana project as a Baton source; status is its section or an enum custom field."""

    # A fixed task's earlier comment stays as the record of what was wrong: no new comment
    # (teams hate noise); its subtask is completed.
    capabilities = Capabilities(
        writes=frozenset({ActionKind.COMMENT, ActionKind.TASK, ActionKind.SET_FIELD,
                          ActionKind.MOVE_STATUS, ActionKind.REASSIGN, ActionKind.CLOSE_TASK,
                          ActionKind.REPLY}),
        owners=frozenset({OwnerKind.OWNER, OwnerKind.USER}), comment_resolution=None)

    def __init__(self, source: AsanaSource, workspace: AsanaWorkspace) -> None:
        self.source = source
        self.source_id = source.id
        self.project = source.project
        self.workspace = workspace
        self.by_section = source.status == "section"
        self._log = log.bind(source=source.id)
        self._section_gids: dict[str, str] | None = None  # name -> gid
        self._field_defs: dict[str, dict[str, Any]] | None = None  # name -> custom field
        self._last_status: dict[str, str | None] = {}
        self._suspects: set[str] = set()  # tasks whose status may have changed since last read

    def api_calls(self) -> Mapping[str, int]:
        return self.workspace.api_calls()

    # -- reading

    def close(self) -> None:
        self.workspace.close()

    def fetch_changes(self, cursor: str | None, now: datetime) -> ChangeBatch:
        calls_before = self.workspace.total_calls()
        state = _Cursor.load(cursor)
        tasks: dict[str, dict[str, Any]] = {}
        hinted: set[str] = set()
        complete = True
        if state is None:
            sync = self._first_sync_token()
            self._collect(tasks, self.workspace.list_tasks({"project": self.project}))
            state = _Cursor(sync=sync, reconciled_at=_iso(now))
            self._log.info("asana.baseline", tasks=len(tasks))
        else:
            state.cycle += 1
            named, hinted, resynced = self._read_events(state)
            if resynced:
                self._resync(state, tasks, now)
            elif state.cycle % self.workspace.settings.reconcile_every == 0:
                self._reconcile(state, tasks, now)
            to_read = sorted(named - tasks.keys())
            if to_read:
                read, complete = self._read_tasks(to_read)
                self._collect(tasks, read)
        records = [self._record(t) for t in tasks.values() if self._in_project(t)]
        self._track(records, hinted)
        new_cursor = state.dump() if complete else cursor
        return ChangeBatch(records=records, cursor=new_cursor, complete=complete,
                           api_calls=self.workspace.total_calls() - calls_before)

    def _first_sync_token(self) -> str:
        try:
            result = self.workspace.events(self.project, None)
        except _SyncExpired as expired:
            return expired.sync
        sync = result.get("sync")  # an API that answers 200 without a token first: take it
        if not isinstance(sync, str):
            raise PayloadError("Asana GET /events: no sync token in the answer")
        return sync

    def _read_events(self, state: _Cursor) -> tuple[set[str], set[str], bool]:
        """Drain the events feed: (tasks to re-read, tasks whose status may have moved, 412?)."""
        named: set[str] = set()
        hinted: set[str] = set()
        me = None
        while True:
            try:
                result = self.workspace.events(self.project, state.sync)
            except _SyncExpired as expired:
                self._log.warning("asana.sync_token_expired")
                state.sync = expired.sync
                return named, hinted, True
            events = result.get("data") or []
            if events and me is None:
                me = self.workspace.me()["gid"]
            for event in events:
                self._classify(event, me, named, hinted)
            sync = result.get("sync")
            if isinstance(sync, str) and sync:
                state.sync = sync
            if not result.get("has_more"):
                return named, hinted, False

    def _classify(self, event: Mapping[str, Any], me: str | None, named: set[str],
                  hinted: set[str]) -> None:
        resource = event.get("resource") or {}
        parent = event.get("parent") or {}
        user = (event.get("user") or {}).get("gid")
        kind = resource.get("resource_type")
        if kind == "task":
            if parent.get("resource_type") == "task":
                return  # a subtask added/removed: the parent's status did not move
            named.add(resource["gid"])
            change = event.get("change") or {}
            if parent.get("resource_type") == "section" or (
                    not self.by_section and change.get("field") == "custom_fields"):
                hinted.add(resource["gid"])
        elif kind == "story" and parent.get("resource_type") == "task":
            if user is not None and user == me:
                return  # our own comments and the stories of our own moves
            named.add(parent["gid"])
            if resource.get("resource_subtype") in _STATUS_STORIES:
                hinted.add(parent["gid"])

    def _reconcile(self, state: _Cursor, tasks: dict[str, dict[str, Any]], now: datetime) -> None:
        state.reconciles += 1
        if self.by_section and state.reconciles % FULL_SWEEP_EVERY == 0:
            self._collect(tasks, self.workspace.list_tasks({"project": self.project}))
            kind = "full"
        else:
            since = _parse(state.reconciled_at) - RECONCILE_OVERLAP
            self._collect(tasks, self.workspace.list_tasks(
                {"project": self.project, "modified_since": _iso(since)}))
            kind = "modified_since"
        state.reconciled_at = _iso(now)
        self._log.info("asana.reconciled", kind=kind, tasks=len(tasks))

    def _resync(self, state: _Cursor, tasks: dict[str, dict[str, Any]], now: datetime) -> None:
        """After a 412: section moves do not bump modified_at, so a section status needs them all."""
        params = {"project": self.project}
        if not self.by_section:
            since = _parse(state.reconciled_at) - RECONCILE_OVERLAP
            params["modified_since"] = _iso(since)
        listed = self.workspace.list_tasks(params)
        self._collect(tasks, listed)
        # a move that left the status where it was is invisible in the snapshot; tasks touched
        # since the last reconciliation get their stories read when asked
        since = _parse(state.reconciled_at) - RECONCILE_OVERLAP
        state.reconciled_at = _iso(now)
        for task in listed:
            if task.get("modified_at") and _parse(task["modified_at"]) >= since:
                self._suspects.add(task["gid"])
        self._log.info("asana.resynced", tasks=len(listed))

    def _read_tasks(self, gids: Sequence[str]) -> tuple[list[dict[str, Any]], bool]:
        """Re-read tasks by gid, 10 per batch call; (tasks, every read answered?)."""
        found: list[dict[str, Any]] = []
        complete = True
        fields = TASK_FIELDS.split(",")
        for chunk in _chunks(gids, BATCH_SIZE):
            actions = [{"relative_path": f"/tasks/{g}", "method": "get",
                        "options": {"fields": fields}} for g in chunk]
            try:
                results = self.workspace.batch(actions, write=False)
            except TransientError as error:
                self._log.warning("asana.reread_failed", error=str(error))
                return found, False
            for gid, result in zip(chunk, results):
                status = result.get("status_code", 0)
                if 200 <= status < 300:
                    found.append((result.get("body") or {}).get("data") or {})
                elif status in (403, 404):
                    continue  # deleted, or no longer visible to us
                else:
                    self._log.warning("asana.reread_failed", task=gid, status=status)
                    complete = False
        return [t for t in found if t.get("gid")], complete

    @staticmethod
    def _collect(into: dict[str, dict[str, Any]], tasks: Iterable[dict[str, Any]]) -> None:
        for task in tasks:
            into[task["gid"]] = task

    def _in_project(self, task: Mapping[str, Any]) -> bool:
        return any((m.get("project") or {}).get("gid") == self.project
                   for m in task.get("memberships") or [])

    def _track(self, records: Sequence[Record], hinted: set[str]) -> None:
        """Remember statuses, and which tasks may have moved (the only ones worth stories)."""
        for record in records:
            known = record.id in self._last_status
            if not known or self._last_status[record.id] != record.status or record.id in hinted:
                self._suspects.add(record.id)
            self._last_status[record.id] = record.status

    def _record(self, task: Mapping[str, Any]) -> Record:
        fields = {cf["name"]: normalize_custom_field(cf) for cf in task.get("custom_fields") or []
                  if cf.get("name")}
        assignee = task.get("assignee") or None
        fields["assignee"] = assignee["gid"] if assignee else None
        fields["assignee_name"] = assignee.get("name") if assignee else None
        fields["due_on"] = task.get("due_on")
        fields["completed"] = bool(task.get("completed"))
        if self.by_section:
            status = next((((m.get("section") or {}).get("name"))
                           for m in task.get("memberships") or []
                           if (m.get("project") or {}).get("gid") == self.project), None)
        else:
            value = fields.get(self.source.status)
            status = value if isinstance(value, str) else None
        return Record(
            source=self.source_id, id=task["gid"], url=task.get("permalink_url") or "",
            name=task.get("name") or "", status=status,
            owner=assignee["gid"] if assignee else None, fields=fields,
            modified_at=_parse(task["modified_at"]) if task.get("modified_at") else
            datetime.now(UTC),
        )

    # -- history

    def status_history(self, record_ids: Sequence[str],
                       since: datetime | None) -> Mapping[str, Sequence[StatusChange]]:
        """Stories of the tasks whose status may have moved; the others cost nothing."""
        wanted = [gid for gid in dict.fromkeys(record_ids) if gid in self._suspects]
        history: dict[str, list[StatusChange]] = {gid: [] for gid in record_ids}
        if not wanted:
            return history
        sections = set(self._sections().values()) if self.by_section else set()
        for gid, stories in self._read_lists(wanted, "stories", HISTORY_FIELDS).items():
            changes = []
            for story in sorted(stories, key=lambda s: s.get("created_at") or ""):
                change = self._status_change(gid, story, sections)
                if change and (since is None or change.at >= since):
                    changes.append(change)
            history[gid] = changes
            self._suspects.discard(gid)
        return history

    def backfill_history(self, record_ids: Sequence[str],
                         since: datetime | None) -> Mapping[str, Sequence[StatusChange]]:
        """Every task's stories, for `baton backfill` (status_history reads only suspects)."""
        self._suspects.update(record_ids)
        return self.status_history(record_ids, since)

    def _status_change(self, gid: str, story: Mapping[str, Any],
                       sections: set[str]) -> StatusChange | None:
        subtype = story.get("resource_subtype")
        at = story.get("created_at")
        if not at:
            return None
        if self.by_section and subtype == "section_changed":
            new, old = story.get("new_section") or {}, story.get("old_section") or {}
            if new.get("gid") not in sections or not new.get("name"):
                return None  # a move inside another project this task is also in
            return StatusChange(gid, old.get("name"), new["name"], _parse(at), TimeSource.HISTORY)
        if not self.by_section and subtype == "enum_custom_field_changed":
            if (story.get("custom_field") or {}).get("name") != self.source.status:
                return None
            new, old = story.get("new_enum_value") or {}, story.get("old_enum_value") or {}
            if not new.get("name"):
                return None  # cleared: no status to move to
            return StatusChange(gid, old.get("name"), new["name"], _parse(at), TimeSource.HISTORY)
        return None

    def _read_lists(self, gids: Sequence[str], what: str,
                    fields: list[str]) -> dict[str, list[dict[str, Any]]]:
        """`/tasks/{gid}/{what}` for many tasks, 10 per batch call, following rare next pages."""
        out: dict[str, list[dict[str, Any]]] = {}
        endpoint = f"GET /tasks/{{gid}}/{what}"
        for chunk in _chunks(gids, BATCH_SIZE):
            actions = [{"relative_path": f"/tasks/{g}/{what}", "method": "get",
                        "options": {"limit": PAGE_SIZE, "fields": fields}} for g in chunk]
            for gid, result in zip(chunk, self.workspace.batch(actions, write=False)):
                status = result.get("status_code", 0)
                if status in (403, 404):
                    out[gid] = []
                    continue
                if not 200 <= status < 300:
                    raise TransientError(f"Asana batch {endpoint} for {gid}: {_batch_error(result)}")
                body = result.get("body") or {}
                items = list(body.get("data") or [])
                next_page = body.get("next_page")
                while next_page and next_page.get("offset"):
                    page = self.workspace.get_page(
                        f"/tasks/{gid}/{what}", {"limit": PAGE_SIZE, "opt_fields": ",".join(fields),
                                                 "offset": next_page["offset"]}, endpoint)
                    items.extend(page.get("data") or [])
                    next_page = page.get("next_page")
                out[gid] = items
        return out

    # -- writing

    def write_back(self, actions: Sequence[Action]) -> Sequence[ActionResult]:
        results: dict[str, ActionResult] = {}
        planned: list[tuple[Action, dict[str, Any]]] = []
        for action in actions:
            try:
                planned.append((action, self._plan(action)))
            except SourceError as error:
                results[action.key] = ActionResult(action.key, False, error=str(error),
                                                   retryable=isinstance(error, TransientError))
        for number, chunk in enumerate(_chunks(planned, BATCH_SIZE)):
            if number:
                crashpoint("between_writes")
            for (action, _), result in self._send(chunk):
                if action.kind is ActionKind.CLOSE_TASK and "HTTP 404" in (result.error or ""):
                    # the subtask was deleted: nothing is left open
                    result = ActionResult(action.key, True, remote_id=action.target)
                results[action.key] = result
        written = sum(1 for r in results.values() if r.ok)
        self._log.info("asana.written", actions=len(actions), ok=written)
        return [results[a.key] for a in actions]

    def _send(self, chunk: Sequence[tuple[Action, dict[str, Any]]]
              ) -> list[tuple[tuple[Action, dict[str, Any]], ActionResult]]:
        try:
            answers = self.workspace.batch([request for _, request in chunk], write=True)
        except TransientError as error:
            # the batch may or may not have run: the engine asks find_written before retrying
            return [(item, ActionResult(item[0].key, False, error=str(error), retryable=True))
                    for item in chunk]
        except SourceError as error:
            return [(item, ActionResult(item[0].key, False, error=str(error)))
                    for item in chunk]
        out = []
        for item, answer in zip(chunk, answers):
            action, request = item
            status = answer.get("status_code", 0)
            if 200 <= status < 300:
                data = (answer.get("body") or {}).get("data") or {}
                remote = data.get("gid") or (request.get("data") or {}).get("task") or \
                    action.record_id
                out.append((item, ActionResult(action.key, True, remote_id=str(remote))))
            else:
                retryable = status == 429 or status >= 500
                out.append((item, ActionResult(
                    action.key, False, error=f"HTTP {status} {_batch_error(answer)}",
                    retryable=retryable)))
        return out

    def _plan(self, action: Action) -> dict[str, Any]:
        """One Batch API action for one Baton action (raises SourceError if it cannot be)."""
        marker = _marker_line(action.key)
        task = action.record_id
        if action.kind is ActionKind.COMMENT:
            return {"relative_path": f"/tasks/{task}/stories", "method": "post",
                    "data": {"text": f"{action.text}\n\n{marker}"}}
        if action.kind is ActionKind.TASK:
            data: dict[str, Any] = {"name": action.subject or action.text[:80] or "Baton",
                                    "notes": f"{action.text}\n\n{marker}"}
            assignee = self._assignee(action)
            if assignee:
                data["assignee"] = assignee
            return {"relative_path": f"/tasks/{task}/subtasks", "method": "post", "data": data}
        if action.kind is ActionKind.MOVE_STATUS:
            if self.by_section:
                sections = self._sections()
                if str(action.value) not in sections:
                    raise SourceError(f"project {self.project} has no section named "
                                      f"{action.value!r}")
                return {"relative_path": f"/sections/{sections[str(action.value)]}/addTask",
                        "method": "post", "data": {"task": task}}
            return self._put_field(task, self.source.status, action.value)
        if action.kind is ActionKind.SET_FIELD:
            if not action.field:
                raise SourceError(f"action {action.key}: SET_FIELD without a field")
            return self._put_field(task, action.field, action.value)
        if action.kind is ActionKind.REASSIGN:
            assignee = self._assignee(action)
            if not assignee:
                raise SourceError(f"action {action.key}: no Asana user for {action.assignee!r}")
            return {"relative_path": f"/tasks/{task}", "method": "put", "data": {"assignee": assignee}}
        if action.kind is ActionKind.CLOSE_TASK:
            if not action.target:
                raise SourceError(f"action {action.key}: CLOSE_TASK without the task to close")
            return {"relative_path": f"/tasks/{action.target}", "method": "put",
                    "data": {"completed": True}}
        if action.kind is ActionKind.REPLY:
            return self._resolved_comment(action)
        raise SourceError(f"action {action.key}: unknown kind {action.kind}")

    def _resolved_comment(self, action: Action) -> dict[str, Any]:
        text = action.text or "Resolved: the earlier Baton check now passes."
        return {"relative_path": f"/tasks/{action.record_id}/stories", "method": "post",
                "data": {"text": f"{text}\n\n{_marker_line(action.key)}"}}

    def _put_field(self, task: str, name: str, value: Any) -> dict[str, Any]:
        builtin = {"name", "notes", "due_on", "completed", "assignee"}
        if name in builtin:
            return {"relative_path": f"/tasks/{task}", "method": "put", "data": {name: value}}
        field = self._fields().get(name)
        if field is None:
            raise SourceError(f"project {self.project} has no custom field named {name!r}")
        return {"relative_path": f"/tasks/{task}", "method": "put",
                "data": {"custom_fields": {field["gid"]: _encode_value(field, value)}}}

    def _assignee(self, action: Action) -> str | None:
        """The record's assignee (as the planner saw it), or a named user (Asana takes a gid or
        an email)."""
        reference = action.assignee
        if reference is None or reference.kind is OwnerKind.OWNER:
            if action.record_owner is None:  # planned by an older build: ask the task
                return (self.workspace.get_task(action.record_id, "assignee").get("assignee")
                        or {}).get("gid")
            return action.record_owner or None
        if reference.kind is OwnerKind.USER and reference.value:
            return reference.value
        raise SourceError(f"action {action.key}: Asana cannot assign to {reference} "
                          "(no queues or managers; name a user)")

    def find_written(self, actions: Sequence[Action]) -> Mapping[str, str]:
        """Markers in the tasks' comments (comments, resolve notes) and subtasks (tasks)."""
        keys = {a.key for a in actions}
        comment_tasks = sorted({a.record_id for a in actions
                                if a.kind in (ActionKind.COMMENT, ActionKind.REPLY)})
        subtask_tasks = sorted({a.record_id for a in actions if a.kind is ActionKind.TASK})
        found: dict[str, str] = {}
        for stories in self._read_lists(comment_tasks, "stories", MARKER_FIELDS).values():
            for story in stories:
                if story.get("type") == "comment" or story.get("resource_subtype") == "comment_added":
                    for key in _MARKER.findall(story.get("text") or ""):
                        if key in keys:
                            found.setdefault(key, story["gid"])
        for subtasks in self._read_lists(subtask_tasks, "subtasks", SUBTASK_FIELDS).values():
            for subtask in subtasks:
                for key in _MARKER.findall(subtask.get("notes") or ""):
                    if key in keys:
                        found.setdefault(key, subtask["gid"])
        return found

    # -- project metadata (read once per process)

    def _sections(self) -> dict[str, str]:
        if self._section_gids is None:
            self._section_gids = {s["name"]: s["gid"]
                                  for s in self.workspace.sections(self.project)}
        return self._section_gids

    def _fields(self) -> dict[str, dict[str, Any]]:
        if self._field_defs is None:
            self._field_defs = {
                s["custom_field"]["name"]: s["custom_field"]
                for s in self.workspace.custom_fields(self.project) if s.get("custom_field")
            }
        return self._field_defs


# --- values ---------------------------------------------------------------------------------------

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


def _encode_value(field: Mapping[str, Any], value: Any) -> Any:
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


def _marker_line(key: str) -> str:
    return f"— Baton {idempotency_marker(key)}"


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _iso(when: datetime) -> str:
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _parse(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
