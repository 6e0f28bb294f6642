"""`baton test`: the rule tests beside the rule files, run like a policy test suite.

The demo's pass; a rule edit that changes an expected decision fails `test` and `check` and
names the example; a test file that does not validate says which file, line and what."""
from __future__ import annotations

import shutil

import pytest

from baton.app.cli import main
from tests.conftest import ROOT

DEMO_RULES = ROOT / "rules" / "demo"


@pytest.fixture
def rules_copy(tmp_path):
    """The demo rules and their tests in a folder of their own, and a config that reads them."""
    shutil.copytree(DEMO_RULES, tmp_path / "rules")
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text().replace(
        'rules = ["rules/demo/*.toml"]', 'rules = ["rules/*.toml"]'))
    return config, tmp_path / "rules"


def test_the_demo_rules_pass_their_tests(capsys):
    assert main(["test", "--config", str(ROOT / "config.toml")]) == 0
    out = capsys.readouterr().out
    assert "ok   mql-entry: lead without consent (fail on Consent__c)" in out
    assert "ok   ready-for-web: utm_campaign of another campaign (fail on Landing URL)" in out
    assert "FAIL" not in out
    assert "in 3 file(s)" in out and ": 12 as expected, 0 not" in out


def test_a_rule_edit_that_changes_a_decision_fails_and_names_the_example(rules_copy, capsys):
    config, rules = rules_copy
    leads = rules / "salesforce-leads.toml"
    # the admin drops the consent check: the lead without consent now passes
    leads.write_text("\n".join(line for line in leads.read_text().splitlines()
                               if "Consent__c" not in line) + "\n")
    assert main(["test", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "FAIL mql-entry: lead without consent (pass)" in out
    diff = out.split("\n\n")[1]
    assert diff.splitlines() == [
        f"{rules / 'tests' / 'salesforce-leads.toml'}:10: example 'lead without consent' (gate mql-entry)",
        "  - expected: fail on Consent__c", "  + actual:   pass"]
    assert ": 11 as expected, 1 not" in out

    assert main(["check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "1 problem(s):" in out
    assert ("salesforce-leads.toml:10: example 'lead without consent' (gate mql-entry): "
            "expected fail on Consent__c, got pass") in out
    assert main(["run", "--once", "--config", str(config)]) == 2  # run refuses what check rejects


def test_a_different_set_of_failing_checks_is_a_mismatch_with_the_messages(rules_copy, capsys):
    config, rules = rules_copy
    leads = rules / "salesforce-leads.toml"
    leads.write_text(leads.read_text().replace('{ field = "Title", required = true },',
                                               '{ field = "Title", min_length = 40 },'))
    assert main(["test", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    # every example with a short title now fails on Title too
    assert "FAIL mql-entry: lead without consent (fail on Consent__c, Title)" in out
    assert "  - expected: fail on Consent__c\n  + actual:   fail on Consent__c, Title" in out
    assert "      Title: " in out  # the gate's own message under the diff


@pytest.mark.parametrize(("example", "problem"), [
    ('name = "x"\ngate = "nope"\nexpect = "pass"',
     "line 1: example 'x'.gate: expected a gate the rule files define (campaign-in-salesforce, "
     "mql-entry, mql-seniority, ready-for-design, ready-for-web, utm-qa), found 'nope'"),
    ('name = "x"\ngate = "mql-entry"\nfields = { Emial = "a@b.co" }\nexpect = "pass"',
     "line 1: example 'x'.fields: expected fields of salesforce:leads (Company, Consent__c, "
     "Email, Id, LeadSource, Name, OwnerId, Status, Title, Webinar_Topic__c), found 'Emial'"),
    ('name = "x"\ngate = "mql-entry"\nexpect = "fails"',
     "line 1: example[1].expect: "),
    ('name = "x"\ngate = "mql-entry"\nexpect = "fail"\nfailing = ["Consent"]',
     "line 1: example 'x'.failing: expected fields or check ids of gate mql-entry"),
    ('name = "x"\ngate = "mql-entry"\nexpect = "pass"\nfailing = ["Email"]',
     "line 1: example 'x'.failing: expected no `failing` on an example that passes"),
    ('name = "x"\ngate = "mql-entry"', "line 1: example[1].expect: "),
])
def test_a_bad_test_file_is_a_configuration_error_naming_file_line_and_what(
        rules_copy, capsys, example, problem):
    config, rules = rules_copy
    tests = rules / "tests" / "salesforce-leads.toml"
    tests.write_text(f"# a comment first\n\n[[example]]\n{example}\n")
    assert main(["test", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{tests}: {problem.replace('line 1', 'line 3')}" in err, err
    assert main(["check", "--config", str(config)]) == 1
    assert f"{tests}: {problem.replace('line 1', 'line 3')}" in capsys.readouterr().out


def test_invalid_toml_an_orphan_file_and_no_tests_at_all(rules_copy, capsys):
    config, rules = rules_copy
    tests = rules / "tests" / "salesforce-leads.toml"
    tests.write_text('[[example]]\nname = "x\n')
    assert main(["test", "--config", str(config)]) == 2
    assert f"{tests}: line 2: expected valid TOML" in capsys.readouterr().err

    tests.unlink()
    orphan = rules / "tests" / "leads.toml"  # names no rule file: its examples would never run
    orphan.write_text('[[example]]\nname = "x"\ngate = "mql-entry"\nexpect = "pass"\n')
    assert main(["test", "--config", str(config)]) == 2
    assert f"{orphan}: (file): expected a rule file of the same name" in capsys.readouterr().err
    assert main(["check", "--config", str(config)]) == 1
    assert f"{orphan}: tests no rule file" in capsys.readouterr().out

    shutil.rmtree(rules / "tests")
    assert main(["test", "--config", str(config)]) == 1
    assert "no rule tests: put a file of [[example]] tables" in capsys.readouterr().err
    assert main(["check", "--config", str(config)]) == 0  # no tests is not a check problem


def test_the_readmes_rule_test_examples_validate_and_hold_on_the_demo_rules(tmp_path):
    import re

    from baton.rules import load_rule_set
    from baton.rules.examples import load_examples, run_examples

    rules = load_rule_set(sorted(DEMO_RULES.glob("*.toml")))
    for readme in (ROOT / "README.md", ROOT / "rules" / "README.md"):
        [block] = re.findall(r"```toml rule-test\n(.*?)```", readme.read_text(), re.DOTALL)
        path = tmp_path / "salesforce-leads.toml"
        path.write_text(block)
        [outcome] = run_examples(load_examples([path], rules))
        assert outcome.ok and outcome.actual() == "fail on Consent__c", readme


def test_toml_dates_in_an_example_are_the_iso_text_tools_give(tmp_path):
    from baton.rules import load_rule_set
    from baton.rules.examples import example_files, load_examples, run_examples

    rules_file = tmp_path / "launch.toml"
    rules_file.write_text('[[gate]]\nid = "launch"\nsource = "asana:x"\nenters = "Ready"\n'
                          'checks = [{ field = "Due date", before_field = "Launch date" }]\n')
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "launch.toml").write_text(
        '[[example]]\nname = "due before launch"\ngate = "launch"\n'
        'fields = { "Due date" = 2026-11-20, "Launch date" = 2026-11-24 }\nexpect = "pass"\n\n'
        '[[example]]\nname = "due after launch"\ngate = "launch"\n'
        'fields = { "Due date" = 2026-11-25, "Launch date" = 2026-11-24 }\nexpect = "fail"\n'
        'failing = ["Due date"]\n')
    rules = load_rule_set([rules_file])
    outcomes = run_examples(load_examples(example_files([rules_file]), rules))
    assert [(o.example.name, o.ok) for o in outcomes] == [("due before launch", True),
                                                          ("due after launch", True)]
    assert outcomes[0].example.fields["Due date"] == "2026-11-20"
