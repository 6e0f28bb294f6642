"""OAuth flows: against a non-local My Domain with `responses`, and JWT end to end on loopback."""
from __future__ import annotations

import base64
import time
from pathlib import Path
from urllib.parse import parse_qs

import jwt
import pytest
import responses
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from baton.core.errors import AuthError, ConfigError, TransientError
from baton.connectors.retry import RetryPolicy
from baton.connectors.salesforce import SalesforceConnector, SalesforceOrg
from baton.core.config import SalesforceSettings, SalesforceSource, Secrets
from baton.sandbox.salesforce import SalesforceEmulator
from baton.sandbox.server import SandboxServer
from baton.sandbox.tls import LocalCA
from test_salesforce_sandbox import FakeClock, local_ca  # noqa: F401

LOGIN = "https://acme.my.salesforce.com"
INSTANCE = "https://acme.my.salesforce.com"
QUERY_URL = f"{INSTANCE}/services/data/v59.0/query/"
TOKEN = "00D000000000001!AQ.test-access-token-value"
EMPTY = {"totalSize": 0, "done": True, "records": []}


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("jwt") / "server.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return path, public


def _connector(auth: str, env: dict[str, str]) -> SalesforceConnector:
    settings = SalesforceSettings(auth=auth, login_url=LOGIN)  # type: ignore[arg-type]
    org = SalesforceOrg(settings, Secrets(environ=env), RetryPolicy(attempts=3, sleep=lambda s: None))
    return SalesforceConnector(SalesforceSource(id="leads", tool="salesforce"), org)


def _token_answer() -> dict[str, str]:
    return {"access_token": TOKEN, "instance_url": INSTANCE, "token_type": "Bearer",
            "id": f"{LOGIN}/id/00D/005", "scope": "api", "issued_at": "1795000000000",
            "signature": "c2lnbmF0dXJl"}


@responses.activate
def test_client_credentials_posts_basic_auth_to_the_login_url() -> None:
    token_call = responses.post(f"{LOGIN}/services/oauth2/token", json=_token_answer())
    query_call = responses.get(QUERY_URL, json=EMPTY,
                               headers={"Sforce-Limit-Info": "api-usage=5/15000"})
    connector = _connector("client_credentials", {"SALESFORCE_CLIENT_ID": "the-client",
                                                  "SALESFORCE_CLIENT_SECRET": "s3cr3t:with:colons"})
    connector.fetch_changes(None, FakeClock()())
    request = token_call.calls[0].request
    assert parse_qs(request.body) == {"grant_type": ["client_credentials"]}
    expected = base64.b64encode(b"the-client:s3cr3t:with:colons").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    sent = query_call.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Sforce-Query-Options"] == "batchSize=2000"
    assert connector.org.api_usage() == (5, 15000)


@responses.activate
def test_jwt_bearer_assertion_claims(rsa_key: tuple[Path, bytes]) -> None:
    key_file, public = rsa_key
    token_call = responses.post(f"{LOGIN}/services/oauth2/token", json=_token_answer())
    responses.get(QUERY_URL, json=EMPTY)
    connector = _connector("jwt", {"SALESFORCE_CLIENT_ID": "3MVG9.consumer",
                                   "SALESFORCE_USERNAME": "baton@acme.example",
                                   "SALESFORCE_PRIVATE_KEY_FILE": str(key_file)})
    connector.fetch_changes(None, FakeClock()())
    form = parse_qs(token_call.calls[0].request.body)
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(form["assertion"][0], public, algorithms=["RS256"], audience=LOGIN)
    assert claims["iss"] == "3MVG9.consumer" and claims["sub"] == "baton@acme.example"
    assert 0 < claims["exp"] - time.time() <= 180
    assert jwt.get_unverified_header(form["assertion"][0])["alg"] == "RS256"


@responses.activate
def test_refused_login_is_an_auth_error_and_5xx_login_is_transient() -> None:
    responses.post(f"{LOGIN}/services/oauth2/token", status=400,
                   json={"error": "invalid_grant", "error_description": "user hasn't approved "
                                                                         "this consumer"})
    connector = _connector("client_credentials", {"SALESFORCE_CLIENT_ID": "c",
                                                  "SALESFORCE_CLIENT_SECRET": "hunter2-secret"})
    with structlog.testing.capture_logs() as logs, pytest.raises(AuthError) as refused:
        connector.fetch_changes(None, FakeClock()())
    assert "invalid_grant" in str(refused.value)
    assert "hunter2-secret" not in str(refused.value) + repr(logs)

    responses.replace(responses.POST, f"{LOGIN}/services/oauth2/token", status=503, body="")
    with pytest.raises(TransientError):
        connector.fetch_changes(None, FakeClock()())
    assert connector.api_calls()["token"] == 1 + 3  # bounded by the retry policy


def test_missing_secrets_name_the_variable() -> None:
    connector = _connector("jwt", {"SALESFORCE_CLIENT_ID": "c"})
    with pytest.raises(ConfigError, match="SALESFORCE_USERNAME"):
        connector.fetch_changes(None, FakeClock()())


def test_jwt_bearer_end_to_end_against_the_emulator(local_ca: LocalCA,
                                                     rsa_key: tuple[Path, bytes]) -> None:
    key_file, public = rsa_key
    clock = FakeClock()
    emulator = SalesforceEmulator(clock=clock, jwt_public_key=public)
    emulator.create_record("User", {"LastName": "Bot", "Username": "bot@acme.example",
                                    "Email": "bot@acme.example"})
    emulator.create_record("Lead", {"LastName": "Ng", "Company": "Kite", "Status": "MQL"})
    with SandboxServer(emulator, local_ca) as server:
        settings = SalesforceSettings(auth="jwt", login_url=server.base_url,
                                      ca_bundle=str(local_ca.ca_pem))
        env = {"SALESFORCE_CLIENT_ID": emulator.client_id,
               "SALESFORCE_USERNAME": "bot@acme.example",
               "SALESFORCE_PRIVATE_KEY_FILE": str(key_file)}
        org = SalesforceOrg(settings, Secrets(environ=env),
                            RetryPolicy(attempts=2, sleep=lambda s: None), clock=clock)
        connector = SalesforceConnector(SalesforceSource(id="leads", tool="salesforce"), org)
        assert [r.name for r in connector.fetch_changes(None, clock()).records] == ["Ng"]

        stranger = {**env, "SALESFORCE_USERNAME": "nobody@acme.example"}
        org = SalesforceOrg(settings, Secrets(environ=stranger),
                            RetryPolicy(attempts=2, sleep=lambda s: None), clock=clock)
        with pytest.raises(AuthError, match="invalid_grant"):
            SalesforceConnector(SalesforceSource(id="leads", tool="salesforce"),
                                org).fetch_changes(None, clock())


def test_a_configured_ca_bundle_wins_over_the_environment_and_proxies_still_apply(monkeypatch, tmp_path):
    """REQUESTS_CA_BUNDLE must not replace the configured bundle; HTTPS_PROXY must still be read."""
    from baton.connectors.salesforce.client import SalesforceSession

    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    pinned = SalesforceSession(5.0, str(bundle)).merge_environment_settings(
        "https://acme.my.salesforce.com/x", {}, None, None, None)
    assert pinned["verify"] == str(bundle)
    assert pinned["proxies"].get("https") == "http://proxy.example:3128"
    default = SalesforceSession(5.0, True).merge_environment_settings(
        "https://acme.my.salesforce.com/x", {}, None, None, None)
    assert default["verify"] == "/etc/ssl/certs/ca-certificates.crt"  # the system bundle, as configured
