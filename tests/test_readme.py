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


def test_the_first_screen_links_the_setup_guides_and_they_exist():
    first_screen = README.split("---")[0]
    for guide in ("docs/going-live.md", "docs/salesforce.md", "docs/asana.md", "docs/sheets.md"):
        assert f"]({guide})" in first_screen, guide
        assert (ROOT / guide).is_file(), guide


def test_the_guides_name_only_real_commands_and_exit_codes():
    from baton.app import exit_codes

    commands = set(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001
    codes = {v for k, v in vars(exit_codes).items() if k.isupper() and isinstance(v, int)}
    for guide in (ROOT / "docs").glob("*.md"):
        text = guide.read_text(encoding="utf-8")
        for name in re.findall(r"`baton ([a-z-]+)", text):
            assert name in commands, (guide.name, name)
        if "## Exit codes" in text:
            table = text.split("## Exit codes")[1].split("##")[0]
            assert {int(c) for c in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)} == codes
    going_live = (ROOT / "docs" / "going-live.md").read_text(encoding="utf-8")
    steps = re.findall(r"^\| \d \| `baton ([a-z -]+?)(?: --since 90d)?` \|", going_live, re.MULTILINE)
    assert steps == ["check", "doctor", "run --dry-run", "run --once", "backfill",
                     "run --dry-run", "run"]
    for key in ("mql", "accepted", "rejected", "sql", "opportunity", "due_field", "target"):
        assert f"\n{key} = " in going_live, key
