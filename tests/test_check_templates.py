"""`check` (and so `run` and reload) refuses a template variable that cannot resolve where it
can know (a Salesforce source's fetched fields), and an absurd duration, with a clear problem."""
from __future__ import annotations

from pathlib import Path

import pytest

from baton.app.check import check
from baton.core.config import load_config
from baton.rules import RuleFileError, load_rule_set

SOURCE = ('[[source]]\nid = "salesforce:leads"\ntool = "salesforce"\n'
          'fields = ["Title"]\nworkflow = ["Open", "MQL", "Working"]\n')


def _config(tmp_path: Path, rules: str) -> Path:
    (tmp_path / "rules.toml").write_text(rules)
    config = tmp_path / "config.toml"
    config.write_text(f'[baton]\nrules = ["{tmp_path / "rules.toml"}"]\n' + SOURCE)
    return config


GATE = '''
[[gate]]
id = "mql-entry"
source = "salesforce:leads"
enters = "MQL"
checks = [{ field = "Title", required = true }]
on_fail = { task = { subject = "Handoff blocked: {nmae}", body = "{name} needs a {Title} ({url})" } }
'''


def test_a_placeholder_typo_is_refused_where_the_fields_are_known(tmp_path: Path) -> None:
    problems = check(load_config(_config(tmp_path, GATE))).problems
    assert problems == ["gate mql-entry: on_fail.task.subject uses {nmae}, which is neither a "
                        "Baton placeholder nor a field salesforce:leads fetches"]


def test_fetched_fields_and_baton_placeholders_pass(tmp_path: Path) -> None:
    fixed = GATE.replace("{nmae}", "{name}")
    assert check(load_config(_config(tmp_path, fixed))).problems == []


@pytest.mark.parametrize("within, message", [
    ("400d", "expected a duration of at most 366 days, found '400d'"),
    ("99999999999d", "expected a duration of at most 999999 of a unit, found '99999999999d'"),
])
def test_an_absurd_duration_is_a_problem_not_an_overflow(tmp_path: Path, within: str,
                                                          message: str) -> None:
    path = tmp_path / "sla.toml"
    path.write_text('[[sla]]\nid = "s"\nsource = "salesforce:leads"\nstarts = "MQL"\n'
                    f'reach = ["Working"]\nwithin = "{within}"\n'
                    'escalate = [{ after = "5m", comment = "late" }]\n')
    with pytest.raises(RuleFileError) as raised:
        load_rule_set([path])
    assert f"sla[s].within: {message}" in str(raised.value)
