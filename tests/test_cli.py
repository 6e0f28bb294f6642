"""The CLI as an admin uses it: check, report (every format), audit, map, explain, backfill,
report --to-sheet. Run in-process through `daemon.main` against the sandbox and a demo state."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from baton.app.cli import main
from baton.app.demo import run_demo
from baton.sandbox.environment import Sandbox, SandboxClock
from tests.conftest import ROOT, START


@pytest.fixture(scope="module")
def demo_state(tmp_path_factory):
    """The demo's state file, and a config that reads it."""
    root = tmp_path_factory.mktemp("demo")
    run_demo(ROOT / "config.toml", workdir=root / "work", scorecard=root / "card.html", out=lambda _: None)
    text = (ROOT / "config.toml").read_text().replace(
        'state = ".baton/state.db"', f'state = "{root / "work" / "state.db"}"').replace(
        'rules = ["rules/demo/*.toml"]', f'rules = ["{ROOT}/rules/demo/*.toml"]')
    config = root / "config.toml"
    config.write_text(text)
    return config


def test_check_passes_on_the_shipped_config_and_lists_every_problem_otherwise(tmp_path, capsys):
    assert main(["check", "--config", str(ROOT / "config.toml")]) == 0
    assert "OK: 3 source(s), 4 gate(s)" in capsys.readouterr().out

    rules = tmp_path / "rules.toml"
    rules.write_text('[[gate]]\nid = "g"\nsource = "hubspot:deals"\nenters = "Won"\n'
                     'checks = [{ field = "Amount", pattern = "([" }]\n')
    config = tmp_path / "config.toml"
    config.write_text(f'[baton]\nrules = ["{rules}"]\n')
    assert main(["check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "gate[g].checks[1].pattern" in out and str(rules) in out


def test_check_names_an_sla_status_outside_the_workflow(tmp_path, capsys):
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("taxonomy.toml", "salesforce-leads.toml"):
        (rules / name).write_text((ROOT / "rules" / "demo" / name).read_text())
    (rules / "sla.toml").write_text((ROOT / "rules" / "demo" / "sla.toml").read_text().replace(
        '"Working - Contacted"', '"Contacted"'))
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text().replace(
        'rules = ["rules/demo/*.toml"]', f'rules = ["{rules}/*.toml"]'))
    assert main(["check", "--config", str(config)]) == 1
    assert "sla speed-to-lead: status 'Contacted' is not in the workflow of salesforce:leads" in \
        capsys.readouterr().out


def test_check_names_a_field_the_salesforce_source_does_not_fetch(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text().replace('"Title", ', "").replace(
        'rules = ["rules/demo/*.toml"]', f'rules = ["{ROOT}/rules/demo/*.toml"]'))
    assert main(["check", "--config", str(config)]) == 1
    assert "gate mql-entry: reads 'Title', which salesforce:leads does not fetch" in capsys.readouterr().out


def test_check_reports_a_broken_config_with_its_key_path(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[salesforce]\napi_share_limit = 2\n[[source]]\nid = 'x'\ntool = 'jira'\n")
    result = subprocess.run([sys.executable, str(ROOT / "daemon.py"), "check", "--config", str(config)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "salesforce.api_share_limit" in result.stdout and "source[0]" in result.stdout


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "html"])
def test_report_formats(demo_state, tmp_path, capsys, fmt):
    out = tmp_path / f"report.{fmt}"
    assert main(["report", "--config", str(demo_state), "--since", "2026-11-20",
                 "--until", "2026-11-25", "--format", fmt, "--out", str(out)]) == 0
    text = out.read_text()
    if fmt == "json":
        data = json.loads(text)
        assert any(v["kpi"] == "speed_to_lead_median" and v["value"] == 7.0 for v in data["values"])
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert any(r["kpi"] == "first_pass_yield" for r in rows)
    elif fmt == "html":
        assert text.startswith("<!DOCTYPE html>") and "Handoff Health Scorecard" in text
    else:
        assert "First-pass yield" in text and "Speed-to-lead" in text


def test_audit_map_and_explain(demo_state, capsys):
    assert main(["audit", "--config", str(demo_state), "--sample", "5", "--seed", "1",
                 "--since", "3650d"]) == 0
    audit = capsys.readouterr().out
    assert "mql-entry" in audit or "ready-for-design" in audit
    assert main(["map", "--config", str(demo_state)]) == 0
    assert capsys.readouterr().out.startswith("flowchart LR")

    from baton.store import StateStore
    store = StateStore.open(demo_state.parent / "work" / "state.db")
    grace = next(r for r in store.stored_records("salesforce:leads") if r["name"] == "Grace Hopper")
    assert main(["explain", "--config", str(demo_state), grace["record_id"]]) == 0
    explained = capsys.readouterr().out
    assert "gate mql-entry FAILED" in explained and "gate mql-entry passed" in explained
    assert "write-back task [mql-entry]: done" in explained
    assert main(["explain", "--config", str(demo_state), "nope"]) == 1


def test_preview_evaluates_a_gate_on_current_records_and_replays_history(demo_state, capsys):
    assert main(["preview", "--config", str(demo_state), "mql-entry", "--since", "3650d"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Gate mql-entry (salesforce:leads, entering 'MQL')")
    assert "Replay: it would have fired" in out and "Now:" in out
    assert main(["preview", "--config", str(demo_state), "nope"]) == 1


def test_backfill_fills_history_without_writing_and_report_writes_a_raw_kpi_tab(tmp_path, demo_config, capsys):
    with Sandbox(tmp_path / "box", clock=SandboxClock(START), tools=("salesforce", "sheets")) as box:
        lead = box.org.lead_ids[0]
        box.clock.advance(60)
        box.salesforce.update_record("Lead", lead, {"Status": "Working - Contacted"})
        box.clock.advance(60)
        box.salesforce.update_record("Lead", lead, {"Status": "SQL"})
        config = box.write_config(demo_config, tmp_path / "baton.toml", tmp_path / "state.db")
        tasks_before = len(box.salesforce.records("Task"))
        assert main(["backfill", "--config", str(config), "--since", "3650d"]) == 0
        out = capsys.readouterr().out
        assert "salesforce:leads: 2 transition(s) backfilled" in out
        assert len(box.salesforce.records("Task")) == tasks_before  # no write-backs
        assert main(["backfill", "--config", str(config), "--since", "3650d"]) == 0
        assert "salesforce:leads: 0 transition(s)" in capsys.readouterr().out  # idempotent

        sheet = box.spreadsheet_id
        assert main(["report", "--config", str(config), "--since", "3650d",
                     "--to-sheet", f"{sheet}!Baton KPIs"]) == 0
        values = box.sheets.values(sheet, "Baton KPIs")
        assert values[0][0] and len(values) > 5
        assert box.sheets.formula_cells(sheet) == []
