"""One Salesforce org: session, login, the error table, the API allocation, SOQL paging.

`SalesforceOrg` is shared by every Salesforce source; each call is counted on the counter of
the source (connector) that made it. Calls go through the shared `Transport` (count → call →
error table → retry), with the allocation guard and the login run before each attempt.

A 401 INVALID_SESSION_ID re-authenticates once and repeats the call (simple-salesforce does not in
session mode); a second 401 is an AuthError.

What happens on failure (the table; the retry loop is connectors.retry.RetryPolicy):

    429                                  RateLimited(Retry-After)  retried
    5xx, timeouts, connection errors,
      truncated / non-JSON bodies        TransientError            retried (reads only)
    401 INVALID_SESSION_ID               re-authenticate once      then AuthError
    403 REQUEST_LIMIT_EXCEEDED           QuotaExhausted(now + 1 h) source paused
    other 403, 400, 404                  PayloadError              skipped this cycle
    login refused (400/401 on token)     AuthError

A write is retried on 429 only: after a timeout or an unreadable answer it may have landed, so it
fails as retryable and the ledger looks for its marker (`find_written`) before sending it again.

The shared daily allocation: every response carries `Sforce-Limit-Info: api-usage=used/max`.
Before each call the last reading is checked; at or above `settings.api_share_limit` of the
maximum, the org raises QuotaExhausted with `resume_at` = now + QUOTA_PAUSE and makes no call
until then. The call that crosses the line completes normally (its result is never thrown away);
the next one is refused. When the pause ends one call goes through and refreshes the reading.

The server's clock: every answer's `Date` header is kept per thread (`server_time`); a poll
anchors its lookback window on it, so the window moves with the server's time at no extra call.

Secrets (client secret, private key, tokens) are never logged nor put in exception messages;
texts that come back from Salesforce are scrubbed of them before use.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import requests
import structlog
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

from baton.connectors.retry import RetryPolicy, parse_retry_after
from baton.connectors.salesforce.auth import login
from baton.connectors.salesforce.paging import Pages
from baton.connectors.transport import Transport
from baton.core.config import SalesforceSettings, Secrets
from baton.core.errors import (
    AuthError, PayloadError, QuotaExhausted, RateLimited, TransientError,
)

log = structlog.get_logger()
T = TypeVar("T")

QUOTA_PAUSE = timedelta(hours=1)
WRITE_ENDPOINTS = frozenset({"composite_create", "composite_update"})


class SalesforceSession(requests.Session):
    """requests.Session with a default timeout, the configured CA bundle, and the last response's
    headers (only them: the response would keep a page's body, megabytes, alive until the next).

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

    def request(self, method: str, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        self._local.headers = None
        response = super().request(method, url, *args, **kwargs)
        self._local.headers = response.headers
        return response

    @property
    def last_headers(self) -> Mapping[str, str]:
        """The last response's headers on this thread (empty before one, or after a failure)."""
        return getattr(self._local, "headers", None) or {}


class Rotation(Protocol):
    """Who of a queue's active members gets the task of action `key` (round robin, persisted:
    store.rotation.QueueRotation, given by the composition root)."""

    def assign(self, queue: str, key: str, members: Sequence[str]) -> str: ...


class SalesforceOrg:
    """One Salesforce org: authentication, session, error mapping, retries, API allocation."""

    rotation: Rotation | None = None  # queue:<name> owners take turns when set

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
        self._session = SalesforceSession(settings.timeout_seconds, settings.ca_bundle or True)
        self._transport = Transport("salesforce", retry, self._map_error)
        self._sf: Salesforce | None = None
        self._access_token: str | None = None
        self._auth_lock = threading.Lock()
        self._usage: tuple[int, int] | None = None
        self._paused_until: datetime | None = None
        self._seen = threading.local()  # per thread: the server time of its last answer

    # -- public

    def now(self) -> datetime:
        return self._clock()

    def instance_url(self, counter: Counter[str]) -> str:
        return f"https://{self._client(counter).sf_instance}"

    def server_time(self) -> datetime | None:
        """The server's clock at this thread's last answer (its `Date` header, whole seconds):
        what the lookback window is anchored on. None: no answer yet, or no readable header."""
        return getattr(self._seen, "server_time", None)

    def api_usage(self) -> tuple[int, int] | None:
        """(used, max) of the daily allocation, from the last Sforce-Limit-Info seen."""
        return self._usage

    def call(self, endpoint: str, fn: Callable[[Salesforce], T], *, counter: Counter[str],
             write: bool = False) -> T:
        """`fn(sf)` under the allocation guard, the error table, re-auth and the retry policy
        (a `write` is retried on 429 only), counted on `counter` (the asking source's)."""
        held: list[Salesforce] = []

        def before() -> None:  # refused or logged in before the call is counted
            self._guard_quota()
            held[:] = [self._client(counter)]

        def attempt() -> T:
            sf = held[0]
            try:
                return self._invoke(fn, sf)
            except SalesforceExpiredSession:
                if self.settings.auth == "token":
                    raise AuthError("Salesforce refused the access token (INVALID_SESSION_ID); "
                                    "set a fresh SALESFORCE_ACCESS_TOKEN") from None
                log.info("salesforce.reauthenticate", endpoint=endpoint)
                sf = self._authenticate(counter, stale=sf)
                counter[endpoint] += 1  # the repeat is a call of its own
                try:
                    return self._invoke(fn, sf)
                except SalesforceExpiredSession:
                    raise AuthError("Salesforce refused a session right after "
                                    "re-authentication (INVALID_SESSION_ID)") from None

        return self._transport.call(endpoint, attempt, counter=counter, write=write,
                                    before=before)

    def query_pages(self, soql: str, *, counter: Counter[str], page_size: int = 2000,
                    include_deleted: bool = False,
                    pages: Pages | None = None) -> Iterator[list[dict[str, Any]]]:
        """Pages of a SOQL query, one call each, following nextRecordsUrl lazily (bounded);
        `pages` (given by the caller) tells the query's totalSize once its first page is out."""
        headers = {"Sforce-Query-Options": f"batchSize={page_size}"}
        pages = pages or Pages()
        result = self.call("query", lambda sf: sf.query(soql, include_deleted=include_deleted,
                                                        headers=headers), counter=counter)
        while True:
            records, next_url = pages.take(result)
            yield records
            if next_url is None:
                return
            result = self.call("query_more", _query_more(next_url, headers), counter=counter)

    def query_records(self, soql: str, *, counter: Counter[str],
                      page_size: int = 2000) -> list[dict[str, Any]]:
        return [row for page in self.query_pages(soql, page_size=page_size, counter=counter)
                for row in page]

    def scrub(self, text: str) -> str:
        """`text` with every secret and token replaced by ***."""
        for secret in [*self._secrets.handed_out(), self._access_token or ""]:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    # -- the allocation

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

    def _read_headers(self) -> None:
        headers = self._session.last_headers
        self._seen.server_time = _http_date(headers.get("Date"))
        header = headers.get("Sforce-Limit-Info")
        if header:
            usage = Salesforce.parse_api_usage(header).get("api-usage")
            if usage is not None:
                self._usage = (usage.used, usage.total)

    # -- the call and its error table

    def _invoke(self, fn: Callable[[Salesforce], T], sf: Salesforce) -> T:
        try:
            return fn(sf)
        finally:
            self._read_headers()

    def _map_error(self, endpoint: str, error: BaseException) -> BaseException | None:
        """The error table: an SDK or requests exception → one of Baton's errors (None: not ours)."""
        if isinstance(error, SalesforceError):
            return self._map_sdk_error(endpoint, error)
        maybe = "; the write may have been applied" if endpoint in WRITE_ENDPOINTS else ""
        if isinstance(error, requests.exceptions.JSONDecodeError | json.JSONDecodeError):
            # an answer, however broken, means a write was processed
            return TransientError(f"Salesforce {endpoint}: unreadable answer "
                                  f"({type(error).__name__}){maybe}")
        if isinstance(error, requests.exceptions.ConnectTimeout):
            return TransientError(f"Salesforce {endpoint}: connect timeout")
        if isinstance(error, requests.exceptions.Timeout | requests.exceptions.ConnectionError
                      | requests.exceptions.ChunkedEncodingError):
            return TransientError(f"Salesforce {endpoint}: {type(error).__name__}{maybe}")
        return None

    def _map_sdk_error(self, endpoint: str, error: SalesforceError) -> BaseException:
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
                after = parse_retry_after(self._session.last_headers.get("Retry-After"))
                return RateLimited(text, after)
            if error.status >= 500:
                return TransientError(text)
        return PayloadError(text)

    # -- authentication

    def _client(self, counter: Counter[str]) -> Salesforce:
        sf = self._sf
        return sf if sf is not None else self._authenticate(counter, stale=None)

    def _authenticate(self, counter: Counter[str], *, stale: Salesforce | None) -> Salesforce:
        with self._auth_lock:
            if self._sf is not None and self._sf is not stale:
                return self._sf  # another thread already did it

            def count() -> None:
                counter["token"] += 1

            token, instance_url = login(self.settings, self._secrets, self._session,
                                        count=count, scrub=self.scrub)
            self._access_token = token
            # plain dicts, not the SDK's default OrderedDicts: a query page of 2,000 records
            # is parsed into half the memory, and Baton relies on no OrderedDict behaviour
            self._sf = Salesforce(instance_url=instance_url, session_id=token,
                                  session=self._session, version=self.settings.api_version,
                                  object_pairs_hook=dict)
            log.info("salesforce.authenticated", auth=self.settings.auth,
                     instance=self._sf.sf_instance)
            return self._sf


def _http_date(text: str | None) -> datetime | None:
    """An HTTP `Date` header (RFC 9110 IMF-fixdate) as an aware UTC datetime; None if unreadable."""
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def _query_more(url: str, headers: dict[str, str]) -> Callable[[Salesforce], Any]:
    def fn(sf: Salesforce) -> Any:
        return sf.query_more(url, identifier_is_url=True, headers=headers)

    return fn
