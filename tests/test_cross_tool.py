"""Cross-tool checks (issue #16): an Asana task's Campaign ID looked up in Baton's stored
snapshot of Salesforce Campaigns, through the real SDKs against the sandboxes: no API call per
lookup, the record looked up named in the message, and a stale or failing source producing the
configured outcome (fail, pass, hold) in the message and in `baton explain`."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from baton.app.check import check
from baton.app.commands.explain import explain_lines
from baton.core.config import Config
from baton.engine.lookups import SnapshotIndexes, SnapshotLookups, allowed_ages
from baton.rules import evaluate_gate, load_rule_set

CAMPAIGNS = "salesforce:campaigns"
CONTENT = "asana:content-calendar"
GOOD = {"Campaign ID": "CMP-1201", "Channel": "email", "Visual brief": "Snowy hero",
        "Landing URL": "https://acme.example/w?utm_source=newsletter&utm_medium=email"
                       "&utm_campaign=cmp-1201-winter-launch"}


def _rules(tmp_path: Path, on_stale: str = "fail", extra: str = "") -> Path:
    path = tmp_path / f"cross-{on_stale}.toml"
    path.write_text(f'''
[[gate]]
id = "campaign-ready"
source = "{CONTENT}"
enters = "Ready for Web"
checks = [
  {{ field = "Campaign ID", lookup = {{ source = "{CAMPAIGNS}", key = "Code__c", name = "Salesforce Campaign", require = {{ Status = ["Planned", "In Progress"] }}, filled = ["UTM_Source__c", "UTM_Medium__c"], on_stale = "{on_stale}" {extra} }} }},
]
on_fail = {{ comment = "Not ready for the web:\\n{{failures}}" }}
''', encoding="utf-8")
    return path


def _with_rules(config: Config, *files: Path) -> Config:
    return config.model_copy(update={"baton": config.baton.model_copy(
        update={"rules": [str(f) for f in files]})})


@pytest.fixture
def world(make_sandbox, runtime_on, demo_config, tmp_path):
    """Salesforce (with the demo campaigns) and Asana; one task per case, baselined."""
    def make(on_stale: str = "fail"):
        box = make_sandbox("salesforce", "asana")
        asana = box.asana
        tasks = {
            name: asana.create_task(box.project_gid, f"{code}_email_{name}_v1_20261124", "In Design",
                                    {**GOOD, "Campaign ID": code})
            for name, code in (("known", "CMP-1201"), ("missing", "CMP-1203"),
                               ("finished", "CMP-1204"), ("other", "CMP-1202"))
        }
        runtime, runner = runtime_on(box, _with_rules(demo_config, _rules(tmp_path, on_stale)))
        runner.run_all()  # baselines: the campaigns' snapshot is in the store now
        return box, runtime, runner, tasks
    return make


def _comments(box, gid):
    return [c["text"] for c in box.asana.comments(gid) if "[baton:" in c["text"]]


def _salesforce_calls(box) -> int:
    return box.calls().get("salesforce", 0)


def test_a_missing_campaign_fails_naming_it_and_the_cycle_asks_salesforce_nothing(world):
    box, runtime, runner, tasks = world()
    box.clock.advance(60)
    for name in ("known", "missing", "finished"):
        box.asana.move_task(tasks[name], "Ready for Web")
    box.clock.advance(30)
    box.reset_calls()
    runner.run_source(CONTENT)  # the lookups read the stored snapshot of Salesforce
    assert _salesforce_calls(box) == 0 and box.calls()["asana"] > 0

    assert _comments(box, tasks["known"]) == []
    [missing] = _comments(box, tasks["missing"])
    assert "Campaign ID 'CMP-1203' matches no Salesforce Campaign (none has Code__c 'CMP-1203')" \
        in missing
    [finished] = _comments(box, tasks["finished"])
    campaign = next(c for c in box.salesforce.records("Campaign") if c["Code__c"] == "CMP-1204")
    assert (f"Salesforce Campaign 'Autumn recap' ({campaign['Id']}, for Campaign ID 'CMP-1204'): "
            "Status is 'Completed', expected one of: Planned, In Progress") in finished
    # explain names the record looked up
    [stored] = [r for r in runtime.store.stored_records(CONTENT) if r.record_id == tasks["known"]]
    text = "\n".join(explain_lines(runtime.store, stored))
    known = next(c for c in box.salesforce.records("Campaign") if c["Code__c"] == "CMP-1201")
    assert f"{CAMPAIGNS} {known['Id']} 'Winter launch'" in text and "passed" in text


def test_a_campaign_fixed_in_salesforce_is_seen_at_the_next_poll_of_campaigns(world):
    box, runtime, runner, tasks = world()
    aborted = next(c for c in box.salesforce.records("Campaign") if c["Code__c"] == "CMP-1202")
    box.salesforce.update_record("Campaign", aborted["Id"], {"UTM_Medium__c": None})
    box.clock.advance(60)
    runner.run_all()  # the campaigns' snapshot now lacks the medium
    box.asana.move_task(tasks["other"], "Ready for Web")
    box.clock.advance(30)
    runner.run_all()
    [comment] = _comments(box, tasks["other"])
    assert "Salesforce Campaign 'Partner webinar'" in comment and "UTM_Medium__c is missing" in comment


def test_evaluation_through_the_snapshot_makes_no_request_to_any_sandbox(world):
    box, runtime, runner, _ = world()
    gate = runtime.rules.current().gate("campaign-ready")
    records = [r.as_record() for r in runtime.store.stored_records(CONTENT)]
    indexes = SnapshotIndexes(runtime.store)
    lookups = SnapshotLookups(runtime.store, box.clock.now(), allowed_ages(runtime.config),
                              indexes=indexes)
    box.reset_calls()
    verdicts = [evaluate_gate(gate, r, lookups=lookups).passed for _ in range(50) for r in records]
    assert sum(box.calls().values()) == 0
    campaigns = len(box.salesforce.records("Campaign"))
    assert indexes.rows_read == campaigns  # the snapshot read once for the whole batch
    assert True in verdicts and False in verdicts
    # The next cycle reads only what was stored since: nothing.
    again = SnapshotLookups(runtime.store, box.clock.now(), allowed_ages(runtime.config),
                            indexes=indexes)
    assert [evaluate_gate(gate, r, lookups=again).passed for r in records] == verdicts[:len(records)]
    assert indexes.rows_read == campaigns


@pytest.mark.parametrize("on_stale", ["fail", "pass"])
def test_a_stale_snapshot_gives_the_configured_outcome_and_says_so(world, on_stale):
    box, runtime, runner, tasks = world(on_stale)
    box.clock.advance(3600)  # campaigns (every 300 s) not polled for an hour: stale
    box.asana.move_task(tasks["missing"], "Ready for Web")
    box.clock.advance(30)
    runner.run_source(CONTENT)
    [evaluation] = runtime.store.evaluations(CONTENT, tasks["missing"])
    note = f"Baton's copy of {CAMPAIGNS} is 60 min old (its polling allows 10 min)"
    [stored] = [r for r in runtime.store.stored_records(CONTENT) if r.record_id == tasks["missing"]]
    text = "\n".join(explain_lines(runtime.store, stored))
    assert note in text
    if on_stale == "fail":
        [comment] = _comments(box, tasks["missing"])
        assert (f"Campaign ID 'CMP-1203' could not be checked against Salesforce Campaign: {note}"
                in comment)
        assert not evaluation.passed
    else:
        assert _comments(box, tasks["missing"]) == [] and evaluation.passed
        assert "not looked up" in text and "on_stale = pass" in text


def test_a_failing_source_is_named_and_a_held_gate_decides_once_it_is_fresh(world):
    box, runtime, runner, tasks = world("hold")
    box.salesforce.faults.add("query", times=20, status=500)
    box.clock.advance(60)
    runner.run_source(CAMPAIGNS)  # fails: the runner's health says so
    assert runner.health[CAMPAIGNS].consecutive_failures == 1
    box.asana.move_task(tasks["missing"], "Ready for Web")
    box.asana.move_task(tasks["known"], "Ready for Web")
    box.clock.advance(30)
    runner.run_source(CONTENT)
    runner.run_source(CONTENT)  # still held: nothing written, the held verdict stays one row
    assert _comments(box, tasks["missing"]) == [] and _comments(box, tasks["known"]) == []
    [held] = runtime.store.evaluations(CONTENT, tasks["missing"])
    assert held.held and f"polling {CAMPAIGNS} is failing" in held.basis
    assert "HTTP" not in held.basis and "500" not in held.basis  # the error's kind, not its text
    [stored] = [r for r in runtime.store.stored_records(CONTENT) if r.record_id == tasks["missing"]]
    assert "HELD" in "\n".join(explain_lines(runtime.store, stored))

    box.salesforce.faults.clear()
    box.clock.advance(30)
    runner.run_source(CAMPAIGNS)  # fresh again
    runner.run_source(CONTENT)
    runner.run_source(CONTENT)  # decided once: one comment, one verdict per entry
    [comment] = _comments(box, tasks["missing"])
    assert "matches no Salesforce Campaign" in comment
    assert _comments(box, tasks["known"]) == []
    [decided] = runtime.store.evaluations(CONTENT, tasks["missing"])
    assert not decided.held and not decided.passed
    [passed] = runtime.store.evaluations(CONTENT, tasks["known"])
    assert passed.passed and not passed.held
    assert runtime.store.held_evaluations(CONTENT) == []


def test_check_refuses_a_lookup_into_an_unknown_source_or_an_unfetched_field(demo_config, tmp_path):
    wrong = _rules(tmp_path, extra=', equal = { UTM_Campaign__c = "utm_campaign" }')
    problems = check(_with_rules(demo_config, wrong)).problems
    assert problems == [
        f"gate campaign-ready: check Campaign ID.lookup looks up {CAMPAIGNS!r}: a field "
        f"'UTM_Campaign__c' is not fetched by {CAMPAIGNS} (add it to that source's `fields` in "
        f"{demo_config.path})"]
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(_rules(tmp_path).read_text().replace(CAMPAIGNS, "salesforce:campains"))
    [problem] = check(_with_rules(demo_config, unknown)).problems
    assert "looks up 'salesforce:campains', which is not a configured source" in problem
    assert check(_with_rules(demo_config, _rules(tmp_path))).problems == []


def test_doctor_checks_the_looked_up_fields_on_the_live_tool(make_sandbox, demo_config, tmp_path):
    from baton.app.doctor import diagnose
    from baton.connectors.retry import RetryPolicy

    box = make_sandbox("salesforce", "asana")
    rules = _rules(tmp_path, extra=', equal = { Code_Typo__c = "Campaign ID" }')
    sources = [s.model_copy(update={"fields": [*s.fields, "Code_Typo__c"]}) if s.id == CAMPAIGNS
               else s for s in demo_config.source]
    config, secrets = box.configure(_with_rules(demo_config.model_copy(update={"source": sources}),
                                                rules))
    rule_set = check(config).rule_set
    assert rule_set is not None and check(config).problems == []
    findings = diagnose(config, secrets, rule_set, retry=RetryPolicy(attempts=1, sleep=lambda s: None))
    failed = [f.what for f in findings[CAMPAIGNS] if not f.ok]
    assert len(failed) == 1 and failed[0].startswith("Campaign has no field 'Code_Typo__c'")
    assert "gate campaign-ready (lookup from asana:content-calendar)" in failed[0]


def test_lookups_in_a_sheet_by_status_and_case_and_a_list_value(tmp_path):
    """The index itself, on a real store: `status` is the record's own, case folded on request,
    each item of a multi-value field looked up."""
    from datetime import UTC, datetime

    from baton.core.records import Record
    from baton.store import CycleWrite, StateStore

    now = datetime(2026, 11, 24, 9, tzinfo=UTC)
    store = StateStore.open(tmp_path / "state.db")
    rows = [Record("sheets:utm-tracker", key, "", asset, status, None, {"Asset": asset}, now)
            for key, asset, status in (("CMP-1", "Spring Hero", "Approved"),
                                       ("CMP-2", "Autumn Banner", "Draft"))]
    store.commit_cycle(CycleWrite("sheets:utm-tracker", "c", advance_cursor=True, records=rows,
                                  baseline=True), now)
    rules_file = tmp_path / "sheet.toml"
    rules_file.write_text('''
[[gate]]
id = "assets-approved"
source = "asana:content-calendar"
enters = "Ready for Web"
checks = [
  { field = "Assets", lookup = { source = "sheets:utm-tracker", key = "Asset", name = "tracker row", require = { status = "Approved" }, ignore_case = true } },
]
''')
    gate = load_rule_set([rules_file]).gate("assets-approved")
    lookups = SnapshotLookups(store, now + timedelta(minutes=1),
                              {"sheets:utm-tracker": timedelta(minutes=2)})
    task = Record(CONTENT, "1", "", "t", "Ready for Web", None,
                  {"Assets": ["spring hero", "AUTUMN BANNER", "Winter"]}, now)
    assert evaluate_gate(gate, task, lookups=lookups).messages == [
        "tracker row 'Autumn Banner' (CMP-2, for Assets 'AUTUMN BANNER'): Status is 'Draft', "
        "expected Approved",
        "Assets 'Winter' matches no tracker row (none has Asset 'Winter')",
    ]
    late = SnapshotLookups(store, now + timedelta(minutes=3), {"sheets:utm-tracker": timedelta(minutes=2)})
    [message] = evaluate_gate(gate, task, lookups=late).messages
    assert message == ("Assets 'spring hero, AUTUMN BANNER, Winter' could not be checked against "
                       "tracker row: Baton's copy of sheets:utm-tracker is 3 min old (its polling "
                       "allows 2 min)")
