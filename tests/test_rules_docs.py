"""rules/README.md is tested: its TOML examples load together, and it names every check kind."""
from __future__ import annotations

import re
from pathlib import Path

from baton.rules import load_rule_set
from baton.rules.schema import KIND_KEYS

README = Path(__file__).parent.parent / "rules" / "README.md"


def test_readme_examples_load_together(tmp_path):
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 2
    paths = []
    for index, block in enumerate(blocks):
        path = tmp_path / f"example{index}.toml"
        path.write_text(block, encoding="utf-8")
        paths.append(path)
    rule_set = load_rule_set(paths)
    kinds = {type(check).kind for check in rule_set.gate("every-kind").checks}
    assert kinds == {"required", "pattern", "allowed", "length", "is_true", "date_order",
                     "naming", "utm", "expr"}


def test_readme_mentions_every_check_key():
    text = README.read_text(encoding="utf-8")
    assert all(f"{key} =" in text for key in KIND_KEYS)
