"""`baton doctor` against the sandboxes: ✓ for the demo config, one precise ✗ for each thing a
real org gets wrong, and not one write request in the emulators' request logs."""
from __future__ import annotations

import os
import shutil
from pathlib import Path


from baton.app.check import check
from baton.app.cli import main
from baton.app.doctor import diagnose, render
from baton.connectors.retry import RetryPolicy
from baton.core.config import Config, Secrets
from baton.sandbox.sheets_seed import SERVICE_ACCOUNT_EMAIL

ROOT = Path(__file__).resolve().parent.parent
TOKEN_ROUTES = {"/services/oauth2/token", "/token"}  # logging in is not a write


def _writes(box) -> list[tuple[str, str]]:
    return [(method, path) for server in box._servers.values()
            for method, path in server.emulator.request_log
            if method != "GET" and path not in TOKEN_ROUTES]


def _doctor(box, config: Config, secrets: Secrets | None = None) -> tuple[list[str], str]:
    configured, sandbox_secrets = box.configure(config)
    rule_set = check(configured).rule_set
    assert rule_set is not None
    findings = diagnose(configured, secrets or sandbox_secrets, rule_set,
                        retry=RetryPolicy(attempts=1, sleep=lambda s: None))
    failed = [f"{f.what} | fix: {f.fix}" for items in findings.values() for f in items if not f.ok]
    assert _writes(box) == []
    return failed, render(findings, configured)


def _with_source(config: Config, source_id: str, **changes) -> Config:
    sources = [s.model_copy(update=changes) if s.id == source_id else s for s in config.source]
    return config.model_copy(update={"source": sources})


def test_the_demo_config_passes_every_check_with_zero_writes(make_sandbox, demo_config):
    box = make_sandbox()
    failed, text = _doctor(box, demo_config)
    assert failed == []
    assert "✓ field history is tracked on Lead.Status" in text
    assert "✓ queue 'Data Remediation' exists with 1 active member(s)" in text
    assert "✓ the Baton account can edit the project (editor)" in text
    assert "✓ the Drive API is enabled; the service account can edit the spreadsheet" in text
    assert "API allocation:" in text and text.endswith("all checks passed")


def test_a_misspelled_field(make_sandbox, demo_config):
    box = make_sandbox("salesforce")
    lead = demo_config.source_by_id("salesforce:leads")
    failed, _ = _doctor(box, _with_source(demo_config, lead.id, fields=[*lead.fields, "Titel"]))
    assert len(failed) == 1
    assert failed[0].startswith("Lead has no field 'Titel' (named by config.toml source "
                                "salesforce:leads) (did you mean 'Title'?)")


def test_a_status_value_that_does_not_exist(make_sandbox, demo_config):
    box = make_sandbox("salesforce")
    lead = demo_config.source_by_id("salesforce:leads")
    workflow = ["Disqualified" if s == "Unqualified" else s for s in lead.workflow]
    failed, _ = _doctor(box, _with_source(demo_config, lead.id, workflow=workflow))
    assert len(failed) == 1
    assert "status 'Disqualified' (named by config.toml workflow of salesforce:leads) is not a " \
           "value of Lead.Status (did you mean 'Unqualified'?)" in failed[0]


def test_a_missing_queue(make_sandbox, demo_config):
    box = make_sandbox("salesforce")
    box.salesforce.update_record("Group", box.org.remediation_queue_id,
                                 {"Name": "Data Fixes", "DeveloperName": "Data_Fixes"})
    failed, _ = _doctor(box, demo_config)
    assert failed == ["queue 'Data Remediation' (owner of gate mql-entry) does not exist | fix: "
                      "create the queue (Setup → Queues) or correct the name in the rule; names "
                      "are case-sensitive"]


def test_a_queue_without_active_members(make_sandbox, demo_config):
    box = make_sandbox("salesforce")
    box.salesforce.update_record("User", box.org.remediation_id, {"IsActive": False})
    failed, _ = _doctor(box, demo_config)
    assert len(failed) == 1 and failed[0].startswith("queue 'Data Remediation' has no active user")


def test_history_tracking_off(make_sandbox, demo_config):
    box = make_sandbox("salesforce")
    box.salesforce.tracked_fields["Lead"].discard("Status")
    failed, _ = _doctor(box, demo_config)
    assert len(failed) == 1
    assert failed[0].startswith("field history is not tracked on Lead.Status")
    assert "Set History Tracking → tick Status" in failed[0]


def test_feed_tracking_off(make_sandbox, demo_config):
    box = make_sandbox("salesforce")
    box.salesforce.feed_tracked.discard("Lead")
    failed, _ = _doctor(box, demo_config)
    assert len(failed) == 1
    assert failed[0].startswith("feed tracking is off for Lead: the comments of gate mql-entry")
    assert "Setup → Feed Tracking → Lead → Enable Feed Tracking" in failed[0]


def test_a_sheet_without_edit_access(make_sandbox, demo_config):
    box = make_sandbox("sheets")
    box.sheets.share_as_viewer(box.spreadsheet_id, {SERVICE_ACCOUNT_EMAIL})
    failed, _ = _doctor(box, demo_config)
    assert len(failed) == 1
    assert failed[0].startswith("the service account can read but not edit the spreadsheet")
    assert f"share the spreadsheet with {SERVICE_ACCOUNT_EMAIL} as Editor" in failed[0]


def test_a_sheet_not_shared_at_all(make_sandbox, demo_config):
    box = make_sandbox("sheets")
    box.sheets.share_only_with(box.spreadsheet_id, {"someone@else.example"})
    failed, _ = _doctor(box, demo_config)
    assert len(failed) == 1 and "cannot be read" in failed[0] and "as Editor" in failed[0]


def test_a_template_variable_typo(make_sandbox, demo_config, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules" / "demo", rules)
    leads = rules / "salesforce-leads.toml"
    leads.write_text(leads.read_text().replace('subject = "Handoff blocked: {name}"',
                                               'subject = "Handoff blocked: {nmae}"'))
    config = demo_config.model_copy(update={"baton": demo_config.baton.model_copy(
        update={"rules": [str(rules / "*.toml")]})})
    box = make_sandbox("salesforce")
    failed, _ = _doctor(box, config)
    assert len(failed) == 1
    assert failed[0].startswith("template placeholder {nmae} in gate mql-entry is not a field of "
                                "what salesforce:leads fetches (did you mean 'name'?)")


def test_an_asana_account_that_may_only_comment(make_sandbox, demo_config):
    from baton.sandbox.asana import BOT_USER_GID
    box = make_sandbox("asana")
    box.asana.projects[box.project_gid].access = {BOT_USER_GID: "commenter"}
    failed, _ = _doctor(box, demo_config)
    assert len(failed) == 1
    assert failed[0].startswith("the Baton account cannot edit the project (commenter)")


def test_wrong_credentials_are_an_auth_failure(make_sandbox, demo_config):
    box = make_sandbox("salesforce")
    wrong = Secrets(environ={**os.environ, **box.env, "SALESFORCE_CLIENT_SECRET": "wrong"})
    failed, _ = _doctor(box, demo_config, wrong)
    # one ✗ per Salesforce source (leads, and the campaigns cross-tool checks read)
    assert len(failed) == 2 and all(f.startswith("salesforce: authentication failed") for f in failed)


def test_the_command_exits_0_then_1_and_prints_the_checklist(make_sandbox, demo_config, tmp_path,
                                                            capsys):
    box = make_sandbox()
    config = box.write_config(demo_config, tmp_path / "baton.toml", tmp_path / "state.db")
    assert main(["doctor", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "salesforce:leads (salesforce)"
    assert "✗" not in out and out.rstrip().endswith("all checks passed")
    box.salesforce.feed_tracked.discard("Lead")
    assert main(["doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "  ✗ feed tracking is off for Lead" in out and "      fix: Setup → Feed Tracking" in out
    assert "1 problem(s) found" in out
    assert not (tmp_path / "state.db").exists()  # the doctor opens no state
    assert _writes(box) == []
