"""`baton migrate-state`: a demo's SQLite state copied into PostgreSQL reads back the same.

Against the real PostgreSQL server (conftest's `pg_server`): every table's rows are counted on
both sides, and `baton report --format json` over the demo's window prints the same bytes.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from baton.app.cli import main
from baton.app.demo import DEMO_START, run_demo
from baton.core.errors import StateFileError
from baton.store import StateStore
from baton.store.copy import copy_state, counts
from tests.conftest import ROOT


def _config(tmp_path, name, state):
    text = (ROOT / "config.toml").read_text()
    text = re.sub(r'^state = .*$', f'state = "{state}"', text, count=1, flags=re.M)
    text = text.replace('rules = ["rules/demo/*.toml"]', f'rules = ["{ROOT}/rules/demo/*.toml"]')
    path = tmp_path / name
    path.write_text(text)
    return path


def _report(config, capsys):
    since = (DEMO_START - timedelta(days=1)).isoformat()
    until = (DEMO_START + timedelta(minutes=10)).isoformat()
    capsys.readouterr()
    assert main(["report", "--config", str(config), "--format", "json",
                 "--since", since, "--until", until]) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def demo_state(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo")
    assert run_demo(ROOT / "config.toml", workdir=workdir, out=lambda line: None) == 0
    return workdir / "state.db"


def test_migrate_state_copies_everything_and_the_report_is_identical(
        demo_state, tmp_path, pg_server, capsys):
    url = pg_server.fresh_url()
    sqlite_config = _config(tmp_path, "sqlite.toml", demo_state)
    before = counts(StateStore.open(demo_state))
    assert before["transitions"] and before["ledger"] and before["sla_timers"]
    assert before["evaluations"] and before["cursors"] and before["records"]

    assert main(["migrate-state", "--config", str(sqlite_config), "--to", url]) == 0
    printed = capsys.readouterr().out
    assert f"ledger: {before['ledger']}" in printed and "rows verified" in printed

    target = StateStore.open(url)
    assert counts(target) == before
    assert [e.key for e in target.ledger_entries()] == \
        [e.key for e in StateStore.open(demo_state).ledger_entries()]
    pg_config = _config(tmp_path, "pg.toml", url)
    on_sqlite = _report(sqlite_config, capsys)
    assert "first_pass_yield" in on_sqlite and _report(pg_config, capsys) == on_sqlite

    # a second copy into the same (now full) database is refused, the data left as it was
    assert main(["migrate-state", "--config", str(sqlite_config), "--to", url]) != 0
    assert "already holds data" in capsys.readouterr().err
    assert counts(target) == before
    target.engine.dispose()


def test_the_copied_ids_do_not_collide_with_new_rows(demo_state, pg_server):
    from baton.store import CycleWrite, Evaluation
    from datetime import UTC, datetime

    target = StateStore.open(pg_server.fresh_url())
    copy_state(StateStore.open(demo_state), target)
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    target.commit_cycle(CycleWrite("x", "c", True, evaluations=[
        Evaluation("tk-new", "x", "1", "g", "v", True, [], {})]), now)
    assert len(target.evaluations("x")) == 1
    target.engine.dispose()


def test_a_target_that_is_not_empty_is_refused(demo_state, pg_server):
    url = pg_server.fresh_url()
    copy_state(StateStore.open(demo_state), StateStore.open(url))
    with pytest.raises(StateFileError, match="already holds data"):
        copy_state(StateStore.open(demo_state), StateStore.open(url))
