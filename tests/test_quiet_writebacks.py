"""Quiet write-backs (issue #16 item 5), through the sandboxes: a repeat failure updates what is
still open instead of adding a new item; a bulk of failures for one owner becomes one digest,
exactly once across a SIGKILL, and still resolved record by record."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.test_sheets_gates_e2e import KEY, TAB, status_note

BAD = {"FirstName": "Grace", "LastName": "Hopper", "Company": "Cobol Systems",
       "Email": "grace@cobol", "LeadSource": "Webinar", "Consent__c": False,
       "Status": "Open - Not Contacted"}
FIXED = {"Title": "VP Engineering", "Consent__c": True, "Email": "grace@cobol.example",
         "Webinar_Topic__c": "COBOL today"}
LEADS_RULE = """
[[gate]]
id = "mql-entry"
source = "salesforce:leads"
enters = "MQL"
checks = [
  { field = "Title", required = true },
  { field = "Consent__c", is_true = true, message = "Marketing consent is not recorded" },
]

[gate.on_fail]
comment = "Not an MQL yet:\\n{failures}"
move_to = "Data Remediation"
digest_above = 20

[gate.on_fail.task]
subject = "Handoff blocked: {name}"
body = "{name} could not become an MQL:\\n{failures}"
owner = "owner"
"""


def _rules(tmp_path, demo_config, text=LEADS_RULE):
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    shutil.copy(ROOT / "rules" / "demo" / "taxonomy.toml", rules / "taxonomy.toml")
    (rules / "leads.toml").write_text(text)
    return demo_config.model_copy(update={"baton": demo_config.baton.model_copy(
        update={"rules": [str(rules / "*.toml")]})})


def _tasks(sf, prefix):
    return [t for t in sf.records("Task") if t["Subject"].startswith(prefix)]


def _status(sf, lead):
    return next(r["Status"] for r in sf.records("Lead") if r["Id"] == lead)


# -- update in place ---------------------------------------------------------------------------

def test_a_repeat_failure_updates_the_open_task_and_replies_in_the_posts_thread(
        make_sandbox, runtime_on, demo_config, tmp_path):
    box = make_sandbox("salesforce")
    sf = box.salesforce
    lead = sf.create_record("Lead", BAD)
    runtime, runner = runtime_on(box, _rules(tmp_path, demo_config))
    runner.run_all()
    box.clock.advance(60)
    sf.update_record("Lead", lead, {"Status": "MQL"})
    box.clock.advance(30)
    runner.run_all()
    [task] = _tasks(sf, "Handoff blocked")
    [post] = [f for f in sf.records("FeedItem") if f["ParentId"] == lead]
    assert "Title" in task["Description"] and _status(sf, lead) == "Data Remediation"

    # The rep fixes the title only and hands it over again: still failing, said on what is open.
    sf.update_record("Lead", lead, {"Title": "CTO", "Status": "MQL"})
    box.clock.advance(30)
    box.reset_calls()
    runner.run_all()
    [same] = _tasks(sf, "Handoff blocked")
    assert same["Id"] == task["Id"]
    assert "Title" not in same["Description"] and "consent" in same["Description"]
    assert task["Description"].split("\n")[-1] in same["Description"]  # the first marker stays
    assert same["Description"].count("[baton:") == 2
    assert [f["Id"] for f in sf.records("FeedItem") if f["ParentId"] == lead] == [post["Id"]]
    [reply] = sf.records("FeedComment")
    assert reply["FeedItemId"] == post["Id"] and "consent" in reply["CommentBody"]
    assert _status(sf, lead) == "Data Remediation"  # the bounce still happens
    # one PATCH (the task's description and the bounce), one POST (the reply)
    assert (sf.calls["composite_update"], sf.calls["composite_create"]) == (1, 1)
    [row] = [r for r in runtime.store.ledger_entries(lead) if r.kind == "update_comment"]
    # a reply lost in a crash is found by its marker in the thread, and reports the post
    assert runtime.connectors["salesforce:leads"].find_written([row.action]) == {row.key: post["Id"]}

    # A third failure still adds no task and no post; fixing it closes the one task.
    sf.update_record("Lead", lead, {"Status": "MQL"})
    box.clock.advance(30)
    runner.run_all()
    assert len(_tasks(sf, "Handoff blocked")) == 1 and len(sf.records("FeedComment")) == 2
    assert all(c["FeedItemId"] == post["Id"] for c in sf.records("FeedComment"))
    sf.update_record("Lead", lead, {**FIXED, "Status": "MQL"})
    box.clock.advance(30)
    runner.run_all()
    [closed] = _tasks(sf, "Handoff blocked")
    assert closed["Status"] == "Completed" and _status(sf, lead) == "MQL"


def test_a_repeat_failure_on_a_sheet_rewrites_its_note_block(make_sandbox, runtime_on):
    box = make_sandbox("sheets")
    sheet = box.sheets
    runtime, runner = runtime_on(box)
    runner.run_all()

    def note():
        return status_note(box, "CMP-1106")

    def moved(status, wait=30):
        sheet.set_cell(box.spreadsheet_id, TAB, KEY, "CMP-1106", "Status", status)
        box.clock.advance(wait)
        runner.run_all()

    box.clock.advance(60)
    moved("Ready for QA")
    first = note()
    assert first.count("⚑ Baton") == 1 and "utm_source appears 2 times" in first
    for _ in range(2):  # back to Draft and into QA again, still failing
        moved("Draft")
        moved("Ready for QA")
        assert note().count("⚑ Baton") == 1 and "utm_source appears 2 times" in note()
    kinds = [row.kind for row in runtime.store.ledger_entries("CMP-1106")]
    assert kinds == ["comment", "update_comment", "update_comment"]
    sheet.set_cell(box.spreadsheet_id, TAB, KEY, "CMP-1106", "Landing URL",
                   "https://acme.example/x?utm_source=gdn&utm_medium=display&utm_campaign=cmp-1106-fixed")
    moved("Draft")
    moved("Ready for QA")
    assert note() is None  # the one block, removed once fixed


def test_a_repeat_failure_in_asana_comments_on_the_open_subtask(make_sandbox, runtime_on):
    box = make_sandbox("asana")
    asana = box.asana
    writer = next(gid for gid, u in asana.users.items() if u.name == "Maya Ortiz")
    web = asana.create_task(
        box.project_gid, "CMP-1203_paid-social_carousel_v2_20261124", "In Design",
        {"Campaign ID": "CMP-1203", "Channel": "paid-social", "Visual brief": "Cards",
         "Landing URL": "https://acme.example/l?utm_source=Meta&utm_medium=cpc"
                        "&utm_campaign=cmp-1230-launch&utm_medium=cpc"}, assignee=writer)
    runtime, runner = runtime_on(box)
    runner.run_all()
    for _ in range(2):
        box.clock.advance(60)
        asana.move_task(web, "Ready for Web")
        box.clock.advance(30)
        runner.run_all()
        asana.move_task(web, "In Design")
        box.clock.advance(30)
        runner.run_all()
    [subtask] = asana.subtasks(web)
    on_subtask = [c for c in asana.comments(subtask["gid"]) if "[baton:" in c["text"]]
    assert len(on_subtask) == 1 and "utm" in on_subtask[0]["text"].lower()
    assert [c for c in asana.comments(web) if "[baton:" in c["text"]] == []
    [row] = [r for r in runtime.store.ledger_entries(web) if r.kind == "update_task"]
    assert row.remote_id == subtask["gid"]
    # a comment lost in a crash is found by its marker on the subtask, and reports the subtask
    connector = runtime.connectors["asana:content-calendar"]
    assert connector.find_written([row.action]) == {row.key: subtask["gid"]}


# -- digests -----------------------------------------------------------------------------------

def _import(sf, owner, n):
    return [sf.create_record("Lead", {**BAD, "LastName": f"Import {k:03d}", "OwnerId": owner})
            for k in range(n)]


def _process(make_sandbox, demo_config, tmp_path, n):
    """An org with `n` incomplete leads of one rep, and `baton run` as a separate process."""
    box = make_sandbox("salesforce", frozen=False)
    sf = box.salesforce
    owner = box.org.sdr_id
    leads = _import(sf, owner, n)
    config_file = box.write_config(_rules(tmp_path, demo_config), tmp_path / "baton.toml",
                                   tmp_path / "state.db")

    def run(**extra_env: str) -> subprocess.CompletedProcess:
        command = [sys.executable, str(ROOT / "daemon.py"), "--config", str(config_file), "run",
                   "--once"]
        return subprocess.run(command, env={**os.environ, "PYTHONPATH": str(ROOT), **extra_env},
                              capture_output=True, text=True)

    assert run().returncode == 0  # the baseline
    return box, sf, owner, leads, run


@pytest.fixture
def bulk(make_sandbox, demo_config, tmp_path):
    return _process(make_sandbox, demo_config, tmp_path, 300)


def _failed_then_back_in_mql(make_sandbox, demo_config, tmp_path):
    """One lead failed and bounced by one `baton run`, then handed over again: the next run's
    failure is a repeat."""
    box, sf, owner, [lead], run = _process(make_sandbox, demo_config, tmp_path, 1)
    sf.update_record("Lead", lead, {"Status": "MQL"})
    assert run().returncode == 0
    # Whole-second history: a re-entry in the entry's own second is that entry. Real time, not
    # box.clock: Baton's process polls up to its own clock, and the sandbox must not run ahead.
    time.sleep(1.1)
    sf.update_record("Lead", lead, {"Status": "MQL"})
    return sf, lead, run


def test_a_repeat_failure_killed_after_its_update_is_written_once(make_sandbox, demo_config,
                                                                  tmp_path):
    sf, lead, run = _failed_then_back_in_mql(make_sandbox, demo_config, tmp_path)
    assert run(BATON_CRASH_AT="after_write").returncode == -9
    assert len(sf.records("FeedComment")) == 1  # the reply landed, the ledger does not know
    restarted = run()
    assert restarted.returncode == 0, restarted.stderr
    assert len(sf.records("FeedComment")) == 1 and len(sf.records("FeedItem")) == 1
    [task] = _tasks(sf, "Handoff blocked")
    assert task["Description"].count("[baton:") == 2  # the task's marker and the update's


def test_a_repeat_failure_killed_between_its_update_and_its_reply_is_written_once(
        make_sandbox, demo_config, tmp_path):
    """The one batch that both updates (the task's description, the bounce) and creates (the
    reply in the post's thread), killed between the two: the restart sends the reply once and
    does not rewrite the task a second time."""
    sf, lead, run = _failed_then_back_in_mql(make_sandbox, demo_config, tmp_path)
    assert run(BATON_CRASH_AT="between_writes").returncode == -9
    [task] = _tasks(sf, "Handoff blocked")
    assert task["Description"].count("[baton:") == 2  # the update landed
    assert sf.records("FeedComment") == []  # the reply did not
    restarted = run()
    assert restarted.returncode == 0, restarted.stderr
    assert len(sf.records("FeedComment")) == 1 and len(sf.records("FeedItem")) == 1
    [task] = _tasks(sf, "Handoff blocked")
    assert task["Description"].count("[baton:") == 2


def test_a_bulk_import_yields_one_digest_exactly_once_across_a_kill(bulk):
    box, sf, owner, leads, run = bulk
    for lead in leads:
        sf.update_record("Lead", lead, {"Status": "MQL"})
    # SIGKILL once the digest is in Salesforce and before the ledger knows it
    killed = run(BATON_CRASH_AT="after_write")
    assert killed.returncode == -9
    assert len(_tasks(sf, "Baton digest:")) == 1

    restarted = run()
    assert restarted.returncode == 0, restarted.stderr
    assert "ledger.recovered" in restarted.stderr  # found by its marker, not sent again
    run()
    [digest] = _tasks(sf, "Baton digest:")
    assert digest["OwnerId"] == owner and digest["Subject"].startswith("Baton digest: 300 records")
    assert "Import 000" in digest["Description"] and "Import 299" in digest["Description"]
    assert "consent" in digest["Description"].lower()
    assert _tasks(sf, "Handoff blocked") == [] and sf.records("FeedItem") == []  # no 300 messages
    assert {_status(sf, lead) for lead in leads} == {"Data Remediation"}  # bounces per record


@pytest.fixture
def small_bulk(make_sandbox, runtime_on, demo_config, tmp_path):
    """25 incomplete leads of one rep (over digest_above = 20), Baton in this process."""
    box = make_sandbox("salesforce")
    leads = _import(box.salesforce, box.org.sdr_id, 25)
    runtime, runner = runtime_on(box, _rules(tmp_path, demo_config))
    runner.run_all()
    return box, box.salesforce, runtime, runner, leads


def _enter(box, sf, leads, changes=None):
    box.clock.advance(30)
    for lead in leads:
        sf.update_record("Lead", lead, {**(changes or {}), "Status": "MQL"})
    box.clock.advance(30)


def test_fixing_one_lead_of_a_digest_resolves_that_lead_only(small_bulk):
    box, sf, runtime, runner, leads = small_bulk
    _enter(box, sf, leads)
    runner.run_all()
    [digest] = _tasks(sf, "Baton digest:")
    assert digest["Subject"].startswith("Baton digest: 25 records")

    _enter(box, sf, leads[:1], FIXED)
    runner.run_all()
    assert _status(sf, leads[0]) == "MQL" and _status(sf, leads[1]) == "Data Remediation"
    open_now = runtime.store.open_violations("salesforce:leads", leads)
    assert len(open_now) == 24 and (leads[0], "mql-entry") not in open_now
    [still] = _tasks(sf, "Baton digest:")
    assert still["Status"] == "Not Started"  # 24 leads still wait
    assert sf.records("FeedItem") == [] and _tasks(sf, "Handoff blocked") == []

    # the last of them fixed: the digest task closes, once
    _enter(box, sf, leads[1:], FIXED)
    runner.run_all()
    [closed] = _tasks(sf, "Baton digest:")
    assert closed["Status"] == "Completed"
    box.clock.advance(30)
    runner.run_all()
    assert len(_tasks(sf, "Baton digest:")) == 1 and sf.records("FeedItem") == []


def test_at_or_below_the_threshold_each_lead_gets_its_own_messages(small_bulk):
    box, sf, runtime, runner, leads = small_bulk
    _enter(box, sf, leads[:20])
    runner.run_all()
    assert _tasks(sf, "Baton digest:") == [] and len(_tasks(sf, "Handoff blocked")) == 20
    assert len(sf.records("FeedItem")) == 20


# -- check -------------------------------------------------------------------------------------

def _check(tmp_path, gate):
    from baton.app.check import check
    from baton.core.config import load_config

    rules = tmp_path / "rules.toml"
    rules.write_text('[[gate]]\nid = "utm-qa"\nsource = "sheets:utm"\nenters = "Ready for QA"\n'
                     'checks = [{ field = "Landing URL", required = true }]\n' + gate)
    config = tmp_path / "config.toml"
    config.write_text(f'[baton]\nrules = ["{rules}"]\n'
                      '[[source]]\nid = "sheets:utm"\ntool = "sheets"\nspreadsheet_id = "s"\n'
                      'tab = "UTM"\nkey_column = "Campaign"\nstatus_column = "Status"\n'
                      'workflow = ["Draft", "Ready for QA"]\n')
    return check(load_config(config)).problems


def test_check_refuses_a_digest_where_the_tool_cannot_send_one_or_nothing_to_digest(tmp_path):
    problems = _check(tmp_path, 'on_fail = { comment = "Add the landing URL", digest_above = 20 }')
    assert problems == ["gate utm-qa: sheets cannot send digests (digest_above)"]
    [problem] = _check(tmp_path, 'on_fail = { move_to = "Draft", digest_above = 5 }')
    assert problem.endswith("gate[utm-qa].on_fail.digest_above: expected a comment or a task "
                            "for the digest to replace (this gate writes neither)")
    [problem] = _check(tmp_path, 'on_fail = { comment = "x", digest_above = 0 }')
    assert "digest_above" in problem


def test_a_repeat_failure_in_a_bulk_updates_its_open_task_and_stays_out_of_the_digest(small_bulk):
    box, sf, runtime, runner, leads = small_bulk
    _enter(box, sf, leads[:3])
    runner.run_all()
    first = {t["Id"] for t in _tasks(sf, "Handoff blocked")}
    assert len(first) == 3
    _enter(box, sf, leads)  # all 25 again: 3 repeats, 22 new (over 20)
    runner.run_all()
    [digest] = _tasks(sf, "Baton digest:")
    assert digest["Subject"].startswith("Baton digest: 22 records")
    assert {t["Id"] for t in _tasks(sf, "Handoff blocked")} == first  # updated, not added
    _enter(box, sf, leads[:3], FIXED)
    runner.run_all()
    assert {t["Status"] for t in _tasks(sf, "Handoff blocked")} == {"Completed"}
    assert _tasks(sf, "Baton digest:")[0]["Status"] == "Not Started"
