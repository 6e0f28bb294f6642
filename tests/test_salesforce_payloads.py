"""Malformed Salesforce answers, served by the emulator to the real SDK: each one is a
PayloadError for the source that names what was wrong (never a traceback, never a loop), and
every access token that arrives is handed to the log scrubber at once."""
from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from baton.connectors.salesforce.paging import PagingError
from baton.core import logs
from baton.core.errors import PayloadError, TransientError
from test_bad_input_census import _messages, _run
from test_salesforce_sandbox import SfSandbox, local_ca, sf_sandbox  # noqa: F401

LOCATOR = "/services/data/v59.0/query/01gBATONLOOP-1"


def _row(record_id: str = "00Q000000000001AAA", **fields: Any) -> dict[str, Any]:
    row = {"attributes": {"type": "Lead"}, "Id": record_id, "Name": "Ng", "OwnerId": None,
           "Status": "MQL", "SystemModstamp": "2026-11-24T09:00:00.000+0000"}
    row.update(fields)
    return {key: value for key, value in row.items() if value is not ...}


def _page(records: list[Any], *, total: int | None = None, next_url: str | None = None
          ) -> dict[str, Any]:
    answer: dict[str, Any] = {"totalSize": len(records) if total is None else total,
                              "done": next_url is None, "records": records}
    if next_url is not None:
        answer["nextRecordsUrl"] = next_url
    return answer


# ------------------------------------------------------------------------------ one bad row

@pytest.mark.parametrize(("row", "fragment"), [
    ("not a row", "Salesforce query row 1 is not an object (found str)"),
    (_row(Id=...), "Salesforce Lead row 1: no Id (found None)"),
    (_row(Id=""), "Salesforce Lead row 1: no Id (found '')"),
    (_row(SystemModstamp="yesterday"),
     "Salesforce Lead row 1 00Q000000000001AAA: SystemModstamp 'yesterday' is not a datetime"),
    (_row(SystemModstamp=...), "SystemModstamp None is not a datetime"),
    (_row(SystemModstamp=1764000000), "SystemModstamp 1764000000 is not a datetime"),
], ids=["not-an-object", "no-id", "empty-id", "bad-modstamp", "no-modstamp", "number-modstamp"])
def test_a_bad_row_is_a_payload_error_naming_the_field(sf_sandbox: SfSandbox, row: Any,
                                                       fragment: str) -> None:
    connector = sf_sandbox.connector()
    sf_sandbox.emulator.faults.add("query", status=200, body=_page([_row("00Q000000000002AAA"), row]))
    with pytest.raises(PayloadError) as bad:
        connector.fetch_changes(None, sf_sandbox.clock())
    assert fragment.replace("row 1", "row 2") in str(bad.value)
    assert connector.api_calls()["query"] == 1  # a payload is not retried


def test_a_bad_row_in_field_history_is_a_payload_error(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    lead = sf_sandbox.demo.lead_ids[0]
    sf_sandbox.emulator.faults.add("query", status=200, body=_page([
        {"LeadId": lead, "OldValue": "Open", "NewValue": "MQL", "CreatedDate": "soon"}]))
    with pytest.raises(PayloadError, match="LeadHistory|Lead history: CreatedDate 'soon'"):
        connector.status_history([lead], None)


# ------------------------------------------------------------------------------ malformed 200s

@pytest.mark.parametrize(("body", "fragment"), [
    ([{"Id": "00Q000000000001AAA"}], "Salesforce query answer is not an object (found list)"),
    ("records", "Salesforce query answer is not an object (found str)"),
    ({"totalSize": 1, "done": True, "records": {"Id": "x"}}, "has no records list"),
    ({"totalSize": 1, "done": True}, "has no records list"),
    ({"totalSize": 3, "done": False, "records": [_row()]}, "not done but has no nextRecordsUrl"),
    ({"done": False, "records": [_row()], "nextRecordsUrl": LOCATOR}, "has no totalSize"),
], ids=["list", "string", "records-object", "no-records", "no-next-url", "no-total"])
def test_a_malformed_200_is_a_payload_error(sf_sandbox: SfSandbox, body: Any,
                                            fragment: str) -> None:
    connector = sf_sandbox.connector()
    sf_sandbox.emulator.faults.add("query", status=200, body=body)
    with pytest.raises(PayloadError) as bad:
        connector.fetch_changes(None, sf_sandbox.clock())
    assert fragment in str(bad.value)


def test_a_body_that_is_not_json_stays_a_transient_error_and_is_retried(
        sf_sandbox: SfSandbox) -> None:
    """A broken transfer (an HTML error page, a cut body) is worth another try; it never
    escapes as a traceback."""
    connector = sf_sandbox.connector(org=sf_sandbox.org(attempts=2))
    sf_sandbox.emulator.faults.add("query", times=2, status=200, raw=b"<html>Bad gateway</html>")
    with pytest.raises(TransientError, match=r"Salesforce query: unreadable answer"):
        connector.fetch_changes(None, sf_sandbox.clock())
    assert connector.api_calls()["query"] == 2


# ------------------------------------------------------------------------------ bounded paging

def test_a_repeated_next_records_url_stops_instead_of_looping(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    emulator = sf_sandbox.emulator
    emulator.faults.add("query", status=200, body=_page(
        [_row("00Q000000000001AAA")], total=1000, next_url=LOCATOR))
    emulator.faults.add("query_more", times=50, status=200, body=_page(
        [_row("00Q000000000002AAA")], total=1000, next_url=LOCATOR))
    with pytest.raises(PagingError, match="repeats nextRecordsUrl") as stopped:
        connector.fetch_changes(None, sf_sandbox.clock())
    assert isinstance(stopped.value, PayloadError)
    assert connector.api_calls()["query_more"] == 1  # the second answer named the same page
    emulator.faults.clear()


def test_more_pages_than_total_size_allows_stops(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    emulator = sf_sandbox.emulator
    emulator.faults.add("query", status=200, body=_page(
        [_row("00Q000000000001AAA")], total=2, next_url=LOCATOR))
    for n in range(2, 6):  # each page names a new one: only the row count can stop it
        emulator.faults.add("query_more", status=200, body=_page(
            [_row(f"00Q00000000000{n}AAA")], total=2, next_url=f"{LOCATOR}{n}"))
    with pytest.raises(PagingError, match="totalSize 2, and still not done"):
        connector.fetch_changes(None, sf_sandbox.clock())
    assert connector.api_calls()["query_more"] == 1


def test_empty_pages_that_never_end_are_bounded_by_total_size(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    emulator = sf_sandbox.emulator
    emulator.faults.add("query", status=200, body=_page([], total=2, next_url=f"{LOCATOR}0"))
    for n in range(1, 10):
        emulator.faults.add("query_more", status=200, body=_page(
            [], total=2, next_url=f"{LOCATOR}{n}"))
    with pytest.raises(PagingError):
        connector.fetch_changes(None, sf_sandbox.clock())
    assert connector.api_calls()["query_more"] <= 3


def test_the_baseline_stream_stops_too(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    sf_sandbox.emulator.faults.add("query", status=200, body=_page(
        [_row()], total=1000, next_url=LOCATOR))
    sf_sandbox.emulator.faults.add("query_more", status=200, body=_page(
        [_row("00Q000000000002AAA")], total=1000, next_url=LOCATOR))
    stream = connector.stream_baseline(sf_sandbox.clock())
    with pytest.raises(PagingError):
        for _page_of_records in stream:
            pass


# ------------------------------------------------------------------------------ through the runner

def test_the_runner_reports_a_bad_row_for_its_source_without_a_traceback(
        make_sandbox, demo_config, tmp_path) -> None:
    box = make_sandbox("salesforce")
    config = demo_config.model_copy(update={"source": [demo_config.source[0]]})
    box.salesforce.faults.add("query", times=3, status=200, body=_page([_row(
        SystemModstamp="2026-13-45T99:00:00.000+0000")]))
    events = _run(box, config, tmp_path)
    seen = _messages(events, "source.poll_failed")
    assert ("PayloadError: Salesforce Lead row 1 00Q000000000001AAA: SystemModstamp "
            "'2026-13-45T99:00:00.000+0000' is not a datetime") in seen, seen
    failed = [e for e in events if e["event"] == "source.poll_failed"]
    assert failed and all(e.get("source") == "salesforce:leads" for e in failed), failed
    assert not any(e.get("exc_info") or e.get("log_level") == "critical" for e in events)


# ------------------------------------------------------------------------------ tokens

def test_every_access_token_is_registered_with_the_log_scrubber(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    connector.fetch_changes(None, sf_sandbox.clock())
    tokens = list(sf_sandbox.emulator._sessions)
    sf_sandbox.emulator.expire_sessions()
    connector.fetch_changes(None, sf_sandbox.clock())  # a second login, a second token
    tokens += list(sf_sandbox.emulator._sessions)
    assert len(set(tokens)) == 2
    for token in tokens:
        event = logs.scrub_secrets(None, "info", {"event": "x", "detail": f"Bearer {token}"})
        assert token not in event["detail"] and "***" in event["detail"]


def test_a_token_is_registered_even_when_the_login_answer_is_then_refused(
        sf_sandbox: SfSandbox) -> None:
    """An answer that carries a token but no instance_url is refused, and the token it carried
    is scrubbed all the same."""
    leaked = "00DBATON!leaked-token-that-must-not-be-logged"
    sf_sandbox.emulator.expire_sessions()
    sf_sandbox.emulator.faults.add("token", times=4, status=200, body={"access_token": leaked})
    connector = sf_sandbox.connector(org=sf_sandbox.org(attempts=1))
    with capture_logs(), pytest.raises(PayloadError, match="lacks access_token or instance_url"):
        connector.fetch_changes(None, sf_sandbox.clock())
    assert logs.scrub_secrets(None, "info", {"event": leaked})["event"] == "***"
