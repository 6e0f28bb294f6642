"""Shadow mode: a gate with `mode = "observe"` (or in a file with it at the top) is evaluated and
recorded like any other, through the real connectors against the sandboxes, but writes nothing
(the emulators' write routes stay at zero), opens no violation and bounces nothing; `preview`
shows what it would have written, `report` lists it apart; `mode = "enforce"` is the promotion."""
from __future__ import annotations

import json
import shutil

import pytest

from baton.app.cli import main
from baton.app.runtime import open_runtime
from baton.connectors.retry import RetryPolicy
from baton.rules import load_rule_set
from tests.conftest import ROOT
from tests.contract_helpers import CASES

DEMO = ROOT / "rules" / "demo"


def observe_rules(folder, mode="observe"):
    """The demo rules with `mode = ...` at the top of every file (each gate without its own)."""
    folder.mkdir(exist_ok=True)
    for path in DEMO.glob("*.toml"):
        text = path.read_text()
        (folder / path.name).write_text(f'mode = "{mode}"\n{text}' if "[[gate]]" in text else text)
    return [str(p) for p in sorted(folder.glob("*.toml"))]


def configured(demo_config, box, rules, state):
    config = demo_config.model_copy(update={
        "baton": demo_config.baton.model_copy(update={"rules": rules}),
        "asana": demo_config.asana.model_copy(update={"requests_per_minute": 1500}),
        "sheets": demo_config.sheets.model_copy(update={"requests_per_minute": 600})})
    return box.configure(config, state)


def test_map_draws_a_shadow_gate_with_its_mode(capsys):
    assert main(["map", "--config", str(ROOT / "config.toml")]) == 0
    assert "<b>mql-seniority (observe)</b>" in capsys.readouterr().out


def test_a_file_mode_applies_to_its_gates_and_a_gate_mode_wins(tmp_path):
    rules = load_rule_set([DEMO / "salesforce-leads.toml", DEMO / "taxonomy.toml"])
    assert {g.id: g.mode for g in rules.gates} == {"mql-entry": "enforce", "mql-seniority": "observe"}
    observed = load_rule_set([type(DEMO)(p) for p in observe_rules(tmp_path / "r")])
    assert {g.mode for g in observed.gates} == {"observe"}
    bad = tmp_path / "bad.toml"
    bad.write_text('mode = "shadow"\n[[gate]]\nid = "g"\nsource = "s"\nenters = "X"\n'
                   'mode = "watch"\nchecks = [{ field = "A", required = true }]\n')
    with pytest.raises(Exception) as error:
        load_rule_set([bad])
    text = str(error.value)
    assert f'{bad}: mode: expected "enforce" or "observe", found \'shadow\'' in text
    assert f"{bad}: gate[g].mode: " in text


@pytest.mark.parametrize("tool", sorted(CASES))
def test_an_observe_gate_is_recorded_but_writes_nothing(tool, make_sandbox, demo_config, tmp_path):
    case = CASES[tool]
    box = make_sandbox(tool)
    record = case.prepare(box)
    config, secrets = configured(demo_config, box, observe_rules(tmp_path / "rules"),
                                 tmp_path / "state.db")
    runtime = open_runtime(config, secrets, retry=RetryPolicy(attempts=3, sleep=lambda s: None))
    try:
        runner = runtime.runner(clock=box.clock.now)
        assert runner.run_source(case.source_id).baseline
        box.clock.advance(30)
        case.violate(box, record)  # into a gate it fails
        box.reset_calls()
        report = runner.run_source(case.source_id)
        assert report.transitions >= 1 and report.evaluations >= 1
        assert (report.violations, report.planned, report.written) == (0, [], 0)
        assert case.writes(box) == 0  # the emulator served no write request
        store = runtime.store
        failed = [e for e in store.evaluations(case.source_id, record) if not e.passed]
        assert failed and all(e.mode == "observe" for e in failed)
        assert failed[0].failures  # recorded like any verdict, with what was missing
        assert store.ledger_entries() == [] and store.count("violations") == 0
        box.clock.advance(30)
        runner.run_source(case.source_id)  # and later cycles write nothing either
        assert case.writes(box) == 0
    finally:
        runtime.close()


def test_preview_report_and_the_promotion(make_sandbox, demo_config, tmp_path, capsys):
    case = CASES["salesforce"]
    box = make_sandbox("salesforce")
    sf = box.salesforce
    lead = case.prepare(box)  # no title, no consent, a broken email
    rules = observe_rules(tmp_path / "rules")
    config, secrets = configured(demo_config, box, rules, tmp_path / "state.db")
    path = box.write_config(config, tmp_path / "baton.toml", tmp_path / "state.db")
    runtime = open_runtime(config, secrets, retry=RetryPolicy(attempts=3, sleep=lambda s: None))
    runner = runtime.runner(clock=box.clock.now)
    runner.run_source(case.source_id)
    box.clock.advance(30)
    case.violate(box, lead)
    runner.run_source(case.source_id)
    runtime.close()
    assert next(r for r in sf.records("Lead") if r["Id"] == lead)["Status"] == "MQL"  # not bounced
    assert sf.records("Task") == []

    assert main(["preview", "--config", str(path), "mql-entry", "--since", "3650d"]) == 0
    out = capsys.readouterr().out
    assert "[observe mode: it writes nothing]" in out
    assert "Shadow mode: 1 evaluation(s) recorded in observe mode, 1 failed; it would have written:" in out
    assert "task: 'Handoff blocked: Grace Hopper' for queue:Data Remediation" in out
    assert "move_status: to 'Data Remediation'" in out

    assert main(["explain", "--config", str(path), lead]) == 0
    assert "gate mql-entry FAILED (rules " in capsys.readouterr().out.split("observe mode, nothing written)")[0]

    assert main(["report", "--config", str(path), "--since", "3650d"]) == 0
    out = capsys.readouterr().out
    shadow = out.split("Shadow mode (observe gates")[1]
    assert "salesforce:leads mql-entry: would have failed 1 of 1 entr(y/ies) (100.0%), 1 record(s)" in shadow
    assert "salesforce:leads mql-seniority: would have failed 1 of 1" in shadow
    # no enforced gate entry: no yield to show, no gate entry counted
    assert "First-pass yield [%]\n  source  group  value  n\n  -       all      n/a  0\n" in out
    assert main(["report", "--config", str(path), "--since", "3650d", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {(g["gate"], g["entries"], g["would_fail"]) for g in data["observe_gates"]} == {
        ("mql-entry", 1, 1), ("mql-seniority", 1, 1)}
    assert not [v for v in data["values"] if v["kpi"] == "gate_entries" and v["count"]]
    card = tmp_path / "card.html"
    assert main(["report", "--config", str(path), "--since", "3650d", "--format", "html",
                 "--out", str(card)]) == 0
    html = card.read_text().split("<h2>Shadow mode</h2>")[1].split("<h2>")[0]
    assert "<td>mql-entry</td><td>salesforce:leads</td><td class=\"num\">1</td>" in html

    # The promotion: mode = "enforce"; the lead's next entry into MQL is guarded for real.
    shutil.rmtree(tmp_path / "rules")
    observe_rules(tmp_path / "rules", mode="enforce")
    runtime = open_runtime(config, secrets, retry=RetryPolicy(attempts=3, sleep=lambda s: None))
    try:
        runner = runtime.runner(clock=box.clock.now)
        box.clock.advance(30)
        sf.update_record("Lead", lead, {"Status": "Open - Not Contacted"})
        box.clock.advance(30)
        runner.run_source(case.source_id)
        box.clock.advance(30)
        sf.update_record("Lead", lead, {"Status": "MQL"})
        report = runner.run_source(case.source_id)
        # mql-entry goes live; mql-seniority names its own mode ("observe"), which wins
        assert report.violations == 1 and report.written >= 2  # the task and the bounce
        assert [t["Subject"] for t in sf.records("Task")] == ["Handoff blocked: Grace Hopper"]
        assert next(r for r in sf.records("Lead") if r["Id"] == lead)["Status"] == "Data Remediation"
    finally:
        runtime.close()
