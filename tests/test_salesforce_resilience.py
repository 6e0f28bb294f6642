"""Sessions, 429/5xx, broken bodies and the daily API allocation, against the emulator."""
from __future__ import annotations

from datetime import timedelta

import pytest
import structlog

from baton.core.errors import AuthError, QuotaExhausted, RateLimited, TransientError
from baton.connectors.retry import RetryPolicy
from baton.connectors.salesforce import SalesforceConnector, SalesforceOrg
from baton.connectors.salesforce.client import QUOTA_PAUSE
from baton.core.config import SalesforceSource, Secrets
from test_salesforce_sandbox import SfSandbox, local_ca, sf_sandbox  # noqa: F401

LIMIT_BODY = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


def test_expired_session_reauthenticates_once_and_succeeds(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    first = connector.fetch_changes(None, sf_sandbox.clock())
    sf_sandbox.emulator.expire_sessions()
    with structlog.testing.capture_logs() as logs:
        again = connector.fetch_changes(first.cursor, sf_sandbox.clock())
    assert again.complete
    assert connector.api_calls()["token"] == 2
    assert sf_sandbox.emulator.calls["query"] == 3  # baseline, the 401, the repeat
    assert [e["event"] for e in logs].count("salesforce.reauthenticate") == 1


def test_a_session_refused_twice_is_an_auth_error(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    connector.fetch_changes(None, sf_sandbox.clock())
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    sf_sandbox.emulator.faults.add("query", times=2, status=401, body=expired)
    with pytest.raises(AuthError):
        connector.fetch_changes(None, sf_sandbox.clock())


def test_429_then_200_waits_retry_after(sf_sandbox: SfSandbox) -> None:
    waits: list[float] = []
    org = SalesforceOrg(sf_sandbox.settings(), sf_sandbox.secrets(),
                        RetryPolicy(attempts=4, sleep=waits.append), clock=sf_sandbox.clock)
    connector = SalesforceConnector(SalesforceSource(id="leads", tool="salesforce"), org)
    sf_sandbox.emulator.faults.add(
        "query", status=429, headers={"Retry-After": "7"},
        body=[{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    batch = connector.fetch_changes(None, sf_sandbox.clock())
    assert len(batch.records) == 40
    assert waits == [7.0]
    assert connector.api_calls()["query"] == 2


def test_a_500_storm_ends_in_transient_error_after_bounded_attempts(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector(org=sf_sandbox.org(attempts=3))
    sf_sandbox.emulator.faults.add("query", times=50, status=500,
                                   body=[{"message": "boom", "errorCode": "UNKNOWN_EXCEPTION"}])
    with pytest.raises(TransientError) as error:
        connector.fetch_changes(None, sf_sandbox.clock())
    assert not isinstance(error.value, RateLimited)
    assert sf_sandbox.emulator.calls["query"] == 3
    assert "UNKNOWN_EXCEPTION" in str(error.value)


def test_truncated_json_is_transient_and_retried(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    sf_sandbox.emulator.faults.add("query", status=200, raw=b'{"totalSize": 40, "done": tr')
    assert len(connector.fetch_changes(None, sf_sandbox.clock()).records) == 40
    assert connector.api_calls()["query"] == 2


def test_a_failed_later_page_keeps_the_records_and_not_the_cursor(sf_sandbox: SfSandbox) -> None:
    from baton.sandbox.salesforce_seed import seed_scale
    seed_scale(sf_sandbox.emulator, 460)
    connector = sf_sandbox.connector(org=sf_sandbox.org(page_size=200, attempts=2))
    sf_sandbox.emulator.faults.add("query_more", times=2, status=503, body=[])
    batch = connector.fetch_changes("2026-11-01T00:00:00.000+0000", sf_sandbox.clock())
    assert not batch.complete and len(batch.records) == 200
    assert batch.cursor == "2026-11-01T00:00:00.000+0000"


def test_request_limit_exceeded_pauses_the_source(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    connector.fetch_changes(None, sf_sandbox.clock())
    sf_sandbox.emulator.set_api_usage(15_000, 15_000)
    with pytest.raises(QuotaExhausted) as exhausted:
        connector.fetch_changes(None, sf_sandbox.clock())
    assert exhausted.value.resume_at == sf_sandbox.clock() + QUOTA_PAUSE
    calls = sf_sandbox.emulator.total_calls()
    with pytest.raises(QuotaExhausted):  # paused: no request leaves the process
        connector.write_back([])
        connector.fetch_changes(None, sf_sandbox.clock())
    assert sf_sandbox.emulator.total_calls() == calls


def test_usage_above_the_share_stops_before_spending_more(sf_sandbox: SfSandbox) -> None:
    emulator, clock = sf_sandbox.emulator, sf_sandbox.clock
    connector = sf_sandbox.connector(org=sf_sandbox.org(api_share_limit=0.8))
    emulator.set_api_usage(799, 1_000)
    first = connector.fetch_changes(None, clock())  # this call reads 800/1000: it completes
    assert len(first.records) == 40
    assert connector.org.api_usage() == (800, 1_000)
    calls = emulator.total_calls()
    with structlog.testing.capture_logs() as logs, pytest.raises(QuotaExhausted) as paused:
        connector.fetch_changes(first.cursor, clock())
    assert emulator.total_calls() == calls
    assert paused.value.resume_at == clock() + QUOTA_PAUSE
    assert any(e["event"] == "salesforce.quota_pause" for e in logs)
    # an hour later the rolling window freed some requests: one call probes, the source resumes
    emulator.set_api_usage(500, 1_000)
    clock.advance(QUOTA_PAUSE.total_seconds() + 1)
    assert connector.fetch_changes(first.cursor, clock()).complete
    assert connector.org.api_usage() == (501, 1_000)


def test_usage_still_high_after_the_pause_pauses_again(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector(org=sf_sandbox.org(api_share_limit=0.5))
    sf_sandbox.emulator.set_api_usage(900, 1_000)
    connector.fetch_changes(None, sf_sandbox.clock())
    with pytest.raises(QuotaExhausted):
        connector.fetch_changes(None, sf_sandbox.clock())
    sf_sandbox.clock.advance(QUOTA_PAUSE.total_seconds() + timedelta(minutes=1).total_seconds())
    connector.fetch_changes(None, sf_sandbox.clock())  # the probe
    with pytest.raises(QuotaExhausted):
        connector.fetch_changes(None, sf_sandbox.clock())


def test_token_auth_cannot_reauthenticate(sf_sandbox: SfSandbox) -> None:
    token = sf_sandbox.emulator.issue_token()
    org = sf_sandbox.org(auth="token", instance_url=sf_sandbox.server.base_url,
                         secrets=Secrets(environ={"SALESFORCE_ACCESS_TOKEN": token}))
    connector = sf_sandbox.connector(org=org)
    assert len(connector.fetch_changes(None, sf_sandbox.clock()).records) == 40
    assert "token" not in connector.api_calls()
    sf_sandbox.emulator.expire_sessions()
    with pytest.raises(AuthError) as refused:
        connector.fetch_changes(None, sf_sandbox.clock())
    assert token not in str(refused.value)


def test_wrong_client_secret_is_an_auth_error_without_the_secret(sf_sandbox: SfSandbox) -> None:
    bad = "definitely-wrong-secret-value"
    secrets = Secrets(environ={"SALESFORCE_CLIENT_ID": sf_sandbox.emulator.client_id,
                               "SALESFORCE_CLIENT_SECRET": bad})
    connector = sf_sandbox.connector(org=sf_sandbox.org(secrets=secrets))
    with structlog.testing.capture_logs() as logs, pytest.raises(AuthError) as refused:
        connector.fetch_changes(None, sf_sandbox.clock())
    assert "invalid_client" in str(refused.value)
    assert bad not in str(refused.value) and bad not in repr(logs)


def test_secrets_and_tokens_never_reach_logs_or_errors(sf_sandbox: SfSandbox) -> None:
    secret = sf_sandbox.emulator.client_secret
    connector = sf_sandbox.connector(org=sf_sandbox.org(attempts=2))
    errors: list[str] = []
    with structlog.testing.capture_logs() as logs:
        connector.fetch_changes(None, sf_sandbox.clock())
        sf_sandbox.emulator.expire_sessions()
        connector.fetch_changes(None, sf_sandbox.clock())
        sf_sandbox.emulator.faults.add("query", times=2, status=500, body=[])
        try:
            connector.fetch_changes(None, sf_sandbox.clock())
        except TransientError as error:
            errors.append(str(error))
        sf_sandbox.emulator.set_api_usage(10, 10)
        try:
            connector.fetch_changes(None, sf_sandbox.clock())
        except QuotaExhausted as error:
            errors.append(str(error))
    tokens = list(sf_sandbox.emulator._sessions)
    assert logs and errors and tokens
    text = repr(logs) + "".join(errors)
    assert secret not in text
    assert not any(token in text for token in tokens)
    assert not any(token.split("!")[1] in text for token in tokens)
