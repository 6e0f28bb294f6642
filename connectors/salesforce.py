"""Salesforce connector: a thin adapter over simple-salesforce.

`SalesforceOrg` owns the transport for one org (auth, session, retries, the API allocation) and is
shared by every Salesforce source; `SalesforceConnector` is one source (an object and its status
field) and speaks SOQL. SOQL never leaves this module.

Auth (settings.auth):
    client_credentials  POST {login_url}/services/oauth2/token, HTTP Basic client id:secret
                        (SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET). Done with requests:
                        simple-salesforce hard-codes https://{domain}.salesforce.com.
    jwt                 RS256 assertion iss=client id, sub=SALESFORCE_USERNAME, aud=login_url,
                        exp=+3 min, key from SALESFORCE_PRIVATE_KEY_FILE (or SALESFORCE_PRIVATE_KEY).
    token               SALESFORCE_ACCESS_TOKEN against settings.instance_url (no re-login).
A 401 INVALID_SESSION_ID re-authenticates once and repeats the call (simple-salesforce does not in
session mode); a second 401 is an AuthError.

What happens on failure (the table; the retry loop is connectors.retry.RetryPolicy):

    429                                  RateLimited(Retry-After)  retried
    5xx, timeouts, connection errors,
      truncated / non-JSON bodies        TransientError            retried
    401 INVALID_SESSION_ID               re-authenticate once      then AuthError
    403 REQUEST_LIMIT_EXCEEDED           QuotaExhausted(now + 1 h) source paused
    other 403, 400, 404                  PayloadError              skipped this cycle
    login refused (400/401 on token)     AuthError

Writes that may have reached Salesforce (a timeout or a dropped connection on a composite create)
are not blindly re-sent: the markers are looked up first (`find_written`) and only the missing
records are created again.

The shared daily allocation: every response carries `Sforce-Limit-Info: api-usage=used/max`.
Before each call the last reading is checked; at or above `settings.api_share_limit` of the
maximum, the org raises QuotaExhausted with `resume_at` = now + QUOTA_PAUSE and makes no call
until then. The call that crosses the line completes normally (its result is never thrown away);
the next one is refused. When the pause ends one call goes through and refreshes the reading.

Secrets (client secret, private key, tokens) are never logged nor put in exception messages;
texts that come back from Salesforce are scrubbed of them before use.
"""
from __future__ import annotations

import hashlib

import json
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import jwt
import requests
import structlog
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

from baton.connectors.base import Connector
from baton.core.actions import Action, ActionKind, ActionResult, Capabilities
from baton.core.keys import IDEMPOTENCY_TAG, idempotency_marker
from baton.core.owners import OwnerKind, OwnerRef
from baton.core.records import ChangeBatch, PageStream, Record, StatusChange, TimeSource
from baton.core.errors import (
    AuthError, ConfigError, PayloadError, QuotaExhausted, RateLimited, SourceError, TransientError,
)
from baton.connectors.retry import RetryPolicy, parse_retry_after
from baton.core.config import SalesforceSettings, SalesforceSource, Secrets
from baton.core.faults import crashpoint

log = structlog.get_logger()
T = TypeVar("T")

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
QUOTA_PAUSE = timedelta(hours=1)
COLLECTION_MAX = 200  # records per composite/sobjects call
IDS_PER_QUERY = 300  # ids in one IN (...) list: well under the URL and SOQL length limits
FEED_BODY_MAX = 10_000
TASK_SUBJECT_MAX = 255
RETRYABLE_SAVE_ERRORS = {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG"}
_SF_ID = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")
_WHO_OBJECTS = {"Lead", "Contact"}


# ------------------------------------------------------------------------------------ SOQL text

_SOQL_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t",
                 "\b": "\\b", "\f": "\\f"}


def soql_quote(value: str) -> str:
    """A SOQL string literal for any text: quotes, backslashes and control characters escaped."""
    return "'" + "".join(_SOQL_ESCAPES.get(char, char) for char in str(value)) + "'"


def soql_datetime(value: datetime) -> str:
    """A SOQL datetime literal in UTC, whole seconds: 2026-11-24T10:00:00Z."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_id_list(ids: Sequence[str]) -> str:
    return "(" + ", ".join(soql_quote(record_id) for record_id in ids) + ")"


def parse_sf_datetime(text: str) -> datetime:
    """Salesforce's 2026-11-24T10:00:00.000+0000 (or an ISO string) as an aware UTC datetime."""
    cleaned = text.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", cleaned):
        cleaned = cleaned[:-2] + ":" + cleaned[-2:]
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def history_object(sobject: str) -> tuple[str, str]:
    """(history sObject, parent id field) where field history of `sobject` is kept."""
    if sobject.endswith("__c"):
        return sobject[:-3] + "__History", "ParentId"
    if sobject == "Opportunity":
        return "OpportunityFieldHistory", "OpportunityId"
    return f"{sobject}History", f"{sobject}Id"


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ------------------------------------------------------------------------------------ transport


class _Session(requests.Session):
    """requests.Session with a default timeout, the configured CA bundle, and the last response.

    Proxies still come from the environment (HTTPS_PROXY, NO_PROXY), but a configured
    `ca_bundle` wins over REQUESTS_CA_BUNDLE, which requests would otherwise let override it.
    """

    def __init__(self, timeout: float, verify: str | bool) -> None:
        super().__init__()
        self.verify = verify
        self.timeout = timeout
        self._local = threading.local()

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> dict[str, Any]:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if isinstance(self.verify, str) and verify in (None, True):
            settings["verify"] = self.verify
        return settings

    def request(self, method: str | bytes, url: str | bytes, *args: Any,  # type: ignore[override]
                **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        self._local.last = None
        response = super().request(method, url, *args, **kwargs)
        self._local.last = response
        return response

    @property
    def last_response(self) -> requests.Response | None:
        return getattr(self._local, "last", None)


class _MaybeWritten(SourceError):
    """A write whose outcome is unknown (timeout, dropped connection): look before re-sending."""


class SalesforceOrg:
    """One Salesforce org: authentication, session, error mapping, retries, API allocation."""

    def __init__(
        self,
        settings: SalesforceSettings,
        secrets: Secrets,
        retry: RetryPolicy,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry
        self._secrets = secrets
        self._clock = clock or (lambda: datetime.now(UTC))
        self._session = _Session(settings.timeout_seconds, settings.ca_bundle or True)
        self._sf: Salesforce | None = None
        self._access_token: str | None = None
        self._auth_lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        self._usage: tuple[int, int] | None = None
        self._paused_until: datetime | None = None

    # -- public

    @property
    def instance_url(self) -> str:
        self._client(None)
        assert self._sf is not None
        return f"https://{self._sf.sf_instance}"

    def api_calls(self) -> dict[str, int]:
        with self._calls_lock:
            return dict(self._calls)

    def api_usage(self) -> tuple[int, int] | None:
        """(used, max) of the daily allocation, from the last Sforce-Limit-Info seen."""
        return self._usage

    def call(self, endpoint: str, fn: Callable[[Salesforce], T], *,
             counter: Counter[str] | None = None, write: bool = False) -> T:
        """Run `fn(sf)` under the allocation guard, error mapping, re-auth and retry policy.

        `write=True`: timeouts, dropped connections and unreadable answers raise _MaybeWritten
        instead of being retried, because the request may have been applied; like every write
        (connectors.retry), it is retried on 429 only.
        """

        def attempt() -> T:
            self._guard_quota()
            sf = self._client(counter)
            try:
                return self._invoke(endpoint, fn, sf, counter, write)
            except SalesforceExpiredSession:
                if self.settings.auth == "token":
                    raise AuthError("Salesforce refused the access token (INVALID_SESSION_ID); "
                                    "set a fresh SALESFORCE_ACCESS_TOKEN") from None
                log.info("salesforce.reauthenticate", endpoint=endpoint)
                sf = self._authenticate(counter, stale=sf)
                try:
                    return self._invoke(endpoint, fn, sf, counter, write)
                except SalesforceExpiredSession:
                    raise AuthError("Salesforce refused a session right after "
                                    "re-authentication (INVALID_SESSION_ID)") from None

        return self.retry.call(attempt, tool="salesforce", what=endpoint, write=write)

    def query_pages(self, soql: str, *, page_size: int = 2000, include_deleted: bool = False,
                    counter: Counter[str] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Pages of a SOQL query, one call each, following nextRecordsUrl lazily."""
        headers = {"Sforce-Query-Options": f"batchSize={page_size}"}
        result = self.call("query", lambda sf: sf.query(soql, include_deleted=include_deleted,
                                                        headers=headers), counter=counter)
        while True:
            records = result.get("records") if isinstance(result, dict) else None
            if not isinstance(records, list):
                raise PayloadError("Salesforce query answer has no records list")
            yield records
            if result.get("done", True):
                return
            next_url = result.get("nextRecordsUrl")
            if not isinstance(next_url, str):
                raise PayloadError("Salesforce query answer is not done but has no nextRecordsUrl")
            result = self.call(
                "query_more",
                lambda sf, url=next_url: sf.query_more(url, identifier_is_url=True,
                                                       headers=headers),
                counter=counter,
            )

    def query_records(self, soql: str, *, counter: Counter[str] | None = None,
                      page_size: int = 2000) -> list[dict[str, Any]]:
        return [row for page in self.query_pages(soql, page_size=page_size, counter=counter)
                for row in page]

    def scrub(self, text: str) -> str:
        """`text` with every secret and token replaced by ***."""
        for secret in [*self._secrets.handed_out(), self._access_token or ""]:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    # -- internals

    def _count(self, endpoint: str, counter: Counter[str] | None) -> None:
        with self._calls_lock:
            self._calls[endpoint] += 1
            if counter is not None:
                counter[endpoint] += 1

    def _guard_quota(self) -> None:
        now = self._clock()
        if self._paused_until is not None:
            if now < self._paused_until:
                raise QuotaExhausted("Salesforce API allocation: paused until "
                                     f"{self._paused_until.isoformat()}", self._paused_until)
            self._paused_until = None
            self._usage = None  # stale: let one call through to read it again
            log.info("salesforce.quota_resume")
        if self._usage is not None:
            used, total = self._usage
            if total > 0 and used / total >= self.settings.api_share_limit:
                self._pause(now, f"{used}/{total} daily API requests used, at or above the "
                                 f"configured share {self.settings.api_share_limit:.0%}")

    def _pause(self, now: datetime, why: str) -> None:
        self._paused_until = now + QUOTA_PAUSE
        used, total = self._usage or (None, None)
        log.warning("salesforce.quota_pause", used=used, max=total,
                    share=self.settings.api_share_limit, resume_at=self._paused_until.isoformat())
        raise QuotaExhausted(f"Salesforce API allocation: {why}; paused until "
                             f"{self._paused_until.isoformat()}", self._paused_until)

    def _read_usage(self) -> None:
        response = self._session.last_response
        header = response.headers.get("Sforce-Limit-Info") if response is not None else None
        if header:
            usage = Salesforce.parse_api_usage(header).get("api-usage")
            if usage is not None:
                self._usage = (usage.used, usage.total)

    def _invoke(self, endpoint: str, fn: Callable[[Salesforce], T], sf: Salesforce,
                counter: Counter[str] | None, write: bool) -> T:
        self._count(endpoint, counter)
        try:
            return fn(sf)
        except SalesforceExpiredSession:
            raise
        except SalesforceError as error:
            raise self._map_error(endpoint, error) from None
        except (requests.exceptions.JSONDecodeError, json.JSONDecodeError) as error:
            if write:  # an answer, however broken, means the request was processed
                raise _MaybeWritten(f"Salesforce {endpoint}: unreadable answer "
                                    f"({type(error).__name__}); the write may have been "
                                    "applied") from None
            raise TransientError(f"Salesforce {endpoint}: unreadable answer "
                                 f"({type(error).__name__})") from None
        except requests.exceptions.ConnectTimeout:
            raise TransientError(f"Salesforce {endpoint}: connect timeout") from None
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError,
                requests.exceptions.ChunkedEncodingError) as error:
            if write:
                raise _MaybeWritten(f"Salesforce {endpoint}: {type(error).__name__}; the write "
                                    "may have been applied") from None
            raise TransientError(f"Salesforce {endpoint}: {type(error).__name__}") from None
        finally:
            self._read_usage()

    def _map_error(self, endpoint: str, error: SalesforceError) -> SourceError:
        content = error.content
        code, message = "", ""
        if isinstance(content, list) and content and isinstance(content[0], dict):
            code = str(content[0].get("errorCode", ""))
            message = str(content[0].get("message", ""))
        elif content:
            message = str(content)[:300]
        text = self.scrub(f"Salesforce {endpoint}: HTTP {error.status} {code}: {message}".strip())
        if isinstance(error, SalesforceRefusedRequest) and code == "REQUEST_LIMIT_EXCEEDED":
            self._paused_until = self._clock() + QUOTA_PAUSE
            log.warning("salesforce.quota_exceeded", resume_at=self._paused_until.isoformat())
            return QuotaExhausted(text, self._paused_until)
        if isinstance(error, SalesforceGeneralError):
            if error.status == 429:
                response = self._session.last_response
                after = (parse_retry_after(response.headers.get("Retry-After"))
                         if response is not None else None)  # a 429 Response is falsy
                return RateLimited(text, after)
            if error.status >= 500:
                return TransientError(text)
        return PayloadError(text)

    # -- authentication

    def _client(self, counter: Counter[str] | None) -> Salesforce:
        sf = self._sf
        return sf if sf is not None else self._authenticate(counter, stale=None)

    def _authenticate(self, counter: Counter[str] | None, *, stale: Salesforce | None) -> Salesforce:
        with self._auth_lock:
            if self._sf is not None and self._sf is not stale:
                return self._sf  # another thread already did it
            auth = self.settings.auth
            if auth == "token":
                token = self._secrets.require("SALESFORCE_ACCESS_TOKEN", "Salesforce auth = token")
                instance_url = self.settings.instance_url
                if not instance_url:
                    raise ConfigError("salesforce.instance_url is required when auth = \"token\"")
            else:
                token, instance_url = self._oauth(auth, counter)
            self._access_token = token
            self._sf = Salesforce(instance_url=instance_url, session_id=token,
                                  session=self._session, version=self.settings.api_version)
            log.info("salesforce.authenticated", auth=auth, instance=self._sf.sf_instance)
            return self._sf

    def _oauth(self, auth: str, counter: Counter[str] | None) -> tuple[str, str]:
        login_url = self.settings.login_url.rstrip("/")
        client_id = self._secrets.require("SALESFORCE_CLIENT_ID", f"Salesforce auth = {auth}")
        basic: tuple[str, str] | None = None
        if auth == "client_credentials":
            secret = self._secrets.require("SALESFORCE_CLIENT_SECRET",
                                           "Salesforce auth = client_credentials")
            data = {"grant_type": "client_credentials"}
            basic = (client_id, secret)
        elif auth == "jwt":
            data = {"grant_type": JWT_GRANT, "assertion": self._jwt_assertion(client_id, login_url)}
        else:
            raise ConfigError(f"salesforce.auth: unknown value {auth!r}")
        self._count("token", counter)
        try:
            response = self._session.post(f"{login_url}/services/oauth2/token", data=data,
                                          auth=basic)
        except requests.exceptions.RequestException as error:
            raise TransientError(f"Salesforce login: {type(error).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 429:
            raise RateLimited("Salesforce login: HTTP 429",
                              parse_retry_after(response.headers.get("Retry-After")))
        if response.status_code >= 500 or body is None:
            raise TransientError(f"Salesforce login: HTTP {response.status_code}")
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error", "") if isinstance(body, dict) else ""
            description = body.get("error_description", "") if isinstance(body, dict) else ""
            raise AuthError(self.scrub(f"Salesforce login refused (HTTP {response.status_code}): "
                                       f"{error}: {description}"))
        token, instance_url = body.get("access_token"), body.get("instance_url")
        if not isinstance(token, str) or not isinstance(instance_url, str):
            raise PayloadError("Salesforce login answer lacks access_token or instance_url")
        return token, instance_url

    def _jwt_assertion(self, client_id: str, login_url: str) -> str:
        username = self._secrets.require("SALESFORCE_USERNAME", "Salesforce auth = jwt")
        key = self._secrets.get("SALESFORCE_PRIVATE_KEY")
        if not key:
            path = self._secrets.require("SALESFORCE_PRIVATE_KEY_FILE", "Salesforce auth = jwt")
            try:
                key = Path(path).expanduser().read_text(encoding="utf-8")
            except OSError as error:
                raise ConfigError(f"SALESFORCE_PRIVATE_KEY_FILE: cannot read the key file "
                                  f"({error.strerror})") from None
        claims = {"iss": client_id, "sub": username, "aud": login_url,
                  "exp": int(time.time()) + 180}
        try:
            return jwt.encode(claims, key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):
            raise ConfigError("the Salesforce private key is not a valid RSA PEM key") from None


# ------------------------------------------------------------------------------------ connector


@dataclass
class _Op:
    """One record of a composite call, and the actions it serves."""

    sobject: str
    values: dict[str, Any]
    actions: list[int] = field(default_factory=list)
    record_id: str | None = None  # updates
    marker: str | None = None  # creates
    action_key: str | None = None


class SalesforceConnector(Connector):
    """One Salesforce source: an object (Lead, Opportunity, X__c) and its status field."""

    capabilities = Capabilities(
        writes=frozenset({ActionKind.COMMENT, ActionKind.TASK, ActionKind.SET_FIELD,
                          ActionKind.MOVE_STATUS, ActionKind.REASSIGN, ActionKind.CLOSE_TASK,
                          ActionKind.REPLY}),
        owners=frozenset(OwnerKind), comment_resolution=ActionKind.REPLY)

    # engine.backfill: many ids with a `since` are one field-history query by CreatedDate (paged),
    # whatever their number; chunks of ids would repeat that same query once per chunk.
    backfill_chunk = 1_000_000

    def __init__(self, source: SalesforceSource, org: SalesforceOrg) -> None:
        self.source = source
        self.source_id = source.id
        self.org = org
        self._calls: Counter[str] = Counter()
        self._users: dict[str, str | None] = {}  # assignee reference -> user id (cached)
        self._queues: dict[str, str | None] = {}  # queue name or id -> first active member

    # -- protocol

    def api_calls(self) -> Mapping[str, int]:
        return dict(self._calls)

    def fetch_changes(self, cursor: str | None, now: datetime) -> ChangeBatch:
        """Records with SystemModstamp in (cursor - lookback, now], oldest first.

        The cursor is the highest SystemModstamp seen, never lower than the one passed in and
        never after `now` (whole seconds). A baseline with no records at all starts at `now`.
        """
        before = sum(self._calls.values())
        found: dict[str, Record] = {}
        stream = PageStream(self._pages(cursor, now))
        for page in stream:
            for record in page:
                seen = found.get(record.id)
                if seen is None or seen.modified_at <= record.modified_at:
                    found[record.id] = record  # a row read twice across pages: keep the last
        return ChangeBatch(list(found.values()), stream.cursor,
                           api_calls=sum(self._calls.values()) - before, complete=stream.complete)

    def stream_baseline(self, now: datetime) -> PageStream:
        """Every record, one page at a time (the engine stores each page as it comes)."""
        return PageStream(self._pages(None, now))

    def _pages(self, cursor: str | None, now: datetime
               ) -> Generator[list[Record], None, tuple[str | None, bool]]:
        upper = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(UTC).replace(
            microsecond=0)
        previous = parse_sf_datetime(cursor) if cursor else None
        conditions = []
        if previous is not None:
            lower = previous - timedelta(seconds=self.org.settings.lookback_seconds)
            conditions.append(f"SystemModstamp > {soql_datetime(lower)}")
        conditions.append(f"SystemModstamp <= {soql_datetime(upper)}")
        soql = (f"SELECT {', '.join(self._select_fields())} FROM {self.source.object} "
                f"WHERE {' AND '.join(conditions)} ORDER BY SystemModstamp, Id")
        newest = previous
        read = 0
        try:
            for raw_page in self.org.query_pages(soql, page_size=self.org.settings.page_size,
                                                 counter=self._calls):
                page = [self._to_record(raw) for raw in raw_page]
                for record in page:
                    if newest is None or record.modified_at > newest:
                        newest = record.modified_at
                read += len(page)
                yield page
        except (TransientError, PayloadError) as error:
            if not read:
                raise
            log.warning("source.page_failed", source=self.source_id, records=read,
                        error=type(error).__name__)
            return cursor, False
        newest = min(newest, upper) if newest is not None else upper
        return newest.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), True

    def status_history(
        self, record_ids: Sequence[str], since: datetime | None
    ) -> Mapping[str, Sequence[StatusChange]]:
        """Status changes from field history, oldest first: one query per 300 ids.

        When many ids are asked for with a `since`, one query by CreatedDate serves them all.
        """
        if not record_ids:
            return {}
        table, parent = history_object(self.source.object)
        by_prefix = {record_id[:15]: record_id for record_id in record_ids}
        base = (f"SELECT {parent}, OldValue, NewValue, CreatedDate FROM {table} "
                f"WHERE Field = {soql_quote(self.source.status_field)}")
        if since is not None:
            base += f" AND CreatedDate >= {soql_datetime(since)}"
        ids = list(by_prefix.values())
        if since is not None and len(ids) > 3 * IDS_PER_QUERY:
            queries = [base + " ORDER BY CreatedDate, Id"]
        else:
            queries = [f"{base} AND {parent} IN {soql_id_list(chunk)} ORDER BY CreatedDate, Id"
                       for chunk in _chunks(ids, IDS_PER_QUERY)]
        changes: dict[str, list[StatusChange]] = defaultdict(list)
        for soql in queries:
            for page in self.org.query_pages(soql, counter=self._calls):
                for row in page:
                    record_id = by_prefix.get(str(row.get(parent) or "")[:15])
                    new = row.get("NewValue")
                    if record_id is None or new is None or not row.get("CreatedDate"):
                        continue
                    old = row.get("OldValue")
                    changes[record_id].append(StatusChange(
                        record_id=record_id,
                        from_status=None if old is None else str(old),
                        to_status=str(new),
                        at=parse_sf_datetime(row["CreatedDate"]),
                        time_source=TimeSource.HISTORY,
                    ))
        for history in changes.values():
            history.sort(key=lambda change: change.at)  # stable: same-second rows keep their order
        return dict(changes)

    def write_back(self, actions: Sequence[Action]) -> Sequence[ActionResult]:
        """Updates first (PATCH composite/sobjects), then creates (POST), 200 records a call."""
        results: list[ActionResult | None] = [None] * len(actions)
        owners = self._record_owners(actions)
        updates: dict[tuple[str, str], _Op] = {}
        creates: list[_Op] = []
        for index, action in enumerate(actions):
            try:
                for op in self._plan(action, owners):
                    if op.record_id is not None:
                        merged = updates.setdefault((op.sobject, op.record_id[:15]),
                                                    _Op(op.sobject, {}, record_id=op.record_id))
                        merged.values.update(op.values)
                        merged.actions.append(index)
                    else:
                        op.actions.append(index)
                        creates.append(op)
            except SourceError as error:
                if isinstance(error, QuotaExhausted | AuthError):
                    raise
                results[index] = ActionResult(action.key, False, error=str(error),
                                              retryable=isinstance(error, TransientError))
        failures: dict[int, tuple[str, bool]] = {}
        created: dict[int, str] = {}
        self._send_updates(list(updates.values()), failures)
        if updates and creates:
            crashpoint("between_writes")  # the bounce is in Salesforce, the Task not yet
        creates.sort(key=lambda op: op.sobject)  # mixed types: as few chunks as possible
        self._send_creates(creates, actions, failures, created)
        for index, action in enumerate(actions):
            if results[index] is not None:
                continue
            if index in failures:
                message, retryable = failures[index]
                results[index] = ActionResult(action.key, False, error=message,
                                              retryable=retryable)
            else:
                remote = created.get(index) or action.target or (
                    action.record_id if action.kind in (ActionKind.MOVE_STATUS, ActionKind.SET_FIELD,
                                                        ActionKind.REASSIGN) else None)
                results[index] = ActionResult(action.key, True, remote_id=remote)
        return [result for result in results if result is not None]

    def find_written(self, actions: Sequence[Action]) -> Mapping[str, str]:
        """Tasks / FeedItems carrying an action's marker, found by parent and matched here.

        Long text areas (Description, Body) cannot be filtered with LIKE in SOQL, so the rows
        of the parents concerned are read and the markers matched in Python.
        MOVE_STATUS / SET_FIELD are idempotent and are never reported as found.
        """
        task_parents: set[str] = set()
        feed_parents: set[str] = set()
        wanted: dict[str, str] = {}
        for action in actions:
            if action.kind == ActionKind.TASK:
                task_parents.add(action.record_id)
            elif action.kind in (ActionKind.COMMENT, ActionKind.REPLY) or (
                action.kind == ActionKind.CLOSE_TASK and action.text
            ):
                feed_parents.add(action.record_id)
            else:
                continue
            wanted[idempotency_marker(action.key)] = action.key
        found: dict[str, str] = {}
        parent_field = "WhoId" if self.source.object in _WHO_OBJECTS else "WhatId"
        lookups = [("Task", parent_field, "Description", sorted(task_parents)),
                   ("FeedItem", "ParentId", "Body", sorted(feed_parents))]
        for sobject, parent, text_field, parents in lookups:
            for chunk in _chunks(parents, IDS_PER_QUERY):
                soql = (f"SELECT Id, {parent}, {text_field} FROM {sobject} "
                        f"WHERE {parent} IN {soql_id_list(chunk)}")
                for page in self.org.query_pages(soql, counter=self._calls):
                    for row in page:
                        text = row.get(text_field) or ""
                        if "[" + IDEMPOTENCY_TAG not in text:
                            continue
                        for marker, key in wanted.items():
                            if key not in found and marker in text:
                                found[key] = str(row["Id"])
        return found

    # -- reading

    def _select_fields(self) -> list[str]:
        wanted = ["Id", "Name", "OwnerId", self.source.status_field, "SystemModstamp",
                  *self.source.fields]
        seen: set[str] = set()
        out = []
        for name in wanted:
            if name.lower() not in seen:
                seen.add(name.lower())
                out.append(name)
        return out

    def _to_record(self, raw: Mapping[str, Any]) -> Record:
        fields = _flatten(raw)
        record_id = str(fields.get("Id") or "")
        stamp = fields.get("SystemModstamp")
        if not record_id or not isinstance(stamp, str):
            raise PayloadError(f"Salesforce {self.source.object} row without Id or SystemModstamp")
        status = _get_ci(fields, self.source.status_field)
        owner = fields.get("OwnerId")
        instance = self._instance_url()
        return Record(
            source=self.source_id,
            id=record_id,
            url=f"{instance}/lightning/r/{self.source.object}/{record_id}/view",
            name=str(fields.get("Name") or record_id),
            status=None if status is None else str(status),
            owner=None if owner is None else str(owner),
            fields=fields,
            modified_at=parse_sf_datetime(stamp),
            # A record version: the lookback window re-reads unchanged records, and the engine
            # skips those it has already processed. SystemModstamp alone has whole seconds, and
            # two edits in one second are real, so the values are part of it.
            fingerprint=hashlib.blake2b(repr((stamp, sorted(fields.items()))).encode(),
                                        digest_size=12).hexdigest(),
        )

    def _instance_url(self) -> str:
        url = getattr(self, "_instance_cache", None)
        if url is None:
            url = self._instance_cache = self.org.instance_url
        return url

    # -- writing

    def _body(self, text: str, key: str, limit: int) -> str:
        marker = idempotency_marker(key)
        room = limit - len(marker) - 2
        if len(text) > room:
            text = text[: max(0, room - 1)] + "…"
        return f"{text}\n\n{marker}" if text else marker

    def _plan(self, action: Action, owners: Mapping[str, str | None]) -> list[_Op]:
        obj = self.source.object
        marker = idempotency_marker(action.key)
        if action.kind == ActionKind.TASK:
            owner = self._resolve_assignee(action.assignee, owners.get(action.record_id[:15]))
            first_line = action.text.strip().splitlines()[0] if action.text.strip() else ""
            subject = action.subject or first_line or f"Baton: {action.gate_id}"
            values: dict[str, Any] = {
                "attributes": {"type": "Task"},
                "Subject": subject[:TASK_SUBJECT_MAX],
                "Description": self._body(action.text, action.key, 32_000),
                "OwnerId": owner,
                "Status": "Not Started",
                "Priority": "High",
                "ActivityDate": self.org._clock().astimezone(UTC).date().isoformat(),
                ("WhoId" if obj in _WHO_OBJECTS else "WhatId"): action.record_id,
            }
            return [_Op("Task", values, marker=marker, action_key=action.key)]
        if action.kind == ActionKind.COMMENT:
            return [self._feed_item(action, action.text)]
        if action.kind == ActionKind.MOVE_STATUS:
            return [_Op(obj, {self.source.status_field: action.value}, record_id=action.record_id)]
        if action.kind == ActionKind.SET_FIELD:
            if not action.field:
                raise PayloadError("SET_FIELD action without a field name")
            return [_Op(obj, {action.field: action.value}, record_id=action.record_id)]
        if action.kind == ActionKind.REASSIGN:
            owner = self._resolve_assignee(action.assignee, owners.get(action.record_id[:15]))
            return [_Op(obj, {"OwnerId": owner}, record_id=action.record_id)]
        if action.kind == ActionKind.CLOSE_TASK:
            if not action.target:
                raise PayloadError("CLOSE_TASK action without the task to close")
            ops = [_Op("Task", {"Status": "Completed"}, record_id=action.target)]
            if action.text:
                ops.append(self._feed_item(action, action.text))
            return ops
        if action.kind == ActionKind.REPLY:
            return [self._feed_item(action, action.text or "Resolved.")]
        raise PayloadError(f"unsupported action kind {action.kind!r}")

    def _feed_item(self, action: Action, text: str) -> _Op:
        return _Op("FeedItem", {"attributes": {"type": "FeedItem"}, "ParentId": action.record_id,
                                "Body": self._body(text, action.key, FEED_BODY_MAX),
                                "Type": "TextPost"},
                   marker=idempotency_marker(action.key), action_key=action.key)

    def _record_owners(self, actions: Sequence[Action]) -> dict[str, str | None]:
        """OwnerId of the records whose tasks go to "the owner", one query per 300 records."""
        need = sorted({a.record_id for a in actions if a.kind in (ActionKind.TASK, ActionKind.REASSIGN)
                       and (a.assignee is None
                            or a.assignee.kind in (OwnerKind.OWNER, OwnerKind.MANAGER))})
        owners: dict[str, str | None] = {}
        for chunk in _chunks(need, IDS_PER_QUERY):
            soql = f"SELECT Id, OwnerId FROM {self.source.object} WHERE Id IN {soql_id_list(chunk)}"
            for row in self.org.query_records(soql, counter=self._calls):
                owners[str(row["Id"])[:15]] = row.get("OwnerId")
        return owners

    def _resolve_assignee(self, reference: OwnerRef | None, owner: str | None) -> str:
        """A User id for the record's owner (a queue owner: its first active member), the
        owner's manager, a named user (id, username, email or name) or a queue's first active
        member."""
        kind = OwnerKind.OWNER if reference is None else reference.kind
        if kind in (OwnerKind.OWNER, OwnerKind.MANAGER):
            if not owner:
                raise PayloadError("the record was not found or has no owner")
            if owner.startswith("00G"):
                owner = self._queue_member(owner)
            return self._manager_of(owner) if kind is OwnerKind.MANAGER else owner
        value = reference.value if reference is not None else None
        if not value:
            raise PayloadError(f"owner reference {reference} names no user or queue")
        return self._queue_member(value) if kind is OwnerKind.QUEUE else self._user(value)

    def _user(self, value: str) -> str:
        if _SF_ID.match(value) and value.startswith("005"):
            return value
        if value not in self._users:
            quoted = soql_quote(value)
            soql = ("SELECT Id FROM User WHERE IsActive = true AND (Username = "
                    f"{quoted} OR Email = {quoted} OR Name = {quoted}) ORDER BY Username LIMIT 1")
            rows = self.org.query_records(soql, counter=self._calls)
            self._users[value] = str(rows[0]["Id"]) if rows else None
        user = self._users[value]
        if user is None:
            raise PayloadError(f"no active Salesforce user matches {value!r}")
        return user

    def _manager_of(self, user_id: str) -> str:
        key = f"manager:{user_id}"
        if key not in self._users:
            soql = f"SELECT ManagerId FROM User WHERE Id = {soql_quote(user_id)}"
            rows = self.org.query_records(soql, counter=self._calls)
            self._users[key] = rows[0].get("ManagerId") if rows else None
        manager = self._users[key]
        if not manager:
            raise PayloadError(f"user {user_id} has no manager in Salesforce")
        return manager

    def _queue_member(self, queue: str) -> str:
        """The first active user member of a queue (by name, developer name or id); cached."""
        if queue not in self._queues:
            if _SF_ID.match(queue) and queue.startswith("00G"):
                where = f"GroupId = {soql_quote(queue)}"
            else:
                quoted = soql_quote(queue)
                where = (f"Group.Type = 'Queue' AND (Group.Name = {quoted} "
                         f"OR Group.DeveloperName = {quoted})")
            members = [str(row["UserOrGroupId"]) for row in self.org.query_records(
                f"SELECT UserOrGroupId FROM GroupMember WHERE {where} ORDER BY Id",
                counter=self._calls) if str(row.get("UserOrGroupId", "")).startswith("005")]
            member = None
            if members:
                active = {str(row["Id"])[:15] for row in self.org.query_records(
                    f"SELECT Id FROM User WHERE IsActive = true AND Id IN {soql_id_list(members)}",
                    counter=self._calls)}
                member = next((m for m in members if m[:15] in active), None)
            self._queues[queue] = member
        member = self._queues[queue]
        if member is None:
            raise PayloadError(f"Salesforce queue {queue!r} has no active user member")
        return member

    def _send_updates(self, ops: list[_Op], failures: dict[int, tuple[str, bool]]) -> None:
        for chunk in _chunks(ops, COLLECTION_MAX):
            records = [{"attributes": {"type": op.sobject}, "id": op.record_id, **op.values}
                       for op in chunk]
            try:
                answer = self.org.call("composite_update", lambda sf, r=records: sf.restful(
                    "composite/sobjects", method="PATCH",
                    json={"allOrNone": False, "records": r}), counter=self._calls)
            except (TransientError, PayloadError, _MaybeWritten) as error:
                # updates are idempotent: a retry next cycle is harmless
                self._fail(chunk, str(error), not isinstance(error, PayloadError), failures)
                continue
            self._apply_save_results(chunk, answer, failures, None)

    def _send_creates(self, ops: list[_Op], actions: Sequence[Action],
                      failures: dict[int, tuple[str, bool]], created: dict[int, str]) -> None:
        for chunk in _chunks(ops, COLLECTION_MAX):
            pending = list(chunk)
            for attempt in range(2):
                records = [op.values for op in pending]
                try:
                    answer = self.org.call("composite_create", lambda sf, r=records: sf.restful(
                        "composite/sobjects", method="POST",
                        json={"allOrNone": False, "records": r}), counter=self._calls, write=True)
                except _MaybeWritten as error:
                    if attempt == 1:
                        self._fail(pending, str(error), True, failures)
                        break
                    # the creates may have landed: look for their markers, re-send the rest
                    log.warning("salesforce.write_uncertain", source=self.source_id,
                                records=len(pending))
                    written = self.find_written([actions[op.actions[0]] for op in pending])
                    for op in pending:
                        if op.action_key in written:
                            for index in op.actions:
                                created[index] = written[op.action_key]
                    pending = [op for op in pending if op.action_key not in written]
                    if not pending:
                        break
                    continue
                except (TransientError, PayloadError) as error:
                    self._fail(pending, str(error), not isinstance(error, PayloadError), failures)
                    break
                self._apply_save_results(pending, answer, failures, created)
                break

    def _apply_save_results(self, ops: Sequence[_Op], answer: Any,
                            failures: dict[int, tuple[str, bool]],
                            created: dict[int, str] | None) -> None:
        if not isinstance(answer, list) or len(answer) != len(ops):
            self._fail(ops, "Salesforce composite answer does not match the records sent",
                       True, failures)
            return
        for op, result in zip(ops, answer, strict=True):
            if isinstance(result, dict) and result.get("success"):
                if created is not None and result.get("id"):
                    for index in op.actions:
                        created.setdefault(index, str(result["id"]))
                continue
            errors = result.get("errors") if isinstance(result, dict) else None
            errors = errors if isinstance(errors, list) else []
            codes = [str(e.get("statusCode", "")) for e in errors if isinstance(e, dict)]
            message = "; ".join(
                f"{e.get('statusCode', '')}: {e.get('message', '')}"
                + (f" ({', '.join(e['fields'])})" if e.get("fields") else "")
                for e in errors if isinstance(e, dict)
            ) or "Salesforce refused the record"
            retryable = any(code in RETRYABLE_SAVE_ERRORS for code in codes)
            self._fail([op], self.org.scrub(message), retryable, failures)

    @staticmethod
    def _fail(ops: Sequence[_Op], message: str, retryable: bool,
              failures: dict[int, tuple[str, bool]]) -> None:
        for op in ops:
            for index in op.actions:
                failures.setdefault(index, (message, retryable))


def _flatten(raw: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A query row without `attributes`, relationship fields as "Owner.Name"."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "attributes":
            continue
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _get_ci(fields: Mapping[str, Any], name: str) -> Any:
    if name in fields:
        return fields[name]
    lowered = name.lower()
    return next((value for key, value in fields.items() if key.lower() == lowered), None)
