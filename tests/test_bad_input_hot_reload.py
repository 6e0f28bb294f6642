"""Hot reload: a saved rule file takes effect on the next cycle without a restart; a broken edit is
reported (`rules.reload_failed`, and `baton check` names the file and the key path) while the last
good rules stay in force; fixing the file brings the new rules in."""
from __future__ import annotations

import os
import re
import shutil

from structlog.testing import capture_logs

from baton.app.cli import main
from baton.app.runtime import open_runtime
from tests.conftest import ROOT

WHERE = re.compile(r"gate\[mql-entry\]\.checks\[\d+\]\.pattern: expected a regular expression")
BAD_LEAD = {"FirstName": "Grace", "LastName": "Hopper", "Company": "Cobol Systems",
            "Email": "grace@cobol", "LeadSource": "Webinar", "Consent__c": False,
            "Status": "Open - Not Contacted"}


def _save(path, text):
    """Write and move the mtime on, as an editor's save would (a same-size edit in the same
    clock tick would otherwise look unchanged)."""
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def _tasks(sf):
    return sorted(t["Subject"] for t in sf.records("Task") if "[baton:" in t["Description"])


def test_rule_edits_are_picked_up_live_and_a_broken_edit_keeps_the_last_good_rules(
        make_sandbox, demo_config, tmp_path, capsys):
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for name in ("salesforce-leads.toml", "taxonomy.toml"):  # the gates of the one tool here
        shutil.copy(ROOT / "rules" / "demo" / name, rules_dir / name)
    config = demo_config.model_copy(update={"baton": demo_config.baton.model_copy(
        update={"rules": [str(rules_dir / "*.toml")]})})
    box = make_sandbox("salesforce")
    sf = box.salesforce
    leads = [sf.create_record("Lead", {**BAD_LEAD, "LastName": name})
             for name in ("Hopper", "Lovelace", "Hamilton")]
    configured, secrets = box.configure(config, tmp_path / "state.db")
    runtime = open_runtime(configured, secrets)
    runner = runtime.runner(clock=box.clock.now)
    config_file = box.write_config(config, tmp_path / "baton.toml", tmp_path / "check.db")
    runner.run_all()
    leads_file = rules_dir / "salesforce-leads.toml"
    good = leads_file.read_text()

    # 1. A broken edit: a regex that does not compile.
    _save(leads_file, good.replace("pattern = '[^@\\s]+@[^@\\s]+\\.[^@\\s]+'", "pattern = '[^@'"))
    box.clock.advance(60)
    sf.update_record("Lead", leads[0], {"Status": "MQL"})
    box.clock.advance(30)
    with capture_logs() as logs:
        runner.run_all()
    [failed] = [e for e in logs if e["event"] == "rules.reload_failed"]
    assert any("salesforce-leads.toml" in p and WHERE.search(p) and "[^@" in p
               for p in failed["problems"]), failed
    assert failed["kept_version"] is not None
    assert _tasks(sf) == ["Handoff blocked: Grace Hopper"]  # the last good gate still ran

    assert main(["--config", str(config_file), "check"]) == 1
    out = capsys.readouterr().out
    assert "salesforce-leads.toml" in out and WHERE.search(out)

    # Reported once, not on every cycle while the file stays broken.
    with capture_logs() as logs:
        runner.run_all()
    assert "rules.reload_failed" not in [e["event"] for e in logs]

    # 2. A valid edit takes effect on the next cycle, in the same process.
    _save(leads_file, good.replace('subject = "Handoff blocked: {name}"',
                                   'subject = "Not ready for sales: {name}"'))
    box.clock.advance(60)
    sf.update_record("Lead", leads[1], {"Status": "MQL"})
    box.clock.advance(30)
    with capture_logs() as logs:
        runner.run_all()
    assert "rules.reloaded" in [e["event"] for e in logs]
    assert _tasks(sf) == ["Handoff blocked: Grace Hopper", "Not ready for sales: Grace Lovelace"]
    assert main(["--config", str(config_file), "check"]) == 0
    assert "OK:" in capsys.readouterr().out

    # 3. A file emptied to comments is a problem, not "no gates" (issue #11: handoffs would go
    # unchecked): the last good rules keep running, the reload is reported, check says so.
    _save(leads_file, "# gates moved elsewhere\n")
    box.clock.advance(60)
    sf.update_record("Lead", leads[2], {"Status": "MQL"})
    box.clock.advance(30)
    with capture_logs() as logs:
        runner.run_all()
    [failed] = [e for e in logs if e["event"] == "rules.reload_failed"]
    assert any("defines nothing" in p for p in failed["problems"]), failed
    assert len(_tasks(sf)) == 3  # the last good gate still ran
    assert runtime.rules.broken
    assert main(["--config", str(config_file), "check"]) == 1
    assert "defines nothing" in capsys.readouterr().out
