"""Asana content gates end to end through the asana SDK, the engine and the ledger."""
from __future__ import annotations

import pytest

GOOD_FIELDS = {"Campaign ID": "CMP-1201", "Channel": "email", "Visual brief": "Snowy hero",
               "Landing URL": "https://acme.example/w?utm_source=newsletter&utm_medium=email"
                              "&utm_campaign=cmp-1201-winter"}


@pytest.fixture
def runtime_state(state_location):
    """These tests run on SQLite and on PostgreSQL (conftest's state_location)."""
    return state_location


@pytest.fixture
def content(make_sandbox, runtime_on):
    box = make_sandbox("asana")
    asana = box.asana
    writer = next(gid for gid, u in asana.users.items() if u.name == "Maya Ortiz")
    bad = asana.create_task(box.project_gid, "CMP-1202_emial_partner-webinar_v1_20261124", "Drafting",
                            {"Campaign ID": "CMP-1202", "Channel": "email", "Visual brief": ""},
                            assignee=writer)
    web = asana.create_task(box.project_gid, "CMP-1203_paid-social_carousel_v2_20261124", "In Design",
                            {**GOOD_FIELDS, "Campaign ID": "CMP-1203", "Channel": "paid-social",
                             "Landing URL": "https://acme.example/l?utm_source=Meta&utm_medium=cpc"
                                            "&utm_campaign=cmp-1230-launch&utm_medium=cpc"},
                            assignee=writer)
    runtime, runner = runtime_on(box)
    runner.run_all()  # baseline
    return box, asana, runtime, runner, bad, web, writer


def baton_comments(asana, gid):
    return [c for c in asana.comments(gid) if "[baton:" in c["text"]]


def test_a_failed_design_gate_comments_once_and_bounces_and_a_fixed_task_passes_silently(content, runtime_on):
    box, asana, runtime, runner, bad, _, _ = content
    box.clock.advance(60)
    asana.move_task(bad, "Ready for Design")
    box.clock.advance(30)
    runner.run_all()
    [comment] = baton_comments(asana, bad)
    assert "Attach the visual brief" in comment["text"] and "emial" in comment["text"]
    assert asana.section_of(bad) == "Drafting"

    # Re-polls, a restart and an expired sync token write nothing more.
    box.clock.advance(30)
    runner.run_all()
    asana.expire_sync_tokens()
    _, restarted = runtime_on(box)
    box.clock.advance(30)
    restarted.run_all()
    restarted.run_all()
    assert len(baton_comments(asana, bad)) == 1

    asana.rename_task(bad, "CMP-1202_email_partner-webinar_v1_20261124")
    asana.set_custom_field(bad, "Visual brief", "Speaker cards")
    box.clock.advance(60)
    asana.move_task(bad, "Ready for Design")
    box.clock.advance(30)
    restarted.run_all()
    assert asana.section_of(bad) == "Ready for Design"
    assert len(baton_comments(asana, bad)) == 1  # passed: no new comment
    moves = [(t.from_status, t.to_status, t.time_source.value)
             for t in runtime.store.transitions("asana:content-calendar") if t.record_id == bad]
    assert moves == [("Drafting", "Ready for Design", "history"),
                     ("Ready for Design", "Drafting", "history"),  # the bounce: a rework round
                     ("Drafting", "Ready for Design", "history")]
    verdicts = [e.passed for e in runtime.store.evaluations("asana:content-calendar", bad)]
    assert verdicts == [False, True]


def test_a_failed_web_gate_opens_one_fix_utm_subtask_for_the_assignee(content):
    box, asana, runtime, runner, _, web, writer = content
    box.clock.advance(60)
    asana.move_task(web, "Ready for Web")
    box.clock.advance(30)
    runner.run_all()
    runner.run_all()
    [subtask] = asana.subtasks(web)
    assert subtask["name"] == "Fix UTM: CMP-1203_paid-social_carousel_v2_20261124"
    assert subtask["assignee"]["gid"] == writer
    for problem in ("Meta", "utm_medium", "1230"):
        assert problem in subtask["notes"]
    assert asana.section_of(web) == "Ready for Web"  # this gate does not bounce
