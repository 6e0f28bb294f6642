"""Secrets never reach logs or error messages, at any level, even when a hostile or buggy server
echoes them back in its error answers.

Cycles run with faults and auth failures against all three sandboxes; the output is captured
twice over: the events themselves (`structlog.testing.capture_logs()`, before any processor) and
the real JSON renderer's text (`engine.logs.configure(..., stream=StringIO)`), at DEBUG level.
Both are scanned for the Salesforce client secret and access tokens, the Asana token, the Google
service-account private key and the Google access tokens.
"""
from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from baton.connectors.retry import RetryPolicy
from baton.core import logs
from baton.sandbox.sheets import google_error

BAD_LEAD = {"FirstName": "Grace", "LastName": "Hopper", "Company": "Cobol Systems",
            "Email": "grace@cobol", "LeadSource": "Webinar", "Consent__c": False,
            "Status": "Open - Not Contacted"}


def _secrets(box) -> dict[str, str]:
    key = json.loads(Path(box.env["GOOGLE_SERVICE_ACCOUNT_FILE"]).read_text())["private_key"]
    found = {
        "salesforce client secret": box.env["SALESFORCE_CLIENT_SECRET"],
        "asana token": box.env["ASANA_ACCESS_TOKEN"],
    }
    # any line of the PEM body would be a leak of the key
    body = [line for line in key.splitlines() if line and not line.startswith("-----")]
    found.update({f"google private key line {n}": line for n, line in enumerate(body)})
    for token in box.salesforce._sessions:
        found[f"salesforce access token …{token[-6:]}"] = token
    for token in box.sheets.tokens:
        found[f"google access token …{token[-6:]}"] = token
    return found


def _hostile_faults(box) -> list[tuple[object, str, dict]]:
    """Error answers that quote the credentials back, as some proxies and servers do."""
    sf_token = next(iter(box.salesforce._sessions))
    asana_token = box.env["ASANA_ACCESS_TOKEN"]
    google_token = next(iter(box.sheets.tokens))
    key_line = [line for line in json.loads(Path(box.env["GOOGLE_SERVICE_ACCOUNT_FILE"]).read_text())
                ["private_key"].splitlines() if line and not line.startswith("-----")][3]
    sf, asana, sheets = box.salesforce, box.asana, box.sheets
    return [
        (sf, "query", {"status": 500, "body": [{"errorCode": "UNKNOWN_EXCEPTION",
                                                "message": f"echo: Authorization: Bearer {sf_token}"}]}),
        (sf, "query", {"status": 400, "body": [{"errorCode": "MALFORMED_QUERY",
                                                "message": f"bad token {sf_token} near WHERE"}]}),
        (sf, "query", {"status": 200, "raw": f'{{"records": ["{sf_token}'.encode()}),
        (asana, "get_events", {"status": 401, "body": {"errors": [
            {"message": f"Not Authorized: token {asana_token} is invalid"}]}}),
        (asana, "get_events", {"status": 500, "body": {"errors": [
            {"message": f"Server error for Bearer {asana_token}"}]}}),
        (asana, "get_events", {"status": 200, "raw": f'{{"data": ["{asana_token}'.encode()}),
        (sheets, "drive_files_get", {"status": 403, "body": google_error(
            403, f"key {key_line} is not allowed")}),
        (sheets, "drive_files_get", {"status": 400, "body": google_error(
            400, f"bad request from {google_token}")}),
        (sheets, "values_get", {"status": 404, "body": google_error(
            404, f"no such sheet for {google_token}")}),
    ]


def _login_refusals(box) -> None:
    """Expired sessions, then token endpoints that refuse and quote what they were sent."""
    secret = box.env["SALESFORCE_CLIENT_SECRET"]
    box.salesforce.expire_sessions()
    box.salesforce.faults.add("token", times=2, status=400, body={
        "error": "invalid_client", "error_description": f"client secret {secret} is wrong"})
    box.sheets.expire_tokens()
    box.sheets.faults.add("token", times=2, status=400, body={
        "error": "invalid_grant", "error_description": f"the key for {secret[:3]}... was refused"})
    box.asana.faults.add("get_events", status=401, body={"errors": [{"message": "Not Authorized"}]})


def _drive(box, runner, seen: dict[str, str]) -> None:
    """The story; `seen` collects every secret as it is issued (tokens are replaced on the way)."""
    runner.run_all()  # baseline
    seen.update(_secrets(box))
    box.clock.advance(60)
    lead = box.salesforce.create_record("Lead", BAD_LEAD)
    box.salesforce.update_record("Lead", lead, {"Status": "MQL"})
    box.clock.advance(30)
    for emulator, route, fault in _hostile_faults(box):
        emulator.faults.add(route, times=3, **fault)  # (beyond the retries: the cycle fails)
        runner.run_all()  # a first failure: logged with its message
        emulator.faults.clear()
        box.sheets.set_cell(box.spreadsheet_id, "UTM Tracker", "Campaign ID", "CMP-1106",
                            "Status", "Ready for QA" if route == "values_get" else "Draft")
        box.clock.advance(300)
        runner.run_all()  # recovers
        box.clock.advance(300)
    seen.update(_secrets(box))
    _login_refusals(box)
    for _ in range(3):
        runner.run_all()
        box.clock.advance(300)
        seen.update(_secrets(box))
    for emulator in (box.salesforce, box.asana, box.sheets):
        emulator.faults.clear()
    for _ in range(3):
        runner.run_all()
        box.clock.advance(900)
        seen.update(_secrets(box))


@pytest.mark.parametrize("output", ["capture_logs", "json_renderer"])
def test_no_secret_reaches_the_logs_under_faults_and_auth_failures(make_sandbox, demo_config,
                                                                   tmp_path, output):
    from baton.app.runtime import open_runtime

    box = make_sandbox()
    config = demo_config.model_copy(update={"asana": demo_config.asana.model_copy(
        update={"requests_per_minute": 1500})})  # (the Asana budget sleeps for real)
    configured, secrets = box.configure(config, tmp_path / "state.db")
    stream = io.StringIO()
    logs.configure("json", level=logging.DEBUG, stream=stream)
    runtime = open_runtime(configured, secrets, retry=RetryPolicy(attempts=2, sleep=lambda s: None))
    runner = runtime.runner(clock=box.clock.now)
    seen: dict[str, str] = {}
    if output == "capture_logs":
        with capture_logs() as events:
            _drive(box, runner, seen)
        text = "\n".join(repr(event) for event in events)
    else:
        _drive(box, runner, seen)
        text = stream.getvalue()
    # what else a person could read: health records, ledger errors, the store's error columns
    text += "\n".join(repr(h) for h in runner.health.values())
    text += "\n".join(repr(e) for e in runtime.store.ledger_entries())
    assert "source.poll_failed" in text and ("AuthError" in text or "refused" in text)
    assert len([n for n in seen if "access token" in n]) >= 3  # new ones after each expiry
    leaks = {name for name, secret in seen.items() if secret in text}
    assert not leaks, f"secrets in the {output} output: {sorted(leaks)}"
