"""The Asana API client of this process: the SDK's `ApiClient`, its `Transport` and error table.

One `AsanaWorkspace` is shared by every Asana source (the SDK builds a thread pool per client,
and Asana's rate limit is per token). It counts nothing itself: every call names the counter of
the source that asked (`Transport.call(counter=...)`), so two projects on one workspace each
count their own calls.

Retries: the SDK's own urllib3 retry is switched off so there is one bounded policy
(connectors/retry.py) that logs its waits and honours Retry-After. Reads are retried on any
TransientError; writes (POST) only on 429, which Asana rejects before doing anything.

Auth is a personal access token (`ASANA_ACCESS_TOKEN`); Baton obtains no token at run time.
Answers are checked where they are read: a 200 whose envelope is not the documented shape is a
`PayloadError` naming the field, and a paging loop whose offset repeats stops with one.
"""
from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asana
import urllib3
from asana.rest import ApiException
from urllib3.util.retry import Retry

from baton.connectors.budget import RateBudget
from baton.connectors.retry import RetryPolicy, parse_retry_after
from baton.connectors.transport import Transport
from baton.core import logs
from baton.core.config import AsanaSettings, Secrets
from baton.core.errors import AuthError, PayloadError, RateLimited, SourceError, TransientError

from .fields import TASK_FIELDS

TOKEN_ENV = "ASANA_ACCESS_TOKEN"
PAGE_SIZE = 100
BATCH_SIZE = 10  # the Batch API's maximum
MAX_PAGES = 10_000  # 1,000,000 items at 100 a page: a server that never stops paging is broken

Calls = Counter[str]


class SyncExpired(Exception):
    """The events sync token was missing or too old; `sync` is the fresh one Asana sent."""

    def __init__(self, sync: str) -> None:
        super().__init__("sync token expired")
        self.sync = sync


class AsanaWorkspace:
    """The one Asana API client of this process, shared by every Asana source."""

    def __init__(self, settings: AsanaSettings, secrets: Secrets, retry: RetryPolicy, *,
                 budget: RateBudget | None = None) -> None:
        token = secrets.require(TOKEN_ENV, "the Asana connector")
        self._secrets = [s for s in secrets.handed_out() if s] or [token]
        logs.register_secrets([token])  # also when built outside the runtime (tools, tests)
        self.settings = settings
        self.transport = Transport("asana", retry, self._map,
                                   budget or RateBudget(settings.requests_per_minute, tool="asana"))
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
        # Every call Baton makes is synchronous: the thread pool the constructor starts for
        # async_req (os.cpu_count() workers and 3 handler threads) would idle for the whole run.
        self.close()
        self._timeout = (min(10.0, settings.timeout_seconds), settings.timeout_seconds)
        self._me: dict[str, Any] | None = None
        self._tasks = asana.TasksApi(self.client)
        self._events = asana.EventsApi(self.client)
        self._sections = asana.SectionsApi(self.client)
        self._fields = asana.CustomFieldSettingsApi(self.client)
        self._users = asana.UsersApi(self.client)
        self._batch = asana.BatchAPIApi(self.client)

    @property
    def retry(self) -> RetryPolicy:
        return self.transport.retry

    @retry.setter
    def retry(self, policy: RetryPolicy) -> None:
        self.transport.retry = policy

    @property
    def budget(self) -> RateBudget | None:
        return self.transport.budget

    def close(self) -> None:
        """Stop the SDK's unused thread pool; left to ApiClient.__del__ at interpreter exit it
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

    def call(self, endpoint: str, fn: Callable[[Any], Any], *, counter: Calls, cost: int = 1,
             write: bool = False) -> dict[str, Any]:
        """`fn(timeout)` through the transport; the answer must be a JSON object."""

        def sdk_call() -> dict[str, Any]:
            result = fn(self._timeout)
            if not isinstance(result, dict):
                raise TransientError(f"Asana {endpoint}: the answer was not a JSON object")
            return result

        return self.transport.call(endpoint, sdk_call, counter=counter, cost=cost, write=write)

    def _map(self, endpoint: str, error: BaseException) -> BaseException | None:
        """The error table: SDK exception / HTTP status -> what the caller does next."""
        if isinstance(error, ApiException):
            return self._map_status(endpoint, error)
        if isinstance(error, (urllib3.exceptions.HTTPError, OSError)):
            # MaxRetryError (connection refused, reset, timeouts) and socket errors
            return TransientError(self.scrub(
                f"Asana {endpoint}: {type(error).__name__}: {error}"))
        return None  # Baton's own errors and bugs pass through as they are

    def _map_status(self, endpoint: str, error: ApiException) -> Exception:
        status = error.status or 0
        message = self.scrub(f"Asana {endpoint}: HTTP {status} {_error_message(error)}")
        if status == 412:
            sync = _json_body(error).get("sync")
            if isinstance(sync, str) and sync:
                return SyncExpired(sync)
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

    def me(self, counter: Calls) -> dict[str, Any]:
        """Who the token is (once per process; counted by the source that asked first)."""
        if self._me is None:
            answer = self.call("GET /users/me", lambda t: self._users.get_user(
                "me", {"opt_fields": "name,email"}, full_payload=True, _request_timeout=t),
                counter=counter)
            me = answer.get("data")
            if not isinstance(me, dict) or not isinstance(me.get("gid"), str):
                raise PayloadError("Asana GET /users/me: data.gid missing from the answer")
            self._me = me
        return self._me

    def list_tasks(self, params: Mapping[str, str], counter: Calls) -> list[dict[str, Any]]:
        opts = {**params, "limit": PAGE_SIZE, "opt_fields": TASK_FIELDS}
        return self._pages("GET /tasks", lambda o, t: self._tasks.get_tasks(
            o, full_payload=True, _request_timeout=t), opts, counter)

    def get_task(self, gid: str, opt_fields: str, counter: Calls) -> dict[str, Any]:
        answer = self.call("GET /tasks/{gid}", lambda t: self._tasks.get_task(
            gid, {"opt_fields": opt_fields}, full_payload=True, _request_timeout=t),
            counter=counter)
        return object_field(answer, "data", "Asana GET /tasks/{gid}")

    def events(self, project: str, sync: str | None, counter: Calls) -> dict[str, Any]:
        """One events call; raises SyncExpired(fresh token) on 412."""
        opts = {"sync": sync} if sync else {}
        return self.call("GET /events", lambda t: self._events.get_events(
            project, dict(opts), full_payload=True, _request_timeout=t), counter=counter)

    def sections(self, project: str, counter: Calls) -> list[dict[str, Any]]:
        return self._pages("GET /projects/{gid}/sections",
                           lambda o, t: self._sections.get_sections_for_project(
                               project, o, full_payload=True, _request_timeout=t),
                           {"limit": PAGE_SIZE, "opt_fields": "name"}, counter)

    def custom_fields(self, project: str, counter: Calls) -> list[dict[str, Any]]:
        fields = ("custom_field.name,custom_field.resource_subtype,custom_field.type,"
                  "custom_field.enum_options.name,custom_field.enum_options.enabled")
        return self._pages("GET /projects/{gid}/custom_field_settings",
                           lambda o, t: self._fields.get_custom_field_settings_for_project(
                               project, o, full_payload=True, _request_timeout=t),
                           {"limit": PAGE_SIZE, "opt_fields": fields}, counter)

    def get_page(self, path: str, params: Mapping[str, Any], endpoint: str,
                 counter: Calls) -> dict[str, Any]:
        """A GET on a path (for the rare next page after a batch read)."""
        return self.call(endpoint, lambda t: self.client.call_api(
            path, "GET", query_params=dict(params), header_params={"Accept": "application/json"},
            response_type=object, auth_settings=["personalAccessToken"],
            _return_http_data_only=True, _request_timeout=t), counter=counter)

    def batch(self, actions: Sequence[dict[str, Any]], counter: Calls, *,
              write: bool) -> list[dict[str, Any]]:
        """POST /batch with at most 10 actions; one result (an object) per action, in order."""
        assert 0 < len(actions) <= BATCH_SIZE
        body = {"data": {"actions": list(actions)}}
        result = self.call("POST /batch", lambda t: self._batch.create_batch_request(
            body, {}, full_payload=True, _request_timeout=t), counter=counter,
            cost=len(actions), write=write)
        data = result.get("data")
        if not isinstance(data, list) or len(data) != len(actions):
            raise TransientError("Asana POST /batch: the answer does not match the actions sent")
        for index, item in enumerate(data):
            if not isinstance(item, dict):  # for a write: the outcome is unknown, look before resending
                raise TransientError(f"Asana POST /batch: data[{index}] is not an object")
        return data

    def _pages(self, endpoint: str, fetch: Callable[[dict[str, Any], Any], Any],
               opts: dict[str, Any], counter: Calls) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        opts = dict(opts)
        pager = Pager(endpoint)
        while True:
            page = self.call(endpoint, functools.partial(_page_call, fetch, dict(opts)),
                             counter=counter)
            items.extend(object_list(page, "data", f"Asana {endpoint}"))
            offset = pager.next_offset(page)
            if offset is None:
                return items
            opts["offset"] = offset


class Pager:
    """Follows `next_page.offset` and stops a server that pages in circles or forever."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._seen: set[str] = set()

    def next_offset(self, page: Mapping[str, Any]) -> str | None:
        next_page = page.get("next_page")
        if not next_page:
            return None
        if not isinstance(next_page, dict):
            raise PayloadError(f"Asana {self.endpoint}: next_page is not an object")
        offset = next_page.get("offset")
        if not offset:
            return None
        if not isinstance(offset, str):
            raise PayloadError(f"Asana {self.endpoint}: next_page.offset is not a string")
        if offset in self._seen:
            raise PayloadError(f"Asana {self.endpoint}: next_page.offset repeats; paging stopped")
        if len(self._seen) >= MAX_PAGES:
            raise PayloadError(f"Asana {self.endpoint}: more than {MAX_PAGES} pages; paging stopped")
        self._seen.add(offset)
        return offset


def _page_call(fetch: Callable[[dict[str, Any], Any], Any], opts: dict[str, Any],
               timeout: Any) -> Any:
    return fetch(opts, timeout)


def object_list(envelope: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    """`envelope[key]` as a list of objects, or a PayloadError naming what was wrong."""
    items = envelope.get(key)
    if not isinstance(items, list):
        raise PayloadError(f"{where}: {key} is not a list")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise PayloadError(f"{where}: {key}[{index}] is not an object")
    return items


def object_field(envelope: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = envelope.get(key)
    if not isinstance(value, dict):
        raise PayloadError(f"{where}: {key} is not an object")
    return value


def batch_error(result: Mapping[str, Any]) -> str:
    body = result.get("body") or {}
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message", ""))
    return f"HTTP {result.get('status_code')}"


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
