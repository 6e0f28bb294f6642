"""Asana moves dated from the events feed (connectors/asana/moves.py): a single hop reads no
story and keeps its true time; several hops, a gap in the feed, or a task that moved again
after the feed was read fall back to the stories; a burst re-reads its tasks by one listing."""
from __future__ import annotations

from datetime import timedelta

from baton.core.records import TimeSource
from baton.sandbox.asana_seed import seed_scale
from test_asana_fetch import baseline, calls_of
from test_asana_sandbox import Sandbox, local_ca, sandbox  # noqa: F401  (fixtures)


def story_reads(sandbox: Sandbox) -> int:
    """Story lists served, inside batch calls or on their own (the emulator's request log)."""
    alone = sum(1 for method, path in sandbox.emulator.request_log
                if method == "GET" and path.endswith("/stories"))
    return sandbox.emulator.action_calls["get_stories_for_task"] + alone


def test_single_hop_moves_read_no_story_and_keep_their_true_times(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector()
    cursor = baseline(sandbox, connector).cursor
    tasks = [sandbox.task_in("Drafting", i) for i in range(3)]
    times = []
    for task in tasks:
        times.append(emulator.clock.advance(37))
        emulator.move_task(task, "Ready for Design")
    emulator.clock.advance(20)
    reads = story_reads(sandbox)
    batch = connector.fetch_changes(cursor, sandbox.now())
    assert sorted(r.id for r in batch.records) == sorted(tasks)
    assert batch.status_hints == frozenset(tasks)
    before = connector.api_calls()
    history = connector.status_history(tasks, times[0] - timedelta(minutes=5))
    assert calls_of(connector, before) == {}  # the events said it all
    for task, at in zip(tasks, times):
        assert [(c.from_status, c.to_status, c.at, c.time_source) for c in history[task]] == [
            ("Drafting", "Ready for Design", at, TimeSource.HISTORY)]
    assert story_reads(sandbox) == reads


def test_several_hops_between_polls_read_the_stories_for_every_hop(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector()
    cursor = baseline(sandbox, connector).cursor
    hopper, single = sandbox.task_in("Drafting", 0), sandbox.task_in("Drafting", 1)
    t1 = emulator.clock.advance(60)
    emulator.move_task(hopper, "Ready for Design")
    t2 = emulator.clock.advance(90)
    emulator.move_task(hopper, "In Design")
    t3 = emulator.clock.advance(15)
    emulator.move_task(single, "Ready for Design")
    connector.fetch_changes(cursor, sandbox.now())
    reads = story_reads(sandbox)
    history = connector.status_history([hopper, single], t1 - timedelta(seconds=1))
    assert [(c.from_status, c.to_status, c.at) for c in history[hopper]] == [
        ("Drafting", "Ready for Design", t1), ("Ready for Design", "In Design", t2)]
    assert [(c.to_status, c.at) for c in history[single]] == [("Ready for Design", t3)]
    assert story_reads(sandbox) == reads + 1  # the hopper's stories only


def test_a_gap_in_the_feed_falls_back_to_the_stories(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector()
    cursor = baseline(sandbox, connector).cursor
    task = sandbox.task_in("Drafting")
    at = emulator.clock.advance(60)
    emulator.move_task(task, "Ready for Design")
    emulator.expire_sync_tokens()  # the move's events are behind a 412 now
    emulator.clock.advance(30)
    batch = connector.fetch_changes(cursor, sandbox.now())
    assert next(r for r in batch.records if r.id == task).status == "Ready for Design"
    reads = story_reads(sandbox)
    changes = connector.status_history([task], at - timedelta(minutes=1))[task]
    assert [(c.to_status, c.at) for c in changes] == [("Ready for Design", at)]
    assert story_reads(sandbox) == reads + 1


def test_a_task_that_moved_again_after_the_feed_was_read_reads_its_stories(
        sandbox: Sandbox) -> None:
    """The feed says "Ready for Design"; the re-read task is already in "In Design" (a move the
    feed has not delivered yet): the event cannot explain the task, its stories do."""
    emulator = sandbox.emulator
    connector = sandbox.connector()
    cursor = baseline(sandbox, connector).cursor
    task = sandbox.task_in("Drafting")
    t1 = emulator.clock.advance(60)
    emulator.move_task(task, "Ready for Design")
    events = emulator.projects[sandbox.project].events
    delivered = len(events)
    t2 = emulator.clock.advance(5)
    emulator.move_task(task, "In Design")
    late = events[delivered:]
    del events[delivered:]  # the second move's events are late
    batch = connector.fetch_changes(cursor, sandbox.now())
    assert batch.records[0].status == "In Design"
    reads = story_reads(sandbox)
    changes = connector.status_history([task], t1 - timedelta(seconds=1))[task]
    assert [(c.to_status, c.at) for c in changes] == [("Ready for Design", t1), ("In Design", t2)]
    assert story_reads(sandbox) == reads + 1
    events.extend(late)


def test_enum_status_single_change_is_dated_by_its_event(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector(status="Funnel stage")
    cursor = baseline(sandbox, connector).cursor
    once, twice = sandbox.task_in("Drafting", 0), sandbox.task_in("Drafting", 1)
    stage = {r.id: r.status for r in baseline(sandbox, connector).records}
    others = [v for v in ("awareness", "consideration", "decision", "retention")
              if v not in (stage[once], stage[twice])]  # at least two: each is a real change
    first, second, third = others[1], others[0], others[1]
    t1 = emulator.clock.advance(60)
    emulator.set_custom_field(once, "Funnel stage", first)
    emulator.set_custom_field(twice, "Funnel stage", second)
    t2 = emulator.clock.advance(60)
    emulator.set_custom_field(twice, "Funnel stage", third)
    connector.fetch_changes(cursor, sandbox.now())
    reads = story_reads(sandbox)
    history = connector.status_history([once, twice], t1 - timedelta(seconds=1))
    assert [(c.to_status, c.at) for c in history[once]] == [(first, t1)]
    assert [(c.to_status, c.at) for c in history[twice]] == [(second, t1), (third, t2)]
    assert story_reads(sandbox) == reads + 1  # the task that changed twice


def _drafting_tasks_a_minute_on(sandbox: Sandbox, count: int):  # type: ignore[no-untyped-def]
    """A baselined project of 300 tasks, `count` of them in Drafting, the clock a minute on."""
    emulator = sandbox.emulator
    project = seed_scale(emulator, 300)
    connector = sandbox.connector(project=project)
    cursor = baseline(sandbox, connector).cursor
    moved = [g for g in emulator.tasks if emulator.section_of(g, project) == "Drafting"][:count]
    return emulator, project, connector, cursor, moved, emulator.clock.advance(60)


def test_a_burst_is_read_by_one_listing_and_no_story(sandbox: Sandbox) -> None:
    emulator, project, connector, cursor, moved, at = _drafting_tasks_a_minute_on(sandbox, 40)
    for gid in moved:
        emulator.set_custom_field(gid, "Channel", "email")  # bumps modified_at
        emulator.move_task(gid, "Ready for Design", project_gid=project)  # does not
    emulator.clock.advance(10)
    before = connector.api_calls()
    reads = story_reads(sandbox)
    batch = connector.fetch_changes(cursor, sandbox.now())
    assert sorted(r.id for r in batch.records) == sorted(moved)
    history = connector.status_history(moved, at - timedelta(minutes=1))
    assert all([(c.to_status, c.at) for c in history[g]] == [("Ready for Design", at)]
               for g in moved)
    # 200 events (5 a task: 2 stories, the field change, added, removed), 100 per call; one
    # listing page of the 40 modified tasks; no batch call, no story
    assert calls_of(connector, before) == {"GET /events": 2, "GET /users/me": 1,
                                           "GET /tasks": 1, "GET /projects/{gid}/sections": 1}
    assert story_reads(sandbox) == reads


def test_pure_moves_in_a_burst_are_still_read_by_gid(sandbox: Sandbox) -> None:
    """A section move alone leaves modified_at as it was: the listing would not find the tasks,
    so none is made and the tasks are read by gid, 10 per batch call."""
    emulator, project, connector, cursor, moved, at = _drafting_tasks_a_minute_on(sandbox, 25)
    for gid in moved:
        emulator.move_task(gid, "Ready for Design", project_gid=project)
    before = connector.api_calls()
    batch = connector.fetch_changes(cursor, sandbox.now())
    assert sorted(r.id for r in batch.records) == sorted(moved)
    calls = calls_of(connector, before)
    assert calls["POST /batch"] == 3 and "GET /tasks" not in calls
    history = connector.status_history(moved, at - timedelta(minutes=1))
    assert all([c.at for c in history[g]] == [at] for g in moved)
    assert calls_of(connector, before)["POST /batch"] == 3  # no story batch on top


def test_the_engine_logs_event_dated_moves_at_their_true_times(make_sandbox, runtime_on):
    """Through the engine and the store: single hops keep the second they happened, a double
    hop keeps both, and only the double hop's stories are read."""
    box = make_sandbox("asana")
    asana = box.asana
    runtime, runner = runtime_on(box)
    runner.run_all()  # baseline
    started = box.clock.now()
    source = "asana:content-calendar"
    backlog = [g for g in asana.tasks if asana.tasks[g].parent is None
               and asana.section_of(g) == "Backlog"][:3]
    hopper = next(g for g in asana.tasks if asana.tasks[g].parent is None
                  and asana.section_of(g) == "In Design")
    times = {}
    for gid in backlog:
        times[gid] = box.clock.advance(41)
        asana.move_task(gid, "Drafting")
    t1 = box.clock.advance(7)
    asana.move_task(hopper, "Live")
    t2 = box.clock.advance(13)
    asana.move_task(hopper, "In Design")
    box.clock.advance(30)
    reads = asana.action_calls["get_stories_for_task"]
    runner.run_all()
    # (the hopper's stories also tell its seeded moves before the baseline: not these tests')
    logged = {(t.record_id, t.from_status, t.to_status, t.at)
              for t in runtime.store.transitions(source) if t.at >= started}
    assert logged == {*((g, "Backlog", "Drafting", times[g]) for g in backlog),
                      (hopper, "In Design", "Live", t1), (hopper, "Live", "In Design", t2)}
    assert asana.action_calls["get_stories_for_task"] == reads + 1


def test_a_move_in_another_project_of_the_task_does_not_count_as_a_hop(sandbox: Sandbox) -> None:
    """A task in two projects: both feeds carry its section events. The other project's move is
    neither a hop here nor a reason to read the stories of this project's single move."""
    emulator = sandbox.emulator
    other = emulator.add_project("Brand board", ["Ideas", "Approved"])
    task = sandbox.task_in("Drafting")
    with emulator.lock:  # the task sits in both projects (POST /tasks with two memberships)
        emulator.tasks[task].memberships[other] = emulator.projects[other].sections[0]
    connector = sandbox.connector()
    cursor = baseline(sandbox, connector).cursor
    elsewhere = emulator.clock.advance(20)
    emulator.move_task(task, "Approved", project_gid=other)
    at = emulator.clock.advance(20)
    emulator.move_task(task, "Ready for Design", project_gid=sandbox.project)
    assert elsewhere < at
    connector.fetch_changes(cursor, sandbox.now())
    reads = story_reads(sandbox)
    changes = connector.status_history([task], at - timedelta(minutes=5))[task]
    assert [(c.from_status, c.to_status, c.at) for c in changes] == [
        ("Drafting", "Ready for Design", at)]
    assert story_reads(sandbox) == reads
