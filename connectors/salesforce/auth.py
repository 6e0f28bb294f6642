"""Salesforce logins: an access token and the instance it is good for.

settings.auth:
    client_credentials  POST {login_url}/services/oauth2/token, HTTP Basic client id:secret
                        (SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET). Done with requests:
                        simple-salesforce hard-codes https://{domain}.salesforce.com.
    jwt                 RS256 assertion iss=client id, sub=SALESFORCE_USERNAME, aud=login_url,
                        exp=+3 min, key from SALESFORCE_PRIVATE_KEY_FILE (or SALESFORCE_PRIVATE_KEY).
    token               SALESFORCE_ACCESS_TOKEN against settings.instance_url (no re-login).

Every token is handed to the log scrubber the moment it is read or arrives.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jwt
import requests

from baton.connectors.retry import parse_retry_after
from baton.core.config import SalesforceSettings, Secrets
from baton.core.errors import AuthError, ConfigError, PayloadError, RateLimited, TransientError
from baton.core.logs import register_secrets

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def login(settings: SalesforceSettings, secrets: Secrets, session: requests.Session, *,
          count: Callable[[], None], scrub: Callable[[str], str]) -> tuple[str, str]:
    """(access token, instance URL) for the configured auth; `count()` before each token call."""
    auth = settings.auth
    if auth == "token":
        token = secrets.require("SALESFORCE_ACCESS_TOKEN", "Salesforce auth = token")
        if not settings.instance_url:
            raise ConfigError("salesforce.instance_url is required when auth = \"token\"")
        register_secrets([token])
        return token, settings.instance_url
    return _oauth(settings, secrets, session, count=count, scrub=scrub)


def _oauth(settings: SalesforceSettings, secrets: Secrets, session: requests.Session, *,
           count: Callable[[], None], scrub: Callable[[str], str]) -> tuple[str, str]:
    auth = settings.auth
    login_url = settings.login_url.rstrip("/")
    client_id = secrets.require("SALESFORCE_CLIENT_ID", f"Salesforce auth = {auth}")
    basic: tuple[str, str] | None = None
    if auth == "client_credentials":
        secret = secrets.require("SALESFORCE_CLIENT_SECRET", "Salesforce auth = client_credentials")
        data = {"grant_type": "client_credentials"}
        basic = (client_id, secret)
    elif auth == "jwt":
        data = {"grant_type": JWT_GRANT,
                "assertion": _jwt_assertion(secrets, client_id, login_url)}
    else:
        raise ConfigError(f"salesforce.auth: unknown value {auth!r}")
    count()
    try:
        response = session.post(f"{login_url}/services/oauth2/token", data=data, auth=basic)
    except requests.exceptions.RequestException as error:
        raise TransientError(f"Salesforce login: {type(error).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("access_token"), str):
        register_secrets([body["access_token"]])  # before anything can log it
    if response.status_code == 429:
        raise RateLimited("Salesforce login: HTTP 429",
                          parse_retry_after(response.headers.get("Retry-After")))
    if response.status_code >= 500 or body is None:
        raise TransientError(f"Salesforce login: HTTP {response.status_code}")
    if response.status_code != 200 or not isinstance(body, dict):
        code = body.get("error", "") if isinstance(body, dict) else ""
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        raise AuthError(scrub(f"Salesforce login refused (HTTP {response.status_code}): "
                              f"{code}: {description}"))
    token, instance_url = body.get("access_token"), body.get("instance_url")
    if not isinstance(token, str) or not isinstance(instance_url, str):
        raise PayloadError("Salesforce login answer lacks access_token or instance_url")
    return token, instance_url


def _jwt_assertion(secrets: Secrets, client_id: str, login_url: str) -> str:
    username = secrets.require("SALESFORCE_USERNAME", "Salesforce auth = jwt")
    key = secrets.get("SALESFORCE_PRIVATE_KEY")
    if not key:
        path = secrets.require("SALESFORCE_PRIVATE_KEY_FILE", "Salesforce auth = jwt")
        try:
            key = Path(path).expanduser().read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"SALESFORCE_PRIVATE_KEY_FILE: cannot read the key file "
                              f"({error.strerror})") from None
    claims = {"iss": client_id, "sub": username, "aud": login_url, "exp": int(time.time()) + 180}
    try:
        return jwt.encode(claims, key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError):
        raise ConfigError("the Salesforce private key is not a valid RSA PEM key") from None
