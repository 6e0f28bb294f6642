"""AsanaConnector reads: baseline, idle cycles, events, reconciliation, 412 recovery, history."""
from __future__ import annotations

import threading
from datetime import timedelta

from baton.core.records import TimeSource
from baton.sandbox.asana_seed import seed_scale
from test_asana_sandbox import Sandbox, local_ca, sandbox  # noqa: F401  (fixtures)


def baseline(sandbox: Sandbox, connector):  # type: ignore[no-untyped-def]
    batch = connector.fetch_changes(None, sandbox.now())
    assert batch.complete and batch.cursor
    return batch


def calls_of(connector, before):  # type: ignore[no-untyped-def]
    after = connector.api_calls()
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def test_baseline_of_250_tasks_is_three_pages_and_one_events_call(sandbox: Sandbox) -> None:
    project = seed_scale(sandbox.emulator, 250)
    connector = sandbox.connector(project=project)
    batch = baseline(sandbox, connector)
    assert len(batch.records) == 250
    assert connector.api_calls() == {"GET /tasks": 3, "GET /events": 1}
    assert batch.api_calls == 4
    assert sandbox.emulator.calls["get_tasks"] == 3


def test_demo_baseline_records(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    batch = baseline(sandbox, connector)
    assert batch.api_calls == 2  # 30 tasks: one page, plus the first sync token
    record = next(r for r in batch.records if r.name.startswith("CMP-1042_"))
    assert record.status == "Live"
    assert record.fields["Channel"] == "email"
    assert record.fields["Campaign ID"] == "CMP-1042"
    assert record.fields["Landing URL"].startswith("https://acme.example/spring?utm_source=")
    assert record.owner == record.fields["assignee"] and record.owner
    assert record.url.endswith(f"/task/{record.id}")
    assert record.modified_at.tzinfo is not None
    missing_brief = next(r for r in batch.records if r.name.startswith("CMP-1045_"))
    assert missing_brief.fields["Visual brief"] is None


def test_idle_cycle_is_one_call(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    cursor = baseline(sandbox, connector).cursor
    for _ in range(3):
        before = connector.api_calls()
        batch = connector.fetch_changes(cursor, sandbox.now())
        assert batch.records == [] and batch.api_calls == 1
        assert calls_of(connector, before) == {"GET /events": 1}
        cursor = batch.cursor


def test_the_sdk_starts_no_idle_threads(sandbox: Sandbox) -> None:
    """asana.ApiClient starts a ThreadPool (a worker per CPU, 3 handlers) for async_req, which
    Baton never sends: the workspace stops it at once, and every call still works."""
    before = set(threading.enumerate())
    connector = sandbox.connector()
    assert not hasattr(connector.workspace.client, "pool")
    baseline(sandbox, connector)
    pool_threads = [t.name for t in threading.enumerate() if t not in before and t.name.endswith(
        ("(worker)", "(_handle_workers)", "(_handle_tasks)", "(_handle_results)"))]
    assert pool_threads == []
    connector.close()  # still idempotent


def test_two_moves_between_polls_give_both_transitions_with_story_times(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector()
    cursor = baseline(sandbox, connector).cursor
    connector.status_history([r for r in emulator.tasks], None)  # baseline suspects read once
    task = sandbox.task_in("Drafting")
    t1 = emulator.clock.advance(120)
    emulator.move_task(task, "Ready for Design")
    t2 = emulator.clock.advance(300)
    emulator.move_task(task, "In Design")
    emulator.clock.advance(30)
    before = connector.api_calls()
    batch = connector.fetch_changes(cursor, sandbox.now())
    assert [r.id for r in batch.records] == [task]
    assert batch.records[0].status == "In Design"
    # one events call, who "me" is (once per process), one batched re-read
    assert calls_of(connector, before) == {"GET /events": 1, "GET /users/me": 1, "POST /batch": 1}
    before = connector.api_calls()
    other = sandbox.task_in("Live")
    history = connector.status_history([task, other], t1 - timedelta(seconds=1))
    changes = history[task]
    assert [(c.from_status, c.to_status) for c in changes] == [
        ("Drafting", "Ready for Design"), ("Ready for Design", "In Design")]
    assert [c.at for c in changes] == [t1, t2]
    assert all(c.time_source is TimeSource.HISTORY for c in changes)
    assert history[other] == []
    # the unchanged task cost nothing; the changed one shared one batch call
    assert calls_of(connector, before) == {"POST /batch": 1}
    # asked again, nothing new to read
    before = connector.api_calls()
    assert connector.status_history([task], None)[task] == []
    assert calls_of(connector, before) == {}


def test_a_move_away_and_back_is_still_seen_through_events(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector()
    cursor = baseline(sandbox, connector).cursor
    task = sandbox.task_in("Drafting")
    connector.status_history([task], None)
    emulator.clock.advance(60)
    emulator.move_task(task, "Ready for Design")
    emulator.clock.advance(60)
    emulator.move_task(task, "Drafting")
    since = emulator.clock.now() - timedelta(minutes=5)
    batch = connector.fetch_changes(cursor, sandbox.now())
    assert batch.records[0].status == "Drafting"
    changes = connector.status_history([task], since)[task]
    assert [c.to_status for c in changes] == ["Ready for Design", "Drafting"]


def test_own_comments_do_not_cause_rereads(sandbox: Sandbox) -> None:
    from baton.core.actions import Action, ActionKind

    connector = sandbox.connector()
    cursor = baseline(sandbox, connector).cursor
    task = sandbox.task_in("Drafting")
    connector.write_back([Action("k1", ActionKind.COMMENT, "asana:content", task, "g", text="Hi")])
    before = connector.api_calls()
    batch = connector.fetch_changes(cursor, sandbox.now())
    assert batch.records == []
    assert calls_of(connector, before) == {"GET /events": 1, "GET /users/me": 1}


def test_custom_fields_of_every_type_are_normalized(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    fields = [
        emulator.add_custom_field("Title", "text"),
        emulator.add_custom_field("Budget", "number", precision=2),
        emulator.add_custom_field("Priority", "enum", ["low", "high"]),
        emulator.add_custom_field("Markets", "multi_enum", ["US", "EU", "APAC"]),
        emulator.add_custom_field("Launch", "date"),
        emulator.add_custom_field("Reviewers", "people"),
        emulator.add_custom_field("Count", "number"),
    ]
    project = emulator.add_project("Types", ["Open"], fields)
    people = [g for g, u in emulator.users.items() if u.name in ("Maya Ortiz", "Jonas Berg")]
    full = emulator.create_task(project, "full", "Open", {
        "Title": "Hello", "Budget": 12.5, "Priority": "high", "Markets": ["US", "APAC"],
        "Launch": "2026-12-01", "Reviewers": people, "Count": 3})
    empty = emulator.create_task(project, "empty", "Open", {"Title": ""})
    batch = baseline(sandbox, sandbox.connector(project=project))
    by_name = {r.name: r for r in batch.records}
    assert dict(by_name["full"].fields) | {} == {
        "Title": "Hello", "Budget": 12.5, "Priority": "high", "Markets": ["US", "APAC"],
        "Launch": "2026-12-01", "Reviewers": ["Maya Ortiz", "Jonas Berg"], "Count": 3,
        "assignee": None, "assignee_name": None, "due_on": None, "completed": False}
    assert isinstance(by_name["full"].fields["Count"], int)
    assert {k: v for k, v in by_name["empty"].fields.items()} == {
        "Title": None, "Budget": None, "Priority": None, "Markets": [], "Launch": None,
        "Reviewers": [], "Count": None, "assignee": None, "assignee_name": None,
        "due_on": None, "completed": False}
    assert by_name["full"].id == full and by_name["empty"].id == empty
    assert by_name["full"].status == "Open"


def test_expired_sync_token_loses_no_transition(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector()
    cursor = baseline(sandbox, connector).cursor
    moved = sandbox.task_in("Drafting")
    renamed = sandbox.task_in("Backlog")
    emulator.clock.advance(60)
    emulator.move_task(moved, "Ready for Design")  # no modified_at bump: only a full list sees it
    emulator.rename_task(renamed, "CMP-1050_paid-social_webinar-promo_v2_20261204")
    emulator.expire_sync_tokens()
    batch = connector.fetch_changes(cursor, sandbox.now())
    assert batch.complete
    by_id = {r.id: r for r in batch.records}
    assert by_id[moved].status == "Ready for Design"
    assert by_id[renamed].name.endswith("_v2_20261204")
    history = connector.status_history([moved], emulator.clock.now() - timedelta(minutes=2))
    assert [c.to_status for c in history[moved]] == ["Ready for Design"]
    # the new token works: the next idle cycle is one call again
    before = connector.api_calls()
    idle = connector.fetch_changes(batch.cursor, sandbox.now())
    assert idle.records == [] and calls_of(connector, before) == {"GET /events": 1}


def test_has_more_keeps_calling(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    project = seed_scale(emulator, 120)
    connector = sandbox.connector(project=project)
    cursor = baseline(sandbox, connector).cursor
    for gid in list(emulator.tasks)[-120:]:
        emulator.rename_task(gid, emulator.tasks[gid].name + "x")  # 2 events each
    before = connector.api_calls()
    batch = connector.fetch_changes(cursor, sandbox.now())
    assert len(batch.records) == 120
    calls = calls_of(connector, before)
    assert calls["GET /events"] == 3  # 240 events, 100 per call
    # 120 renamed tasks (each rename bumps modified_at): one modified_since listing, 100 a
    # page, instead of 12 batch calls of 10
    assert calls["GET /tasks"] == 2 and "POST /batch" not in calls


def test_reconciliation_polls_modified_since_every_n_cycles(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector(reconcile_every=3)
    cursor = baseline(sandbox, connector).cursor
    task = sandbox.task_in("Drafting")
    # an event Asana never delivered: change the task, then drop its events
    emulator.clock.advance(60)
    emulator.set_custom_field(task, "Channel", "webinar")
    emulator.projects[sandbox.project].events.clear()
    seen = []
    for _ in range(3):
        emulator.clock.advance(60)
        before = connector.api_calls()
        batch = connector.fetch_changes(cursor, sandbox.now())
        cursor = batch.cursor
        seen.append((calls_of(connector, before), [r.id for r in batch.records]))
    assert seen[0] == ({"GET /events": 1}, []) and seen[1] == ({"GET /events": 1}, [])
    assert seen[2] == ({"GET /events": 1, "GET /tasks": 1}, [task])
    assert sandbox.emulator.calls["get_tasks"] == 2  # baseline + reconciliation


def test_enum_field_as_status(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector(status="Funnel stage")
    cursor = baseline(sandbox, connector).cursor
    task = sandbox.task_in("Drafting")
    at = emulator.clock.advance(60)
    emulator.set_custom_field(task, "Funnel stage", "decision")
    batch = connector.fetch_changes(cursor, sandbox.now())
    assert [(r.id, r.status) for r in batch.records] == [(task, "decision")]
    before = connector.api_calls()
    changes = connector.status_history([task], at)[task]
    assert [(c.to_status, c.at) for c in changes] == [("decision", at)]
    # dated by the custom-field event, which does not say the old value (the engine knows it)
    assert changes[0].from_status is None and connector.api_calls() == before
    stories = connector.backfill_history([task], at)[task]  # the stories say both
    assert [(c.to_status, c.at) for c in stories] == [("decision", at)]
    assert stories[0].from_status in {"awareness", "consideration", "decision", "retention"}


def test_subtask_changes_are_not_project_records(sandbox: Sandbox) -> None:
    from baton.core.actions import Action, ActionKind

    connector = sandbox.connector()
    cursor = baseline(sandbox, connector).cursor
    task = sandbox.task_in("Drafting")
    [result] = connector.write_back([Action("k2", ActionKind.TASK, "asana:content", task, "g",
                                            subject="Fix brief", text="Please add a brief")])
    sandbox.emulator.rename_task(result.remote_id, "Fix brief (Jonas)")
    batch = connector.fetch_changes(cursor, sandbox.now())
    assert batch.records == []
