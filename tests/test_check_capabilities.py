"""`baton check` (and so `run` and hot reload) refuses a rule asking a tool for a write-back it
cannot carry out: the connectors declare what they can do (connectors/capabilities.py)."""
from __future__ import annotations

from pathlib import Path

from baton.app.check import check
from baton.core.config import load_config


def _config(tmp_path: Path, gates: str) -> Path:
    rules = tmp_path / "rules.toml"
    rules.write_text(gates)
    config = tmp_path / "config.toml"
    config.write_text(f'[baton]\nrules = ["{rules}"]\n'
                      '[[source]]\nid = "sheets:utm"\ntool = "sheets"\nspreadsheet_id = "s"\n'
                      'tab = "UTM"\nkey_column = "Campaign"\nstatus_column = "Status"\n'
                      'workflow = ["Draft", "Ready for QA"]\n'
                      '[[source]]\nid = "asana:content"\ntool = "asana"\nproject = "1"\n'
                      'workflow = ["Drafting", "Ready for Design"]\n')
    return config


def test_a_task_on_a_sheet_and_a_queue_in_asana_are_refused(tmp_path: Path) -> None:
    config = _config(tmp_path, '''
[[gate]]
id = "utm-qa"
source = "sheets:utm"
enters = "Ready for QA"
checks = [{ field = "Landing URL", required = true }]
on_fail = { task = { subject = "Fix {name}" } }

[[gate]]
id = "design"
source = "asana:content"
enters = "Ready for Design"
checks = [{ field = "Visual brief", required = true }]
on_fail = { task = { subject = "Brief for {name}", owner = "queue:Design Desk" } }
''')
    problems = check(load_config(config)).problems
    assert "gate utm-qa: sheets cannot open tasks" in problems
    assert any(p.startswith("gate design: asana cannot give work to queue:Design Desk")
               for p in problems), problems


def test_what_a_tool_can_do_passes(tmp_path: Path) -> None:
    config = _config(tmp_path, '''
[[gate]]
id = "utm-qa"
source = "sheets:utm"
enters = "Ready for QA"
checks = [{ field = "Landing URL", required = true }]
on_fail = { comment = "Add the landing URL", move_to = "Draft" }

[[gate]]
id = "design"
source = "asana:content"
enters = "Ready for Design"
checks = [{ field = "Visual brief", required = true }]
on_fail = { task = { subject = "Brief for {name}", owner = "owner" }, move_to = "Drafting" }
''')
    assert check(load_config(config)).problems == []
