"""One scripted timeline, polled every 10 s and every 10 min: the same evaluations, the same
escalation tasks. Hops between polls, late pickups, a task failed, fixed and re-entered — through
the real asana SDK against the Asana emulator, the sandbox clock driving the time."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from baton.app.commands.explain import explain_lines
from baton.app.runtime import open_runtime
from baton.connectors.retry import RetryPolicy

RULES = """
[[gate]]
id = "design-entry"
source = "asana:content-calendar"
enters = "Ready for Design"
checks = [{ field = "Visual brief", required = true, message = "Attach the visual brief" }]

[gate.on_fail]
comment = "Not ready for design: {failures}"

[gate.on_fail.task]
subject = "Fix the brief: {name}"
owner = "owner"

[[sla]]
id = "design-pickup"
source = "asana:content-calendar"
starts = "Ready for Design"
after_gate = "design-entry"
reach = ["In Design"]
within = "5m"
escalate = [
  { after = "5m", task = { subject = "SLA breach: {name}", owner = "owner" } },
  { after = "15m", task = { subject = "Still waiting: {name}", owner = "owner" } },
]
"""
BRIEF = {"Campaign ID": "CMP-1301", "Channel": "email", "Visual brief": "Hero shot"}
END = 20 * 60  # seconds of timeline


def script(asana, tasks):
    """(second, action) pairs: what people do, at odd seconds (polls fall on multiples of 10)."""
    move, setf = asana.move_task, asana.set_custom_field
    return sorted([
        (1, lambda: move(tasks["Hopper"], "Ready for Design")),
        (3, lambda: move(tasks["Hopper"], "In Design")),  # met in 2 s, between two polls
        (1, lambda: move(tasks["Late1"], "Ready for Design")),
        (302, lambda: move(tasks["Late1"], "In Design")),  # 5:01 after entry: late
        (1, lambda: move(tasks["Late2"], "Ready for Design")),
        (421, lambda: move(tasks["Late2"], "In Design")),  # 7:00 after entry: late
        (1, lambda: move(tasks["Never"], "Ready for Design")),  # never picked up
        # fails on entry, brief filled and moved on before the next 10-min poll
        (41, lambda: move(tasks["Passer"], "Ready for Design")),
        (53, lambda: setf(tasks["Passer"], "Visual brief", "Filled later")),
        (57, lambda: move(tasks["Passer"], "In Design")),
        # fails, goes back, is fixed, re-enters (passes, the SLA starts), picked up late
        (61, lambda: move(tasks["Fixed"], "Ready for Design")),
        (71, lambda: move(tasks["Fixed"], "Drafting")),
        (81, lambda: setf(tasks["Fixed"], "Visual brief", "Now attached")),
        (121, lambda: move(tasks["Fixed"], "Ready for Design")),
        (571, lambda: move(tasks["Fixed"], "In Design")),  # due 7:01, picked up 9:31
    ], key=lambda item: item[0])


def run_timeline(make_sandbox, demo_config, tmp_path, every):
    rules = tmp_path / f"rules-{every}"
    rules.mkdir(parents=True)
    (rules / "content.toml").write_text(RULES)
    config = demo_config.model_copy(update={
        "baton": demo_config.baton.model_copy(update={"rules": [str(rules / "*.toml")]}),
        "asana": demo_config.asana.model_copy(update={"requests_per_minute": 100_000})})
    box = make_sandbox("asana")
    asana = box.asana
    writer = next(gid for gid, u in asana.users.items() if u.name == "Maya Ortiz")
    tasks = {name: asana.create_task(box.project_gid, f"CMP-1301_email_{name.lower()}_v1_20261124",
                                     "Drafting", {**BRIEF, "Visual brief": "" if name in (
                                         "Passer", "Fixed") else "Hero shot"}, assignee=writer)
             for name in ("Hopper", "Late1", "Late2", "Never", "Passer", "Fixed")}
    # what the conftest's runtime_on does, with a state file of this run's own
    configured, secrets = box.configure(config, tmp_path / f"state-{every}.db")
    runtime = open_runtime(configured, secrets, retry=RetryPolicy(attempts=3, sleep=lambda s: None))
    runner = runtime.runner(clock=box.clock.now)
    runner.run_all()  # baseline at second 0
    start = box.clock.now()
    steps = script(asana, tasks)
    for second in range(every, END + 1, every):
        while steps and steps[0][0] < second:
            at, act = steps.pop(0)
            box.clock.set(start + timedelta(seconds=at))
            act()
        box.clock.set(start + timedelta(seconds=second))
        runner.run_all()
    names = {gid: name for name, gid in tasks.items()}
    store = runtime.store
    evaluations = sorted(
        (names[e.record_id], e.gate_id, e.passed, next(
            t.at - start for t in store.transitions("asana:content-calendar")
            if t.record_id == e.record_id and _key(t) == e.transition_key))
        for e in store.evaluations("asana:content-calendar"))
    timers = sorted((names[t.record_id], t.started_at - start, t.met_at and t.met_at - start,
                     t.breached, t.steps_fired) for t in store.timers("asana:content-calendar"))
    subtasks = {name: sorted((s["name"], s["completed"]) for s in asana.subtasks(gid))
                for name, gid in tasks.items()}
    bodies = {(name, s["name"]): s["notes"] for name, gid in tasks.items()
              for s in asana.subtasks(gid)}
    comments = {name: len([c for c in asana.comments(gid) if "[baton:" in c["text"]])
                for name, gid in tasks.items()}
    return evaluations, timers, subtasks, bodies, comments, runtime, tasks


def _key(transition):
    return transition.key


@pytest.fixture
def both(make_sandbox, demo_config, tmp_path):
    fast = run_timeline(make_sandbox, demo_config, tmp_path, 10)
    slow = run_timeline(make_sandbox, demo_config, tmp_path, 600)
    return fast, slow


def test_the_two_pollings_give_the_same_report(both):
    """The KPI report (JSON, the same period and `now`) is the same whatever the poll interval."""
    from baton.kpi import render_json
    from baton.kpi.commands import report

    reports = []
    for _, _, _, _, _, runtime, _ in both:
        now = max(t.at for t in runtime.store.transitions()) + timedelta(hours=1)
        reports.append(render_json(report(runtime.config, runtime.store, since="1d", until=None,
                                          now=now)))
    assert reports[0] == reports[1]
    data = json.loads(reports[0])
    assert any(v["kpi"] == "first_pass_yield" and v["value"] is not None for v in data["values"])
    assert any(v["kpi"] == "sla_compliance" and v["value"] is not None for v in data["values"])


def test_polling_every_10_s_or_every_10_min_gives_the_same_evaluations_and_escalations(both):
    """Also: the decision log and `explain` say which values a passed-through entry was judged on."""
    (f_eval, f_timers, f_subtasks, f_bodies, f_comments, _, _), \
        (s_eval, s_timers, s_subtasks, s_bodies, s_comments, _, _) = both
    s = timedelta(seconds=1)
    # Every entry into Ready for Design was gated, also the ones already left at the next poll.
    assert f_eval == s_eval == sorted([
        ("Hopper", "design-entry", True, 1 * s), ("Late1", "design-entry", True, 1 * s),
        ("Late2", "design-entry", True, 1 * s), ("Never", "design-entry", True, 1 * s),
        ("Passer", "design-entry", False, 41 * s),  # the brief as it was at entry, from history
        ("Fixed", "design-entry", False, 61 * s), ("Fixed", "design-entry", True, 121 * s)])
    assert f_timers == s_timers == sorted([
        ("Hopper", 1 * s, 3 * s, False, 0), ("Late1", 1 * s, 302 * s, True, 1),
        ("Late2", 1 * s, 421 * s, True, 1), ("Never", 1 * s, None, True, 2),
        ("Fixed", 121 * s, 571 * s, True, 1)])
    # The same escalation (and gate) subtasks, each once; the fixed task's gate subtask closed.
    assert f_subtasks == s_subtasks == {
        "Hopper": [], "Late1": [("SLA breach: CMP-1301_email_late1_v1_20261124", False)],
        "Late2": [("SLA breach: CMP-1301_email_late2_v1_20261124", False)],
        "Never": [("SLA breach: CMP-1301_email_never_v1_20261124", False),
                  ("Still waiting: CMP-1301_email_never_v1_20261124", False)],
        "Passer": [("Fix the brief: CMP-1301_email_passer_v1_20261124", False)],
        "Fixed": [("Fix the brief: CMP-1301_email_fixed_v1_20261124", True),
                  ("SLA breach: CMP-1301_email_fixed_v1_20261124", False)]}
    assert f_comments == s_comments == {"Hopper": 0, "Late1": 0, "Late2": 0, "Never": 0,
                                        "Passer": 1, "Fixed": 1}
    # Found only after the pickup, a step says it came late; seen in time, it does not.
    late = [k for k, body in s_bodies.items() if "Late: this step was due at" in body]
    assert sorted(late) == [("Fixed", "SLA breach: CMP-1301_email_fixed_v1_20261124"),
                            ("Late1", "SLA breach: CMP-1301_email_late1_v1_20261124"),
                            ("Late2", "SLA breach: CMP-1301_email_late2_v1_20261124")]
    # Every 10 s, only the step due at 5:01 and seen at 5:10, after the pickup at 5:02, is late.
    assert [k for k, body in f_bodies.items() if "Late: this step" in body] == [
        ("Late1", "SLA breach: CMP-1301_email_late1_v1_20261124")]

    # The decision log says which values a passed-through entry was judged on.
    _, (_, _, _, _, _, runtime, tasks) = both
    store = runtime.store
    [passer] = store.evaluations("asana:content-calendar", tasks["Passer"])
    assert passer.basis.startswith("values as of ") and passer.basis.endswith(" UTC from history")
    assert passer.values == {"Visual brief": None}
    [record] = store.find_records(tasks["Passer"])
    assert any("values seen (values as of " in line for line in explain_lines(store, record))
    # The entry the task is still in when the poll sees it: judged as it is, no note.
    [never] = store.evaluations("asana:content-calendar", tasks["Never"])
    assert never.basis == ""
