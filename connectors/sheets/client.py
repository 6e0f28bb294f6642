"""The Sheets/Drive client: service-account auth, the googleapiclient services, the transport and
the error table (HTTP status + Google reason → Baton error), keys and tokens scrubbed from errors.

Transport is google-api-python-client over httplib2 (explicit CA bundle, explicit timeout),
authorised by a service-account key file whose own `token_uri` is honoured. Retries are ours
(RetryPolicy through the shared Transport), never googleapiclient's `num_retries`, which would
also retry POSTs and ignores Retry-After.
"""
from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import google.auth.exceptions
import googleapiclient.schema
import httplib2
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from baton.connectors.budget import RateBudget
from baton.connectors.retry import RetryPolicy, parse_retry_after
from baton.connectors.transport import Transport
from baton.core.config import Secrets, SheetsSettings
from baton.core.logs import register_secrets
from baton.core.errors import AuthError, ConfigError, RateLimited, SourceError, TransientError

# googleapiclient writes a docstring for every method it generates, pretty-printing the request
# and response schemas; for the Sheets API the first few methods cost ~90 MB of RSS (measured by
# benchmarks/). Nobody reads those docstrings in a daemon: render them empty.
googleapiclient.schema.Schemas.prettyPrintByName = lambda self, name: ""
googleapiclient.schema.Schemas.prettyPrintSchema = lambda self, schema: ""

KEY_FILE_ENV = "GOOGLE_SERVICE_ACCOUNT_FILE"
SCOPES = (
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
)
_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}


class SheetsClient:
    """One service account's authorised Sheets and Drive services and budgets, shared by the
    sources of the tool; each source (connector) passes its own call counter."""

    def __init__(self, settings: SheetsSettings, secrets: Secrets, retry: RetryPolicy) -> None:
        key_path = Path(secrets.require(KEY_FILE_ENV, "Google Sheets service-account auth"))
        info = _read_key_file(key_path)
        try:
            credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
        except (ValueError, KeyError, TypeError):
            # the exception text may quote the key; say only where and what
            raise ConfigError(
                f"{KEY_FILE_ENV}={key_path}: not a usable service-account key "
                "(needs client_email, token_uri and an RSA private_key)"
            ) from None
        self.client_email: str = info.get("client_email", "")
        self._credentials = credentials
        # what must never be quoted back into a message: the key's PEM lines, and the token
        self._secret_texts = [line.strip() for line in str(info.get("private_key", "")).splitlines()
                              if len(line.strip()) >= 16 and not line.startswith("-----")]
        register_secrets(self._secret_texts)
        self._tokens: list[str] = []
        self._settings = settings
        # httplib2.Http is not thread-safe and sources of one tool run concurrently
        # (engine.runner.SourcePool): each thread sends on its own connection (`_http`).
        self._local = threading.local()
        authed = self._http()
        self.sheets = build(
            "sheets", "v4", http=authed, static_discovery=True, cache_discovery=False,
            client_options={"api_endpoint": settings.sheets_endpoint},
        )
        self.drive = build(
            "drive", "v3", http=authed, static_discovery=True, cache_discovery=False,
            client_options={"api_endpoint": settings.drive_endpoint},
        )
        # Sheets counts reads and writes against separate per-minute quotas; Drive is not budgeted.
        def transport(budget: RateBudget | None) -> Transport:
            return Transport("sheets", retry, self._map_error, budget)

        self._reads = transport(RateBudget(settings.requests_per_minute, tool="sheets", sleep=retry.sleep))
        self._writes = transport(RateBudget(settings.requests_per_minute, tool="sheets.write",
                                            sleep=retry.sleep))
        self._drive = transport(None)

    def execute(
        self,
        endpoint: str,
        make_request: Callable[[], Any],
        *,
        what: str,
        counter: Counter[str],
        write: bool = False,
    ) -> dict[str, Any]:
        """One API call through the transport: budget, `counter[endpoint]`, errors mapped, retry.

        Writes are retried only on 429 (Google did not apply the request); after a 5xx or a
        timeout the write may have landed, so it is reported, not repeated blindly.
        """
        transport = self._drive if endpoint.startswith("drive.") else (self._writes if write else self._reads)
        transport = dataclasses.replace(transport, map_error=lambda _e, error: self._map_error(what, error))

        def once() -> dict[str, Any]:
            reply = make_request().execute(http=self._http(), num_retries=0)
            self._remember_token()
            if not isinstance(reply, dict):  # googleapiclient hands back unparseable JSON as str
                raise TransientError(f"{what}: malformed response body")
            return reply

        return transport.call(endpoint, once, counter=counter, write=write)

    def _http(self) -> AuthorizedHttp:
        """This thread's authorised connection (the credentials, and their token, are shared)."""
        http = getattr(self._local, "http", None)
        if http is None:
            http = AuthorizedHttp(self._credentials, http=httplib2.Http(
                ca_certs=self._settings.ca_bundle or None, timeout=self._settings.timeout_seconds))
            self._local.http = http
        return http

    def scrub(self, text: str) -> str:
        """`text` without the private key or an access token (servers may quote them back)."""
        self._remember_token()
        for secret in [*self._secret_texts, *self._tokens]:
            text = text.replace(secret, "***")
        return text

    def _remember_token(self) -> None:
        token = getattr(self._credentials, "token", None)
        if isinstance(token, str) and len(token) >= 8 and token not in self._tokens:
            self._tokens = [*self._tokens[-4:], token]  # the last few: a refresh replaces it
            register_secrets([token])  # and the log scrubber never prints it either

    def _map_error(self, what: str, error: BaseException) -> BaseException | None:
        """The error table: an SDK/transport exception -> a Baton error (None: not ours)."""
        if isinstance(error, SourceError):
            return error
        if isinstance(error, HttpError):
            return map_http_error(error, what, self.client_email, scrub=self.scrub)
        if isinstance(error, google.auth.exceptions.RefreshError):
            if getattr(error, "retryable", False):
                return TransientError(f"{what}: token endpoint unavailable")
            return AuthError(f"{what}: the token endpoint refused the service account "
                             f"{self.client_email} ({self.scrub(_first_line(error))})")
        if isinstance(error, google.auth.exceptions.TransportError):
            return TransientError(f"{what}: could not reach the token endpoint")
        if isinstance(error, ssl.SSLCertVerificationError):
            return SourceError(f"{what}: TLS certificate not trusted (set sheets.ca_bundle)")
        if isinstance(error, (TimeoutError, socket.timeout, ConnectionError, ssl.SSLError, OSError,
                              httplib2.HttpLib2Error, http.client.HTTPException)):
            return TransientError(f"{what}: {type(error).__name__}")
        if isinstance(error, ValueError):  # json.JSONDecodeError: a truncated or non-JSON body
            return TransientError(f"{what}: malformed response body")
        return None


def _read_key_file(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{KEY_FILE_ENV}={path}: {error.strerror}") from None
    except ValueError:
        raise ConfigError(f"{KEY_FILE_ENV}={path}: not a JSON key file") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ConfigError(f"{KEY_FILE_ENV}={path}: not a service-account key (type != service_account)")
    return info


def _first_line(error: Exception) -> str:
    text = str(error.args[0]) if error.args else type(error).__name__
    return text.splitlines()[0][:200] if text else type(error).__name__


def map_http_error(error: HttpError, what: str, client_email: str = "",
                   scrub: Callable[[str], str] = str) -> SourceError:
    """HTTP status (+ Google reason) -> what the caller does next. The table:

        429, 403 rate-limit reasons   RateLimited (retried; Retry-After honoured if sent)
        5xx                           TransientError (retried)
        401, 403                      AuthError
        404, 400, other 4xx           SourceError naming the spreadsheet/tab
    """
    status = error.status_code
    message, reasons = _google_error(error)
    message = scrub(message)
    if status == 429 or (status == 403 and reasons & _RATE_REASONS):
        retry_after = parse_retry_after(error.resp.get("retry-after") if error.resp else None)
        return RateLimited(f"{what}: rate limited ({message})", retry_after)
    if status >= 500:
        return TransientError(f"{what}: server error {status} ({message})")
    if status == 401:
        return AuthError(f"{what}: credentials refused ({message})")
    if status == 403:
        return AuthError(f"{what}: permission denied ({message}); share the spreadsheet with "
                         f"{client_email or 'the service account'}")
    if status == 404:
        return SourceError(f"{what}: not found ({message}); check spreadsheet_id and that the "
                           f"file is shared with {client_email or 'the service account'}")
    return SourceError(f"{what}: {status} {message}")


def _google_error(error: HttpError) -> tuple[str, set[str]]:
    try:
        body = json.loads(error.content.decode("utf-8"))["error"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return (error.reason or str(error.status_code)), set()
    if not isinstance(body, dict):
        return str(body), set()
    reasons = {str(e.get("reason")) for e in body.get("errors") or [] if isinstance(e, dict)}
    reasons |= {str(d.get("reason")) for d in body.get("details") or [] if isinstance(d, dict)}
    return str(body.get("message") or body.get("status") or error.status_code), reasons

