"""The walking skeleton end to end: Salesforce lead gates through simple-salesforce, the engine,
the store and the write-back ledger, against the emulated org (no mocks of our own code)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta

import pytest

from tests.conftest import ROOT

GOOD = {"FirstName": "Ada", "LastName": "Byron", "Company": "Analytical Engines", "Title": "CMO",
        "Email": "ada@engines.example", "LeadSource": "Webinar", "Webinar_Topic__c": "Attribution",
        "Consent__c": True, "Status": "Open - Not Contacted"}
BAD = {"FirstName": "Grace", "LastName": "Hopper", "Company": "Cobol Systems",
       "Email": "grace@cobol", "LeadSource": "Webinar", "Consent__c": False,
       "Status": "Open - Not Contacted"}


def baton_tasks(sf):
    return [t for t in sf.records("Task") if t["Subject"].startswith("Handoff blocked")]


def lead_status(sf, lead_id):
    return next(r["Status"] for r in sf.records("Lead") if r["Id"] == lead_id)


@pytest.fixture
def org(make_sandbox, runtime_on):
    box = make_sandbox("salesforce")
    sf = box.salesforce
    good, bad = sf.create_record("Lead", GOOD), sf.create_record("Lead", BAD)
    runtime, runner = runtime_on(box)
    return box, sf, runtime, runner, good, bad


def test_first_run_is_a_baseline_that_writes_nothing(org):
    box, sf, runtime, runner, *_ = org
    reports = runner.run_all()
    assert reports["salesforce:leads"].baseline
    assert reports["salesforce:leads"].records_seen == len(sf.records("Lead"))
    assert sf.records("Task") == [] and sf.records("FeedItem") == []
    assert box.salesforce.calls["composite_create"] == 0
    assert runtime.store.count("ledger") == 0


def test_a_failed_mql_gate_opens_one_task_for_the_queue_and_bounces_the_lead(org):
    box, sf, runtime, runner, good, bad = org
    runner.run_all()
    box.clock.advance(60)
    sf.update_record("Lead", bad, {"Status": "MQL"})
    sf.update_record("Lead", good, {"Status": "MQL"})
    box.clock.advance(30)
    report = runner.run_all()["salesforce:leads"]
    assert (report.transitions, report.violations) == (2, 1)

    [task] = baton_tasks(sf)
    assert task["Subject"] == "Handoff blocked: Grace Hopper"
    assert task["WhoId"] == bad
    assert task["OwnerId"] == box.org.remediation_id  # the Data Remediation queue's member
    for words in ("Title", "consent", "email address", "Webinar"):
        assert words.lower() in task["Description"].lower()
    assert lead_status(sf, bad) == "Data Remediation"
    assert lead_status(sf, good) == "MQL"

    # Nothing changed: the second run writes nothing and costs one query.
    box.clock.advance(30)
    box.reset_calls()
    again = runner.run_all()["salesforce:leads"]
    assert (again.transitions, again.written) == (1, 0)  # only Baton's own bounce is recorded
    box.clock.advance(30)
    box.reset_calls()
    idle = runner.run_all()["salesforce:leads"]
    assert (idle.transitions, idle.written) == (0, 0)
    # one query per Salesforce source: the leads, and the campaigns cross-tool checks read
    assert box.calls() == {"salesforce": 2}
    assert len(baton_tasks(sf)) == 1


def test_a_fixed_lead_passes_on_reentry_and_its_task_is_closed(org):
    box, sf, runtime, runner, good, bad = org
    runner.run_all()
    box.clock.advance(60)
    sf.update_record("Lead", bad, {"Status": "MQL"})
    box.clock.advance(30)
    runner.run_all()
    box.clock.advance(60)
    sf.update_record("Lead", bad, {"Title": "VP Engineering", "Consent__c": True,
                                   "Email": "grace@cobol.example", "Webinar_Topic__c": "COBOL today",
                                   "Status": "MQL"})
    box.clock.advance(30)
    runner.run_all()
    [task] = baton_tasks(sf)
    assert task["Status"] == "Completed"
    assert lead_status(sf, bad) == "MQL"
    evaluations = [e for e in runtime.store.evaluations("salesforce:leads", bad)
                   if e.mode == "enforce"]  # not the demo's shadow gate
    assert [e.passed for e in evaluations] == [False, True]


def test_hops_between_two_polls_are_both_recorded_with_history_times(org):
    box, sf, runtime, runner, good, _ = org
    runner.run_all()
    box.clock.advance(60)
    mql_at = box.clock.now()
    sf.update_record("Lead", good, {"Status": "MQL"})
    box.clock.advance(125)
    working_at = box.clock.now()
    sf.update_record("Lead", good, {"Status": "Working - Contacted"})
    box.clock.advance(30)
    runner.run_all()
    hops = [t for t in runtime.store.transitions("salesforce:leads") if t.record_id == good]
    assert [(t.from_status, t.to_status, t.at, t.time_source.value) for t in hops] == [
        ("Open - Not Contacted", "MQL", mql_at, "history"),
        ("MQL", "Working - Contacted", working_at, "history"),
    ]
    assert working_at - mql_at == timedelta(seconds=125)


def test_a_broken_rule_edit_keeps_the_last_good_rules_in_force(org, tmp_path, demo_config):
    box, sf, runtime, runner, good, bad = org
    rules_dir = tmp_path / "rules"
    shutil.copytree(ROOT / "rules" / "demo", rules_dir)
    config = demo_config.model_copy(update={"baton": demo_config.baton.model_copy(
        update={"rules": [str(rules_dir / "*.toml")]})})
    from baton.app.runtime import open_runtime

    configured, secrets = box.configure(config, tmp_path / "other.db")
    live = open_runtime(configured, secrets)
    live_runner = live.runner(clock=box.clock.now)
    live_runner.run_all()
    leads_file = rules_dir / "salesforce-leads.toml"
    leads_file.write_text(leads_file.read_text() + "\n[[gate]]\nid = 'broken\n")
    box.clock.advance(60)
    sf.update_record("Lead", bad, {"Status": "MQL"})
    box.clock.advance(30)
    live_runner.run_all()
    assert live.rules.last_error is not None
    assert len(baton_tasks(sf)) == 1  # the gate still ran, with the last good rules

    result = subprocess.run([sys.executable, str(ROOT / "daemon.py"), "check", "--config",
                             str(_write_config(box, config, tmp_path))], capture_output=True, text=True)
    assert result.returncode == 1
    assert "salesforce-leads.toml" in result.stdout


def _write_config(box, config, tmp_path):
    return box.write_config(config, tmp_path / "baton.toml", tmp_path / "sub.db")


@pytest.fixture
def baton_process(make_sandbox, demo_config, tmp_path):
    """A live org with Grace's incomplete lead, and `baton run` as a separate process on it:
    `run("--once", BATON_CRASH_AT="after_write")` -> CompletedProcess (text output)."""
    box = make_sandbox("salesforce", frozen=False)
    bad = box.salesforce.create_record("Lead", BAD)
    config_file = box.write_config(demo_config, tmp_path / "baton.toml", tmp_path / "state.db")

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
        command = [sys.executable, str(ROOT / "daemon.py"), "--config", str(config_file), "run", *args]
        env = {**os.environ, "PYTHONPATH": str(ROOT), **extra_env}
        return subprocess.run(command, env=env, capture_output=True, text=True)

    assert run("--once").returncode == 0  # the baseline
    return box.salesforce, bad, run


@pytest.mark.parametrize("point", ["after_write", "after_commit"])
def test_killed_between_writing_and_recording_a_task_is_not_written_twice(baton_process, point):
    sf, bad, run = baton_process
    sf.update_record("Lead", bad, {"Status": "MQL"})
    assert run("--once", BATON_CRASH_AT=point).returncode == -9
    assert len(baton_tasks(sf)) == (1 if point == "after_write" else 0)

    restarted = run("--once")
    assert restarted.returncode == 0, restarted.stderr
    assert len(baton_tasks(sf)) == 1
    assert lead_status(sf, bad) == "Data Remediation"
    run("--once")
    assert len(baton_tasks(sf)) == 1


def test_dry_run_prints_the_plan_and_writes_nothing(baton_process):
    sf, bad, run = baton_process
    sf.update_record("Lead", bad, {"Status": "MQL"})
    dry = run("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Handoff blocked: Grace Hopper" in dry.stdout and "Data Remediation" in dry.stdout
    assert baton_tasks(sf) == [] and lead_status(sf, bad) == "MQL"
    assert run("--once").returncode == 0
    assert len(baton_tasks(sf)) == 1  # the dry run did not consume the transition


def test_a_bounce_left_pending_by_a_crash_does_not_undo_a_later_human_move(baton_process):
    sf, bad, run = baton_process
    sf.update_record("Lead", bad, {"Status": "MQL"})
    # the task and the bounce are planned and durable, nothing is written
    assert run("--once", BATON_CRASH_AT="after_commit").returncode == -9
    sf.update_record("Lead", bad, {"Status": "Working - Contacted"})  # someone moves on meanwhile

    restarted = run("--once")
    assert restarted.returncode == 0, restarted.stderr
    assert len(baton_tasks(sf)) == 1  # the task is still owed and written once
    assert lead_status(sf, bad) == "Working - Contacted"  # the stale bounce is not applied
    assert "writeback.superseded" in restarted.stderr
