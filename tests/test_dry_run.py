"""`baton run --once --dry-run` on a fresh state reads the tools: it must reach them and
authenticate, says what baseline it would take, what the gates would do now, and writes nothing."""
from __future__ import annotations

import re

from baton.app.cli import main
from tests.test_doctor import _writes


def test_a_fresh_dry_run_reads_the_tools_and_reports_the_baseline_it_would_take(
        make_sandbox, demo_config, tmp_path, capsys):
    box = make_sandbox()
    config = box.write_config(demo_config, tmp_path / "baton.toml", tmp_path / "state.db")
    leads = len(box.salesforce.records("Lead"))
    box.reset_calls()
    assert main(["run", "--once", "--dry-run", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert (f"salesforce:leads: no baseline yet: a first run would take a baseline of {leads} "
            "record(s) and write nothing") in out
    assert re.search(r"asana:content-calendar: no baseline yet: .* baseline of [1-9]\d* record", out)
    assert re.search(r"sheets:utm-tracker: no baseline yet: .* baseline of [1-9]\d* record", out)
    # the seed's incomplete MQLs (no title, no consent, ...) are what mql-entry would catch now
    found = re.search(r"gate mql-entry: (\d+) of (\d+) record\(s\) now in 'MQL' would fail it", out)
    assert found and 0 < int(found[1]) <= int(found[2])
    assert "Title is missing" in out
    assert all(calls > 0 for calls in box.calls().values())  # every tool was read
    assert _writes(box) == []
    assert not (tmp_path / "state.db").exists()  # nor a state file
    assert main(["run", "--once", "--config", str(config)]) == 0  # the real baseline: still 0 writes
    assert _writes(box) == []


def test_a_dry_run_with_wrong_credentials_is_an_auth_error(make_sandbox, demo_config, tmp_path,
                                                           capsys):
    box = make_sandbox("salesforce")
    config = box.write_config(demo_config, tmp_path / "baton.toml", tmp_path / "state.db")
    secrets = config.with_suffix(".secrets")
    secrets.write_text(re.sub(r"SALESFORCE_CLIENT_SECRET=.*", "SALESFORCE_CLIENT_SECRET=wrong",
                              secrets.read_text()))
    assert main(["run", "--once", "--dry-run", "--config", str(config)]) == 1
    captured = capsys.readouterr()
    assert "action(s) planned" not in captured.out and "baseline of" not in captured.out
    assert "dry run: salesforce:leads: AuthError:" in captured.err
    assert "`baton doctor` shows what to fix" in captured.err
