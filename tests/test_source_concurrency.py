"""Sources of one tool run concurrently (engine.runner.SourcePool): a stalled Asana project does
not delay another project's cycle, and each keeps its own state and call count (issue #15)."""
from __future__ import annotations

import time

from baton.core.config import AsanaSource
from baton.engine.runner import SourcePool
from baton.sandbox.asana_seed import SCALE_PROJECT_GID, SECTIONS, seed_scale

STALL = 3.0  # seconds one project's events request hangs before the server answers 503
STALLED, OTHER = "asana:content-calendar", "asana:scale"


def two_projects(make_sandbox, runtime_on, demo_config):  # type: ignore[no-untyped-def]
    box = make_sandbox("asana")
    seed_scale(box.asana, 40)
    scale = AsanaSource(id=OTHER, tool="asana", project=SCALE_PROJECT_GID, status="section",
                        workflow=SECTIONS)
    config = demo_config.model_copy(update={"source": [*demo_config.source, scale]})
    runtime, runner = runtime_on(box, config)
    assert set(runtime.connectors) == {STALLED, OTHER}
    return box, runtime, runner


def wait_for(condition, timeout: float) -> float:  # type: ignore[no-untyped-def]
    """Seconds until condition() held (polling every 10 ms), or AssertionError after timeout."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.01)
    return time.monotonic() - start


def test_a_stalled_project_does_not_delay_another(make_sandbox, runtime_on, demo_config):
    box, runtime, runner = two_projects(make_sandbox, runtime_on, demo_config)
    try:
        runner.run_all()  # both baselines, one after the other
        assert all(runner.health[s].cycles == 1 for s in (STALLED, OTHER))
        stalled = runtime.connectors[STALLED]
        other = runtime.connectors[OTHER]
        before = {s: sum(runtime.connectors[s].api_calls().values()) for s in (STALLED, OTHER)}
        project_gid = stalled.source.project  # type: ignore[attr-defined]
        box.asana.faults.add("get_events", status=503, delay=STALL, url_contains=project_gid)

        pool = SourcePool(runner, {STALLED: "asana", OTHER: "asana"})
        pool.submit(STALLED)  # first: on one thread per tool the other would queue behind it
        pool.submit(OTHER)
        other_took = wait_for(lambda: runner.health[OTHER].cycles == 2, timeout=STALL + 5)
        assert other_took < STALL / 2
        assert runner.health[STALLED].cycles == 1  # still waiting on its stalled request
        stalled_took = wait_for(lambda: runner.health[STALLED].cycles == 2, timeout=STALL + 10)
        assert other_took + stalled_took >= STALL * 0.9
        assert pool.stop(grace=5)

        # the stalled cycle retried its events call and still succeeded; counts stayed apart
        assert runner.health[STALLED].consecutive_failures == 0
        assert sum(stalled.api_calls().values()) - before[STALLED] == 2  # 503 + the retry
        assert sum(other.api_calls().values()) - before[OTHER] == 1  # one idle events call
    finally:
        runtime.close()


def test_a_source_is_never_run_twice_at_once(make_sandbox, runtime_on, demo_config):
    box, runtime, runner = two_projects(make_sandbox, runtime_on, demo_config)
    try:
        runner.run_all()
        project_gid = runtime.connectors[STALLED].source.project  # type: ignore[attr-defined]
        box.asana.faults.add("get_events", status=503, delay=1.0, url_contains=project_gid)
        pool = SourcePool(runner, {STALLED: "asana", OTHER: "asana"}, per_tool=2)
        for _ in range(5):  # ticks while its cycle is in flight are skipped, not queued
            pool.submit(STALLED)
        wait_for(lambda: runner.health[STALLED].cycles == 2, timeout=10)
        assert pool.stop(grace=5)
        assert runner.health[STALLED].cycles == 2
    finally:
        runtime.close()


def test_two_sheets_read_at_once_on_one_service_account(make_sandbox, runtime_on, demo_config):
    """httplib2 connections are not thread-safe: each thread of the pool sends on its own."""
    from baton.core.config import SheetsSource
    from baton.sandbox import sheets_seed

    box = make_sandbox("sheets")
    sheets_seed.seed_scale(box.sheets, 30)
    scale = SheetsSource(id="sheets:scale", tool="sheets", spreadsheet_id=sheets_seed.SCALE_ID,
                         tab=sheets_seed.SCALE_TAB, key_column="Campaign ID",
                         status_column="Status", baton_column="Baton",
                         workflow=list(sheets_seed.STATUSES))
    config = demo_config.model_copy(update={"source": [*demo_config.source, scale]})
    runtime, runner = runtime_on(box, config)
    slow, fast = "sheets:utm-tracker", "sheets:scale"
    try:
        runner.run_all()
        before = {s: sum(runtime.connectors[s].api_calls().values()) for s in (slow, fast)}
        box.sheets.faults.add("drive_files_get", status=503, delay=2.0,
                              url_contains=next(s.spreadsheet_id for s in config.source if s.id == slow))  # type: ignore[union-attr]
        pool = SourcePool(runner, {slow: "sheets", fast: "sheets"})
        pool.submit(slow)
        time.sleep(0.2)  # the slow source's request is in flight on its connection
        pool.submit(fast)
        assert wait_for(lambda: runner.health[fast].cycles == 2, timeout=10) < 1.5
        wait_for(lambda: runner.health[slow].cycles == 2, timeout=10)
        assert pool.stop(grace=5)
        assert runner.health[slow].total_errors == runner.health[fast].total_errors == 0
        assert sum(runtime.connectors[slow].api_calls().values()) - before[slow] == 2
        assert sum(runtime.connectors[fast].api_calls().values()) - before[fast] == 1
    finally:
        runtime.close()
