"""SalesforceConnector through simple-salesforce against the emulator: reads, history, writes."""
from __future__ import annotations

from datetime import timedelta

from baton.core.actions import Action, ActionKind
from baton.core.owners import OwnerRef
from baton.core.records import TimeSource
from baton.core.keys import idempotency_marker
from baton.sandbox.salesforce import make_id
from baton.sandbox.salesforce_seed import seed_scale
from test_salesforce_sandbox import START, SfSandbox, local_ca, sf_sandbox  # noqa: F401


def _task(key: str, record_id: str, **extra: object) -> Action:
    return Action(key=key, kind=ActionKind.TASK, source="salesforce:leads", record_id=record_id,
                  gate_id="mql-to-sdr", subject="Add the job title",
                  text="This MQL has no title. Add it before the SDR call.", **extra)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ fetch_changes


def test_baseline_pages_at_the_configured_size(sf_sandbox: SfSandbox) -> None:
    seed_scale(sf_sandbox.emulator, 2_460)  # 2,500 leads with the demo's 40
    sf_sandbox.clock.advance(60)
    connector = sf_sandbox.connector()
    batch = connector.fetch_changes(None, sf_sandbox.clock())
    assert len(batch.records) == 2_500 and batch.complete
    assert dict(connector.api_calls()) == {"token": 1, "query": 1, "query_more": 1}
    assert batch.api_calls == 3  # the token call included
    assert sf_sandbox.emulator.calls["query"] == 1 and sf_sandbox.emulator.calls["query_more"] == 1
    stamps = [r.modified_at for r in batch.records]
    assert stamps == sorted(stamps)
    # the server's time at the poll (its Date header), not the newest SystemModstamp
    assert max(stamps) < sf_sandbox.clock()
    assert batch.cursor == sf_sandbox.clock().strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    lead = next(r for r in batch.records if r.name == "Avery Lindqvist")
    assert lead.status == "MQL" and lead.owner == sf_sandbox.demo.sdr_id
    assert lead.url == f"{sf_sandbox.server.base_url}/lightning/r/Lead/{lead.id}/view"
    assert lead.fields["Title"] == "VP Marketing" and lead.fields["Consent__c"] is True
    assert lead.modified_at.tzinfo is not None


def test_demo_org_baseline_is_one_call(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    connector.fetch_changes(None, sf_sandbox.clock())
    assert connector.api_calls()["query"] == 1 and "query_more" not in connector.api_calls()


def test_smaller_pages_cost_more_calls(sf_sandbox: SfSandbox) -> None:
    seed_scale(sf_sandbox.emulator, 460)
    connector = sf_sandbox.connector(org=sf_sandbox.org(page_size=200))
    batch = connector.fetch_changes(None, sf_sandbox.clock())
    assert len(batch.records) == 500
    assert connector.api_calls()["query"] + connector.api_calls()["query_more"] == 3


def test_idle_cycle_is_one_call_and_the_cursor_follows_the_server_clock(
        sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    first = connector.fetch_changes(None, sf_sandbox.clock())
    before = dict(connector.api_calls())
    sf_sandbox.clock.advance(3600)
    idle = connector.fetch_changes(first.cursor, sf_sandbox.clock())
    # nothing changed, and still the cursor moves on with the server's time
    assert idle.cursor == sf_sandbox.clock().strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    window_start = max(r.modified_at for r in first.records) - timedelta(seconds=300)
    assert all(r.modified_at > window_start for r in idle.records)  # only the lookback re-read
    assert idle.api_calls == 1
    assert connector.api_calls()["query"] == before["query"] + 1
    later = connector.fetch_changes(idle.cursor, sf_sandbox.clock())
    assert later.records == [] and later.api_calls == 1  # the window has left them behind


def test_lookback_rereads_late_commits_and_the_cursor_never_moves_back(
    sf_sandbox: SfSandbox,
) -> None:
    emulator, clock = sf_sandbox.emulator, sf_sandbox.clock
    connector = sf_sandbox.connector(org=sf_sandbox.org(lookback_seconds=120))
    baseline = connector.fetch_changes(None, clock())
    clock.advance(300)
    fresh = emulator.create_record("Lead", {"LastName": "Fresh", "Company": "Kite",
                                            "Status": "MQL"})
    clock.advance(30)
    batch = connector.fetch_changes(baseline.cursor, clock())
    # the new lead, plus whatever sits within the lookback before the old cursor
    assert [r.id for r in batch.records][-1] == fresh
    assert all(r.id == fresh or r.modified_at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
               <= (baseline.cursor or "") for r in batch.records)
    cursor = batch.cursor
    assert cursor == (START + timedelta(seconds=330)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")

    # a transaction that started earlier commits now, with a SystemModstamp before the cursor
    late_lead = sf_sandbox.demo.lead_ids[5]
    now = clock()
    clock.now = START + timedelta(seconds=250)
    emulator.update_record("Lead", late_lead, {"Title": "Chief Marketing Officer"})
    clock.now = now + timedelta(seconds=30)
    again = connector.fetch_changes(cursor, clock())
    ids = [r.id for r in again.records]
    assert late_lead in ids and fresh in ids  # both inside the lookback window
    assert len(ids) == len(set(ids))
    # the late record is older: the cursor does not move back, it follows the server's clock
    assert again.cursor == (START + timedelta(seconds=360)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def test_cursor_is_capped_at_the_poll_start(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    poll_start = sf_sandbox.clock()
    sf_sandbox.clock.advance(10)
    sf_sandbox.emulator.create_record("Lead", {"LastName": "After", "Company": "Later Inc"})
    batch = connector.fetch_changes(None, poll_start)
    assert all(r.modified_at <= poll_start for r in batch.records)
    assert batch.cursor is not None and batch.cursor <= poll_start.strftime(
        "%Y-%m-%dT%H:%M:%S.000+0000")


# ------------------------------------------------------------------------------ status_history


def test_hops_between_two_polls_come_from_field_history(sf_sandbox: SfSandbox) -> None:
    emulator, clock = sf_sandbox.emulator, sf_sandbox.clock
    connector = sf_sandbox.connector()
    baseline = connector.fetch_changes(None, clock())
    lead = sf_sandbox.demo.lead_ids[0]  # MQL
    clock.advance(120)
    emulator.update_record("Lead", lead, {"Status": "Working - Contacted"},
                           by_user_id=sf_sandbox.demo.sdr_id)
    worked_at = clock()
    clock.advance(600)
    emulator.update_record("Lead", lead, {"Status": "SQL"}, by_user_id=sf_sandbox.demo.sdr_id)
    qualified_at = clock()
    clock.advance(60)
    batch = connector.fetch_changes(baseline.cursor, clock())
    record = next(r for r in batch.records if r.id == lead)
    assert record.status == "SQL"
    calls = sum(connector.api_calls().values())
    history = connector.status_history([lead, sf_sandbox.demo.lead_ids[1]],
                                       since=START - timedelta(seconds=1))
    assert sum(connector.api_calls().values()) == calls + 1
    changes = history[lead]
    assert [(c.from_status, c.to_status, c.at) for c in changes] == [
        ("MQL", "Working - Contacted", worked_at), ("Working - Contacted", "SQL", qualified_at)]
    assert all(c.time_source == TimeSource.HISTORY for c in changes)
    assert sf_sandbox.demo.lead_ids[1] not in history
    later = connector.status_history([lead], since=worked_at + timedelta(seconds=1))  # since is inclusive
    assert [c.to_status for c in later[lead]] == ["SQL"]


def test_history_is_one_query_per_300_ids(sf_sandbox: SfSandbox) -> None:
    connector = sf_sandbox.connector()
    ids = [make_id("00Q", 90_000 + i) for i in range(301)]
    assert connector.status_history(ids, since=None) == {}
    assert connector.api_calls()["query"] == 2


def test_opportunity_stage_history(sf_sandbox: SfSandbox) -> None:
    emulator = sf_sandbox.emulator
    opp = emulator.create_record("Opportunity", {"Name": "Kite renewal", "StageName": "Prospecting",
                                                 "CloseDate": "2026-12-31"})
    sf_sandbox.clock.advance(5)
    emulator.update_record("Opportunity", opp, {"StageName": "Qualification"})
    connector = sf_sandbox.connector(id="salesforce:opps", object="Opportunity",
                                     status_field="StageName", fields=["Amount"])
    batch = connector.fetch_changes(None, sf_sandbox.clock())
    assert [r.status for r in batch.records] == ["Qualification"]
    history = connector.status_history([opp], since=None)
    assert [(c.from_status, c.to_status) for c in history[opp]] == [
        ("Prospecting", "Qualification")]


# ------------------------------------------------------------------------------ write_back


def test_250_tasks_are_two_composite_calls_with_owner_and_marker(sf_sandbox: SfSandbox) -> None:
    seed_scale(sf_sandbox.emulator, 250, owner_id=sf_sandbox.demo.sdr_id)
    leads = [r["Id"] for r in sf_sandbox.emulator.records("Lead")][-250:]
    connector = sf_sandbox.connector()
    actions = [_task(f"gate:{i}", lead) for i, lead in enumerate(leads)]
    results = connector.write_back(actions)
    assert [r.key for r in results] == [a.key for a in actions]
    assert all(r.ok and r.remote_id and r.remote_id.startswith("00T") for r in results)
    assert connector.api_calls()["composite_create"] == 2
    assert connector.api_calls()["query"] == 1  # the owners of the 250 leads, in one query
    tasks = {t["Id"]: t for t in sf_sandbox.emulator.records("Task")}
    task = tasks[results[0].remote_id]  # type: ignore[index]
    assert task["WhoId"] == leads[0] and task["OwnerId"] == sf_sandbox.demo.sdr_id
    assert task["Status"] == "Not Started" and task["Priority"] == "High"
    assert task["Subject"] == "Add the job title"
    assert task["Description"].endswith("\n\n" + idempotency_marker("gate:0"))
    assert task["ActivityDate"] == START.date()


def test_per_record_failures_do_not_sink_the_batch(sf_sandbox: SfSandbox) -> None:
    lead = sf_sandbox.demo.lead_ids[2]
    gone = sf_sandbox.demo.lead_ids[3]
    sf_sandbox.emulator.delete_record("Lead", gone)
    connector = sf_sandbox.connector()
    actions = [
        Action(key="c1", kind=ActionKind.COMMENT, source="salesforce:leads", record_id=lead,
               gate_id="g", text="Add the job title"),
        Action(key="c2", kind=ActionKind.COMMENT, source="salesforce:leads", record_id=gone,
               gate_id="g", text="This lead is gone"),
        Action(key="s1", kind=ActionKind.SET_FIELD, source="salesforce:leads", record_id=lead,
               gate_id="g", field="No_Such_Field__c", value="x"),
        Action(key="t1", kind=ActionKind.TASK, source="salesforce:leads", record_id=lead,
               gate_id="g", text="x", assignee=OwnerRef.parse("user:nobody@nowhere.example")),
    ]
    results = connector.write_back(actions)
    assert [r.ok for r in results] == [True, False, False, False]
    assert results[0].remote_id and results[0].remote_id.startswith("0D5")
    assert "ENTITY_IS_DELETED" in (results[1].error or "")
    assert "INVALID_FIELD" in (results[2].error or "")
    assert "no active Salesforce user" in (results[3].error or "")
    assert not any(r.retryable for r in results)


def test_assignees_queue_user_and_bounce(sf_sandbox: SfSandbox) -> None:
    demo = sf_sandbox.demo
    lead = demo.lead_ids[4]
    connector = sf_sandbox.connector()
    actions = [
        _task("q", lead, assignee=OwnerRef.parse("queue:Data Remediation")),
        _task("u", lead, assignee=OwnerRef.parse("user:maya.chen@acme-demo.example")),
        _task("n", lead, assignee=OwnerRef.parse("user:Maya Chen (SDR Manager)")),
        _task("m", lead, assignee=OwnerRef.parse("manager")),
        Action(key="b", kind=ActionKind.MOVE_STATUS, source="salesforce:leads", record_id=lead,
               gate_id="g", value="Open - Not Contacted"),
    ]
    results = connector.write_back(actions)
    assert all(r.ok for r in results), results
    owners = {t["Id"]: t["OwnerId"] for t in sf_sandbox.emulator.records("Task")}
    assert [owners[r.remote_id] for r in results[:4]] == [  # type: ignore[index]
        demo.remediation_id, demo.sdr_manager_id, demo.sdr_manager_id, demo.sdr_manager_id]
    lead_row = next(r for r in sf_sandbox.emulator.records("Lead") if r["Id"] == lead)
    assert lead_row["Status"] == "Open - Not Contacted"
    lookups = connector.api_calls()["query"]
    connector.write_back([_task("q2", lead, assignee=OwnerRef.parse("queue:Data Remediation"))])
    assert connector.api_calls()["query"] == lookups  # the queue's member is cached


def test_resolve_completes_the_task_and_leaves_a_note(sf_sandbox: SfSandbox) -> None:
    lead = sf_sandbox.demo.lead_ids[2]
    connector = sf_sandbox.connector()
    [opened] = connector.write_back([_task("open", lead)])
    [resolved] = connector.write_back([Action(
        key="close", kind=ActionKind.CLOSE_TASK, source="salesforce:leads", record_id=lead,
        gate_id="g", target=opened.remote_id, text="Title added, thanks!")])
    assert resolved.ok
    task = next(t for t in sf_sandbox.emulator.records("Task") if t["Id"] == opened.remote_id)
    assert task["Status"] == "Completed"
    notes = [f for f in sf_sandbox.emulator.records("FeedItem") if f["ParentId"] == lead]
    assert notes[-1]["Body"].startswith("Title added, thanks!")


def test_find_written_after_a_crash(sf_sandbox: SfSandbox) -> None:
    leads = sf_sandbox.demo.lead_ids[:3]
    actions = [
        _task("t-0", leads[0]),
        Action(key="c-1", kind=ActionKind.COMMENT, source="salesforce:leads", record_id=leads[1],
               gate_id="g", text="Please add consent"),
        _task("t-2", leads[2]),
        Action(key="m-0", kind=ActionKind.MOVE_STATUS, source="salesforce:leads",
               record_id=leads[0], gate_id="g", value="Open - Not Contacted"),
    ]
    written = sf_sandbox.connector().write_back(actions[:2])  # then the process died
    restarted = sf_sandbox.connector()  # a new org: new session, empty caches
    found = restarted.find_written(actions)
    assert found == {"t-0": written[0].remote_id, "c-1": written[1].remote_id}
    assert restarted.api_calls()["query"] == 2  # Tasks by WhoId, FeedItems by ParentId


def test_a_create_that_timed_out_fails_retryable_and_is_found_by_its_marker(
        sf_sandbox: SfSandbox) -> None:
    """No re-find inside write_back: the ledger keeps the action pending and the engine's next
    cycle asks find_written, which finds the Task by its marker (written once)."""
    lead = sf_sandbox.demo.lead_ids[0]
    connector = sf_sandbox.connector(org=sf_sandbox.org(timeout_seconds=0.3))
    sf_sandbox.emulator.faults.add("composite_create", delay=1.0, status=200, body=[], after=True)
    [result] = connector.write_back([_task("slow", lead)])
    assert not result.ok and result.retryable
    assert connector.api_calls()["composite_create"] == 1  # not sent again, not looked up here
    tasks = [t for t in sf_sandbox.emulator.records("Task")
             if idempotency_marker("slow") in t["Description"]]
    assert len(tasks) == 1
    assert connector.find_written([_task("slow", lead)]) == {"slow": tasks[0]["Id"]}


def test_a_create_that_timed_out_before_it_landed_is_sent_on_the_next_attempt(
        sf_sandbox: SfSandbox) -> None:
    lead = sf_sandbox.demo.lead_ids[0]
    connector = sf_sandbox.connector(org=sf_sandbox.org(timeout_seconds=0.3))
    sf_sandbox.emulator.faults.add("composite_create", delay=1.0, status=200, body=[])
    [result] = connector.write_back([_task("slow", lead)])
    assert not result.ok and result.retryable
    assert connector.find_written([_task("slow", lead)]) == {}  # it never landed
    [again] = connector.write_back([_task("slow", lead)])
    tasks = [t for t in sf_sandbox.emulator.records("Task")
             if idempotency_marker("slow") in t["Description"]]
    assert again.ok and len(tasks) == 1 and tasks[0]["Id"] == again.remote_id
    assert connector.api_calls()["composite_create"] == 2
