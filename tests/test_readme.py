"""The README is tested: its rule examples load, its KPI table is the code's, every command is
documented, and the test command it gives is the one CI runs."""
import re

from baton.app.cli import build_parser
from baton.kpi import definitions_markdown
from baton.rules import load_rule_set
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_rule_examples_load(tmp_path):
    blocks = re.findall(r"```toml\n(.*?)```", README, re.DOTALL)
    rule_blocks = [b for b in blocks if "[[gate]]" in b or "[[sla]]" in b]
    assert len(rule_blocks) == 2
    for index, block in enumerate(rule_blocks):
        (tmp_path / f"readme{index}.toml").write_text(block)
    (tmp_path / "taxonomy.toml").write_text((ROOT / "rules" / "demo" / "taxonomy.toml").read_text())
    rules = load_rule_set(sorted(tmp_path.glob("*.toml")))
    assert [g.id for g in rules.gates] == ["mql-entry"]
    assert [s.id for s in rules.slas] == ["speed-to-lead"]


def test_the_kpi_table_is_generated_from_the_code():
    section = README.split("<!-- kpi-definitions:start -->")[1].split("<!-- kpi-definitions:end -->")[0]
    assert section.strip() == definitions_markdown().strip()


def test_every_command_is_documented():
    commands = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001
    for name in commands:
        assert f"`baton {name}" in README, name


def test_the_first_screen_gives_the_demo_and_the_test_command_ci_runs():
    first_block = re.search(r"```sh\n(.*?)```", README, re.DOTALL).group(1).strip().splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == [
        'pip install -e ".[dev]" && baton demo', 'pip install -e ".[dev]" && pytest']
    assert 'pip install -e ".[dev]" && pytest' in (ROOT / ".ci" / "run").read_text()
