"""Fault injection in all three sandboxes: each fault is survived with nothing lost or duplicated,
one failing source does not stall the others, and a source that keeps failing backs off and
recovers by itself once the faults stop.

Every case runs the same story through the real connectors: after the baseline a lead enters MQL
with missing data, an Asana task enters Ready for Design without a brief and a sheet row enters
Ready for QA with a duplicated UTM parameter; the fault is queued; Baton cycles until it is done.
Then `scripts.soak.verify` compares the tools with the store (each write-back once by marker,
each transition once against the tools' history, the store's statuses equal the tools').
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from baton.connectors.retry import RetryPolicy
from baton.sandbox.sheets import google_error, quota_fault
from scripts.soak import SoakResult, verify
from tests.conftest import ROOT

BAD_LEAD = {"FirstName": "Grace", "LastName": "Hopper", "Company": "Cobol Systems",
            "Email": "grace@cobol", "LeadSource": "Webinar", "Consent__c": False,
            "Status": "Open - Not Contacted"}
SF_EXPIRED = [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]
ASANA_ERROR = {"errors": [{"message": "Server Error"}]}
TIMEOUT = 0.4  # connector timeouts in these tests; a `delay` of 1 s is a timeout


def _config(demo_config):
    rules = [str(ROOT / "rules" / "demo" / n) for n in
             ("asana-content.toml", "salesforce-leads.toml", "sheets-utm.toml", "taxonomy.toml")]
    return demo_config.model_copy(update={
        "baton": demo_config.baton.model_copy(update={"rules": rules}),
        **{tool: getattr(demo_config, tool).model_copy(update={"timeout_seconds": TIMEOUT})
           for tool in ("salesforce", "sheets")},
        # (the Asana budget sleeps for real: a paid plan's 1,500 a minute keeps it out of the way)
        "asana": demo_config.asana.model_copy(update={"timeout_seconds": TIMEOUT,
                                                      "requests_per_minute": 1500})})


class Story:
    """The sandbox, a Baton runner on it, and the three handoffs that must each be written once."""

    def __init__(self, make_sandbox, demo_config, tmp_path, sleeps: list[float]) -> None:
        from baton.app.runtime import open_runtime

        self.box = box = make_sandbox()
        self.lead = box.salesforce.create_record("Lead", BAD_LEAD)
        self.task = next(gid for gid, t in box.asana.tasks.items() if t.name.startswith("CMP-1050_"))
        self.state = tmp_path / "state.db"
        configured, secrets = box.configure(_config(demo_config), self.state)
        self.runtime = open_runtime(configured, secrets,
                                    retry=RetryPolicy(attempts=3, sleep=sleeps.append))
        self.runner = self.runtime.runner(clock=box.clock.now)
        self.runner.run_all()  # baseline
        box.clock.advance(60)
        self.t0 = box.clock.now()
        box.salesforce.update_record("Lead", self.lead, {"Status": "MQL"})
        box.asana.move_task(self.task, "Ready for Design")
        box.sheets.set_cell(box.spreadsheet_id, "UTM Tracker", "Campaign ID", "CMP-1106",
                            "Status", "Ready for QA")
        self.sheet_moves = [("CMP-1106", "Ready for QA")]
        box.clock.advance(30)

    def cycle(self, times: int = 1, step: float = 30) -> dict[str, Any]:
        reports: dict[str, Any] = {}
        for _ in range(times):
            reports = self.runner.run_all()
            self.box.clock.advance(step)
        return reports

    def settle(self) -> None:
        """Cycles until nothing is pending, the circuit breakers closed and the store caught up."""
        for _ in range(12):
            self.cycle(step=300)  # past any backoff (15 min at most)
            healthy = all(h.consecutive_failures == 0 for h in self.runner.health.values())
            if healthy and not any(self.runtime.store.pending_actions(s)
                                   for s in self.runtime.connectors):
                break
        self.cycle(2)

    def assert_exactly_once(self) -> None:
        box = self.box
        result = SoakResult()
        verify(box, self.state, self.t0, self.sheet_moves, result)
        assert result.problems == []
        tasks = [t for t in box.salesforce.records("Task") if "[baton:" in t["Description"]]
        assert [t["WhoId"] for t in tasks] == [self.lead]
        lead = next(r for r in box.salesforce.records("Lead") if r["Id"] == self.lead)
        assert lead["Status"] == "Data Remediation"
        assert len([c for c in box.asana.comments(self.task) if "[baton:" in c["text"]]) == 1
        assert box.asana.section_of(self.task, box.project_gid) == "Drafting"
        row = box.sheets.row_of(box.spreadsheet_id, "UTM Tracker", "Campaign ID", "CMP-1106")
        status_col = box.sheets.header(box.spreadsheet_id, "UTM Tracker").index("Status")
        note = box.sheets.note(box.spreadsheet_id, "UTM Tracker", row, status_col) or ""
        assert note.count("[baton:") == 1
        ledger = self.runtime.store.ledger_entries()
        # every source that has gates wrote; salesforce:campaigns is only read (cross-tool lookups)
        assert {e.source for e in ledger} == set(self.runtime.connectors) - {"salesforce:campaigns"}
        assert {e.state for e in ledger} == {"done"}


@pytest.fixture
def story(make_sandbox, demo_config, tmp_path):
    sleeps: list[float] = []
    made = Story(make_sandbox, demo_config, tmp_path, sleeps)
    made.sleeps = sleeps
    return made


def _emulator(story: Story, tool: str):
    return {"salesforce": story.box.salesforce, "asana": story.box.asana,
            "sheets": story.box.sheets}[tool]


# (tool, route name, fault, times): every one must end with each write-back exactly once.
FAULTS = [
    # Salesforce
    ("salesforce", "query", {"status": 429, "headers": {"Retry-After": "2"}, "body": []}, 2),
    ("salesforce", "query", {"status": 503, "body": []}, 2),
    ("salesforce", "query", {"status": 500, "body": []}, 7),  # > attempts: whole cycles fail
    ("salesforce", "query", {"status": 200, "raw": b'{"totalSize": 1, "done": true, "records": ['}, 1),
    ("salesforce", "query", {"status": 200, "delay": 1.0, "body": []}, 1),
    ("salesforce", "query", {"status": 401, "body": SF_EXPIRED}, 1),
    ("salesforce", "token", {"status": 503, "body": {}}, 2),
    ("salesforce", "composite_update", {"status": 500, "body": []}, 1),
    ("salesforce", "composite_create", {"status": 503, "body": []}, 1),
    ("salesforce", "composite_create", {"status": 429, "headers": {"Retry-After": "1"}, "body": []}, 1),
    # the Task lands, the answer is lost: found by its marker, not created twice
    ("salesforce", "composite_create", {"status": 200, "delay": 1.0, "body": [], "after": True}, 1),
    ("salesforce", "composite_create", {"status": 200, "raw": b'[{"id": "00T', "after": True}, 1),
    # Asana
    ("asana", "get_events", {"status": 429, "headers": {"Retry-After": "2"}, "body": ASANA_ERROR}, 2),
    ("asana", "get_events", {"status": 500, "body": ASANA_ERROR}, 1),
    ("asana", "get_events", {"status": 503, "body": ASANA_ERROR}, 7),
    ("asana", "get_events", {"status": 200, "raw": b'{"data": ['}, 1),
    ("asana", "get_events", {"status": 200, "delay": 1.0, "body": {}}, 1),
    ("asana", "create_batch_request", {"status": 429, "headers": {"Retry-After": "1"},
                                       "body": ASANA_ERROR}, 2),
    ("asana", "batch.create_story_for_task", {"status": 500}, 1),
    ("asana", "batch.add_task_for_section", {"status": 503}, 1),
    ("asana", "get_user", {"status": 500, "body": ASANA_ERROR}, 1),
    # Sheets (quota errors are 429 RESOURCE_EXHAUSTED, and 403 rateLimitExceeded on Drive)
    ("sheets", "values_get", quota_fault()["body"] and {"status": 429, "body": quota_fault()["body"]}, 2),
    ("sheets", "drive_files_get", {"status": 403, "body": google_error(
        403, "Rate limit exceeded", "rateLimitExceeded"), "headers": {"Retry-After": "1"}}, 2),
    ("sheets", "drive_files_get", {"status": 503, "body": google_error(503)}, 7),
    ("sheets", "values_get", {"status": 200, "raw": b'{"range": "A1", "values": [["Camp'}, 1),
    ("sheets", "values_get", {"status": 200, "delay": 1.0, "body": {}}, 1),
    ("sheets", "token", {"status": 500, "body": {"error": "internal"}}, 1),
    ("sheets", "batch_update", {"status": 429, "body": google_error(429)}, 1),
    ("sheets", "batch_update", {"status": 503, "body": google_error(503)}, 1),
    ("sheets", "batch_update", {"status": 200, "delay": 1.0, "body": {}, "after": True}, 1),
]


@pytest.mark.parametrize(("tool", "route", "fault", "times"), FAULTS,
                         ids=[f"{t}-{r}-{f.get('status')}{'-slow' if f.get('delay') else ''}"
                              f"{'-raw' if f.get('raw') else ''}{'-after' if f.get('after') else ''}x{n}"
                              for t, r, f, n in FAULTS])
def test_a_fault_is_survived_with_each_write_back_exactly_once(story, tool, route, fault, times):
    emulator = _emulator(story, tool)
    if route == "token":  # a login happens only when the session or token has expired
        getattr(emulator, "expire_sessions", None) and emulator.expire_sessions()
        getattr(emulator, "expire_tokens", None) and emulator.expire_tokens()
    emulator.faults.add(route, times=times, **fault)
    story.cycle(3)
    story.settle()
    assert _emulator(story, tool).faults.take(route) is None, "the fault was never served"
    story.assert_exactly_once()


def test_retry_after_is_honoured(story):
    story.box.salesforce.faults.add("query", status=429, headers={"Retry-After": "7"}, body=[])
    story.box.asana.faults.add("get_events", status=429, headers={"Retry-After": "5"},
                               body=ASANA_ERROR)
    story.cycle()
    assert 7.0 in story.sleeps and 5.0 in story.sleeps


def test_an_expired_salesforce_session_reauthenticates_once(story):
    story.cycle()
    story.box.salesforce.expire_sessions()
    story.box.salesforce.update_record("Lead", story.lead, {"Status": "Open - Not Contacted"})
    story.box.clock.advance(30)
    with capture_logs() as logs:
        reports = story.cycle()
    assert reports["salesforce:leads"] is not None
    assert [e["event"] for e in logs].count("salesforce.reauthenticate") == 1
    story.sheet_moves = story.sheet_moves  # unchanged
    story.settle()
    result = SoakResult()
    verify(story.box, story.state, story.t0, story.sheet_moves, result)
    assert result.problems == []


def test_an_expired_asana_sync_token_resyncs_without_losing_a_move(story):
    story.cycle()
    story.box.asana.expire_sync_tokens()
    story.box.asana.move_task(story.task, "Ready for Design")  # again, after the bounce
    story.box.clock.advance(30)
    with capture_logs() as logs:
        story.cycle()
    assert "asana.sync_token_expired" in [e["event"] for e in logs]
    story.settle()
    comments = [c for c in story.box.asana.comments(story.task) if "[baton:" in c["text"]]
    assert len(comments) == 2  # one per entry into Ready for Design, none twice
    result = SoakResult()
    verify(story.box, story.state, story.t0, story.sheet_moves, result)
    assert result.problems == []


def test_a_failing_source_does_not_stall_the_others_and_recovers_by_itself(story):
    sf = story.box.salesforce
    sf.faults.add("query", times=10_000, status=503, body=[])
    with capture_logs() as logs:
        story.cycle()
    # Asana and Sheets did their work in the same cycles
    assert len([c for c in story.box.asana.comments(story.task) if "[baton:" in c["text"]]) == 1
    assert story.runner.health["salesforce:leads"].consecutive_failures == 1
    assert "source.poll_failed" in [e["event"] for e in logs]

    # It keeps failing: after 3 failures the breaker opens and the source is not even called.
    story.cycle(2, step=1)
    health = story.runner.health["salesforce:leads"]
    assert health.consecutive_failures == 3 and health.retry_at is not None
    calls = sf.calls["query"]
    story.cycle(3, step=1)
    assert sf.calls["query"] == calls  # backing off: no calls while the breaker is open
    assert story.runner.health["asana:content-calendar"].consecutive_failures == 0

    # The faults stop; once the wait is over the source recovers on its own.
    sf.faults.clear()
    story.box.clock.set(health.retry_at + timedelta(seconds=1))
    with capture_logs() as logs:
        story.cycle()
    assert story.runner.health["salesforce:leads"].consecutive_failures == 0
    assert "source.recovered" in [e["event"] for e in logs]
    story.settle()
    story.assert_exactly_once()


def test_a_source_failing_for_long_backs_off_exponentially_to_the_cap(story):
    story.box.asana.faults.add("get_events", times=10_000, status=500, body=ASANA_ERROR)
    waits = []
    for _ in range(10):
        health = story.runner.health.get("asana:content-calendar")
        if health and health.retry_at:
            story.box.clock.set(health.retry_at)
        story.runner.run_source("asana:content-calendar")
        health = story.runner.health["asana:content-calendar"]
        if health.retry_at:
            waits.append((health.retry_at - story.box.clock.now()).total_seconds())
    assert waits[:4] == [60, 120, 240, 480] and max(waits) == 900  # capped at 15 minutes
    story.box.asana.faults.clear()
    story.box.clock.set(health.retry_at)
    assert story.runner.run_source("asana:content-calendar") is not None
    story.settle()
    story.assert_exactly_once()
