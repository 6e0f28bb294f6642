"""The benchmark's scenarios with a few hundred records, in-process: API-call counts, not times.

Same world as `python -m benchmarks.run` (benchmarks/scale.py); no taps, no network.
"""
from __future__ import annotations

import math
from datetime import timedelta

import pytest

from benchmarks.scale import bench_config, bench_secrets, burst, make_sandbox
from baton.connectors.retry import RetryPolicy
from baton.app.runtime import open_runtime
from baton.engine.backfill import backfill
from tests.conftest import START
from baton.sandbox.asana import EVENTS_PER_CALL
from baton.sandbox.asana_seed import SCALE_PROJECT_GID
from baton.sandbox.environment import SandboxClock

LEADS, TASKS, ROWS = 4500, 300, 200
PAGE = 2000  # Salesforce records per query page (the API maximum)


@pytest.fixture
def world(tmp_path):
    box = make_sandbox(tmp_path / "sandbox", LEADS, TASKS, ROWS, clock=SandboxClock(START))
    box.start()
    config = bench_config(box.overrides, tmp_path / "state.db")
    runtime = open_runtime(config, bench_secrets(box.env),
                           retry=RetryPolicy(attempts=3, sleep=lambda s: None))
    runner = runtime.runner(clock=box.clock.now)
    yield box, runtime, runner
    box.stop()


def calls_of(box):
    return {"salesforce": dict(box.salesforce.calls), "asana": dict(box.asana.calls),
            "sheets": dict(box.sheets.calls)}


def test_baseline_pages_at_the_api_maximum(world):
    box, runtime, runner = world
    reports = runner.run_all()
    assert {s: r.records_seen for s, r in reports.items()} == {
        "salesforce:leads": LEADS, "asana:scale": TASKS, "sheets:scale": ROWS}
    sf, asana, sheets = (calls_of(box)[t] for t in ("salesforce", "asana", "sheets"))
    assert sf["query"] == 1 and sf["query_more"] == math.ceil(LEADS / PAGE) - 1
    assert asana["get_tasks"] == math.ceil(TASKS / 100)  # limit=100, Asana's maximum
    assert sheets.get("values_get", 0) + sheets.get("values_batch_get", 0) == 1
    assert runtime.store.count("ledger") == 0  # a baseline writes nothing back


def test_idle_cycle_costs_one_read_call_per_source(world):
    box, runtime, runner = world
    runner.run_all()
    box.clock.advance(60)
    box.reset_calls()
    reports = runner.run_all()
    assert all(r is not None and r.transitions == 0 for r in reports.values())
    assert box.calls() == {"salesforce": 1, "asana": 1, "sheets": 1}


def test_burst_writes_back_in_batches(world):
    box, runtime, runner = world
    runner.run_all()
    box.clock.advance(60)
    events_before = len(box.asana.projects[SCALE_PROJECT_GID].events)
    done = burst(box, {"salesforce": (600, 250), "asana": (60, 25), "sheets": (80, 20)})
    assert done == {"salesforce": (600, 250), "asana": (60, 25), "sheets": (80, 20)}
    events = len(box.asana.projects[SCALE_PROJECT_GID].events) - events_before
    box.clock.advance(30)
    box.reset_calls()
    reports = runner.run_all()
    assert {s: r.violations for s, r in reports.items()} == {
        "salesforce:leads": 250, "asana:scale": 25, "sheets:scale": 20}
    assert all(r.failed == 0 for r in reports.values())
    sf, asana, sheets = (calls_of(box)[t] for t in ("salesforce", "asana", "sheets"))
    # 250 remediation Tasks and 250 bounces, 200 records a call
    assert sf["composite_create"] == 2 and sf["composite_update"] == 2
    # the changes, the history of the 600 changed leads only (one query per 300 ids), and the
    # remediation queue's member (two queries, once per process)
    assert sf["query"] == 1 + 2 + 2 and sf.get("query_more", 0) == 0
    # 60 changed tasks re-read by one modified_since listing (100 a page), each single move
    # dated by its event (no story read), 25 subtasks 10 per batch
    assert asana["get_events"] == math.ceil(events / EVENTS_PER_CALL)
    assert asana["get_tasks"] == 1 and asana["create_batch_request"] == 3
    assert box.asana.action_calls.get("get_stories_for_task", 0) == 0
    assert sheets["batch_update"] == 1

    box.clock.advance(60)
    box.reset_calls()
    runner.run_all()  # the bounces come back as transitions; nothing is written twice
    box.clock.advance(60)
    box.reset_calls()
    idle = runner.run_all()
    assert all(r.written == 0 for r in idle.values())
    assert box.calls() == {"salesforce": 1, "asana": 1, "sheets": 1}


def test_backfill_reads_history_in_few_calls(world):
    box, runtime, runner = world
    now = box.clock.now()
    added = {sid: backfill(sid, c, runtime.store, now - timedelta(days=90), now)
             for sid, c in runtime.connectors.items()}
    assert added == {"salesforce:leads": 0, "asana:scale": 0, "sheets:scale": 0}  # seeds keep no history
    calls = calls_of(box)
    # the baseline's one query, then ONE field-history query by CreatedDate for all 4,500 leads
    assert calls["salesforce"]["query"] == 1 + 1
    assert calls["asana"]["create_batch_request"] == math.ceil(TASKS / 10)  # stories, 10 a call
