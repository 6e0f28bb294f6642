"""SLA timers through the real cycle: history timestamps decide, each escalation step fires once,
timers survive a restart, a met SLA fires nothing, and a breach seen after the fact still fires."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import ROOT

LADDER = """
[[sla]]
id = "speed-to-lead"
source = "salesforce:leads"
starts = "MQL"
after_gate = "mql-entry"
reach = ["Working - Contacted"]
within = "5m"
escalate = [
  { after = "5m", task = { subject = "SLA breach: {name}", owner = "user:maya.chen@acme-demo.example" } },
  { after = "10m", task = { subject = "Still waiting: {name}", owner = "manager" } },
]
"""
LEAD = {"Company": "Acme", "Title": "CMO", "LeadSource": "Demo Request", "Consent__c": True,
        "Status": "Open - Not Contacted"}


@pytest.fixture
def runtime_state(state_location):
    """These tests run on SQLite and on PostgreSQL (conftest's state_location)."""
    return state_location


@pytest.fixture
def world(make_sandbox, runtime_on, demo_config, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("taxonomy.toml", "salesforce-leads.toml"):
        (rules / name).write_text((ROOT / "rules" / "demo" / name).read_text())
    (rules / "sla.toml").write_text(LADDER)
    config = demo_config.model_copy(update={"baton": demo_config.baton.model_copy(
        update={"rules": [str(rules / "*.toml")]})})
    box = make_sandbox("salesforce")
    sf = box.salesforce
    leads = {name: sf.create_record("Lead", {**LEAD, "FirstName": name, "LastName": "Lead",
                                             "Email": f"{name.lower()}@acme.example",
                                             "OwnerId": box.org.sdr_id})
             for name in ("Fast", "Slow", "Never")}
    runtime, runner = runtime_on(box, config)
    runner.run_all()  # baseline
    return box, sf, runtime, runner, leads, config


def breach_tasks(sf, prefix="SLA breach"):
    return [t for t in sf.records("Task") if t["Subject"].startswith(prefix)]


def test_the_five_minute_sla_is_decided_by_history_timestamps(world):
    box, sf, runtime, runner, leads, _ = world
    start = box.clock.now()
    for lead_id in leads.values():
        sf.update_record("Lead", lead_id, {"Status": "MQL"})
    box.clock.advance(30)
    runner.run_all()  # the timers start at the MQL history time, not at this poll

    box.clock.set(start + timedelta(minutes=4, seconds=59))
    sf.update_record("Lead", leads["Fast"], {"Status": "Working - Contacted"})
    box.clock.set(start + timedelta(minutes=5, seconds=1))
    sf.update_record("Lead", leads["Slow"], {"Status": "Working - Contacted"})
    box.clock.set(start + timedelta(minutes=5, seconds=30))
    runner.run_all()

    timers = {t.record_id: t for t in runtime.store.timers("salesforce:leads")}
    fast, slow, never = (timers[leads[n]] for n in ("Fast", "Slow", "Never"))
    assert fast.started_at == start and fast.deadline == start + timedelta(minutes=5)
    assert (fast.met_at - fast.started_at, fast.breached) == (timedelta(minutes=4, seconds=59), False)
    assert (slow.met_at - slow.started_at, slow.breached) == (timedelta(minutes=5, seconds=1), True)
    assert never.breached and never.met_at is None and never.steps_fired == 1
    # Both breaches are escalated, whatever the poll timing: the lead still waiting, and the
    # lead contacted at 5:01 before this poll saw it (its task says it came late).
    tasks = {t["Subject"]: t for t in breach_tasks(sf)}
    assert sorted(tasks) == ["SLA breach: Never Lead", "SLA breach: Slow Lead"]
    assert {t["OwnerId"] for t in tasks.values()} == {box.org.sdr_manager_id}
    assert "Late: this step was due at" in tasks["SLA breach: Slow Lead"]["Description"]
    assert "Late" not in tasks["SLA breach: Never Lead"]["Description"]


def test_each_escalation_step_fires_once_across_cycles_and_restarts(world, runtime_on):
    box, sf, runtime, runner, leads, config = world
    sf.update_record("Lead", leads["Never"], {"Status": "MQL"})
    for _ in range(4):  # minutes 5.5 .. 7: the first step only, once
        box.clock.advance(90)
        runner.run_all()
    assert len(breach_tasks(sf)) == 1 and breach_tasks(sf, "Still waiting") == []

    _, restarted = runtime_on(box, config)  # a new process on the same state file
    box.clock.advance(4 * 60)  # minute 11: the second step
    restarted.run_all()
    restarted.run_all()
    assert len(breach_tasks(sf)) == 1
    [second] = breach_tasks(sf, "Still waiting")
    assert second["OwnerId"] == box.org.sdr_manager_id  # the SDR owner's manager
    box.clock.advance(60 * 60)
    restarted.run_all()
    assert len(breach_tasks(sf)) + len(breach_tasks(sf, "Still waiting")) == 2


def test_a_met_sla_fires_nothing_and_a_failed_gate_starts_no_timer(world):
    box, sf, runtime, runner, leads, _ = world
    sf.update_record("Lead", leads["Fast"], {"Status": "MQL"})
    sf.update_record("Lead", leads["Slow"], {"Status": "MQL", "Consent__c": False})  # fails the gate
    box.clock.advance(60)
    runner.run_all()
    sf.update_record("Lead", leads["Fast"], {"Status": "Working - Contacted"})
    box.clock.advance(30 * 60)
    runner.run_all()
    runner.run_all()
    timers = runtime.store.timers("salesforce:leads")
    assert [(t.record_id, t.breached) for t in timers] == [(leads["Fast"], False)]
    assert breach_tasks(sf) == []


def test_a_reassign_step_gives_the_lead_to_the_named_user(world, tmp_path, runtime_on, demo_config):
    box, sf, runtime, runner, leads, config = world
    rules = tmp_path / "rules" / "sla.toml"
    rules.write_text(LADDER.replace(
        '{ after = "10m", task = { subject = "Still waiting: {name}", owner = "manager" } }',
        '{ after = "10m", reassign = "queue:Data Remediation" }'))
    sf.update_record("Lead", leads["Never"], {"Status": "MQL"})
    box.clock.advance(11 * 60)
    runner.run_all()
    runner.run_all()
    owner = next(r["OwnerId"] for r in sf.records("Lead") if r["Id"] == leads["Never"])
    assert owner == box.org.remediation_id
    assert len(breach_tasks(sf)) == 1
