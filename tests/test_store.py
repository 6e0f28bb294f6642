"""The state store: migrations, the cycle transaction, and the ledger's exactly-once bookkeeping."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from baton.core.actions import Action, ActionKind, ActionResult
from baton.core.records import Record, TimeSource
from baton.store import CycleWrite, StateStore
from baton.core.records import Transition

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    return StateStore.open(tmp_path / "state.db")


def record(status="MQL"):
    return Record("sf", "00Q1", "https://x/00Q1", "Ada", status, "005", {"Email": "a@b.co"}, NOW)


def transition():
    return Transition("sf", "00Q1", "Open", "MQL", NOW - timedelta(minutes=1), TimeSource.HISTORY)


def task(key="k1"):
    return Action(key, ActionKind.TASK, "sf", "00Q1", "mql-entry", subject="Handoff blocked: Ada")


def test_migrations_are_recorded_and_reopening_is_a_no_op(tmp_path):
    first = StateStore.open(tmp_path / "s.db")
    with first.engine.connect() as c:
        versions = c.execute(text("select version from schema_version")).scalars().all()
    assert versions == [1, 2]
    again = StateStore.open(tmp_path / "s.db")
    assert again.migrate() == 2
    with again.engine.connect() as c:
        assert c.execute(text("pragma journal_mode")).scalar() == "wal"


def test_a_cycle_write_is_idempotent(store):
    t = transition()
    write = CycleWrite("sf", "c1", True, [record()], {"00Q1": t.at}, [t],
                       opened=[("00Q1", "mql-entry", t.key)], actions=[(task(), t.key)])
    store.commit_cycle(write, NOW)
    store.commit_cycle(write, NOW + timedelta(seconds=5))  # a replay after a crash
    assert store.count("transitions") == 1
    assert store.count("ledger") == 1
    assert store.count("violations") == 1
    assert store.source_state("sf")[0] == "c1"
    assert store.known_records("sf", ["00Q1"])["00Q1"].status_since == t.at


def test_cursor_stays_when_the_poll_was_incomplete(store):
    store.commit_cycle(CycleWrite("sf", "c1", True, baseline=True), NOW)
    store.commit_cycle(CycleWrite("sf", "c2", advance_cursor=False), NOW)
    assert store.source_state("sf")[0] == "c1"


def test_ledger_attempts_and_outcomes(store):
    t = transition()
    store.commit_cycle(CycleWrite("sf", "c", True, actions=[(task("a"), t.key), (task("b"), t.key),
                                                           (task("c"), t.key)]), NOW)
    assert [e.attempts for e in store.pending_actions("sf")] == [0, 0, 0]
    store.mark_attempt(["a", "b", "c"])
    store.finish_actions([ActionResult("a", True, "00T1"), ActionResult("b", False, error="boom", retryable=True),
                          ActionResult("c", False, error="INVALID_FIELD", retryable=False)], NOW)
    pending = store.pending_actions("sf")
    assert [(e.action.key, e.attempts) for e in pending] == [("b", 1)]
    states = {e["key"]: (e["state"], e["remote_id"]) for e in store.ledger_entries()}
    assert states == {"a": ("done", "00T1"), "b": ("pending", None), "c": ("failed", None)}


def test_a_retryable_failure_gives_up_after_max_attempts(store):
    t = transition()
    store.commit_cycle(CycleWrite("sf", "c", True, actions=[(task("a"), t.key)]), NOW)
    for _ in range(3):
        store.mark_attempt(["a"])
        store.finish_actions([ActionResult("a", False, error="503", retryable=True)], NOW, max_attempts=3)
    assert store.pending_actions("sf") == []


def test_open_violation_knows_what_it_wrote_and_resolves(store):
    t = transition()
    store.commit_cycle(CycleWrite("sf", "c", True, opened=[("00Q1", "mql-entry", t.key)],
                                  actions=[(task("a"), t.key)]), NOW)
    store.mark_attempt(["a"])
    store.finish_actions([ActionResult("a", True, "00T9")], NOW)
    [(key, violation)] = store.open_violations("sf", ["00Q1"]).items()
    assert key == ("00Q1", "mql-entry") and violation.written == [("a", "task", "00T9")]
    store.commit_cycle(CycleWrite("sf", "c", True, resolved=[("00Q1", "mql-entry", "later")]), NOW)
    assert store.open_violations("sf", ["00Q1"]) == {}


def test_naive_datetimes_are_refused(store):
    bad = Transition("sf", "1", None, "MQL", datetime(2026, 1, 1), TimeSource.POLL)
    with pytest.raises(Exception, match="naive datetime"):
        store.commit_cycle(CycleWrite("sf", "c", True, transitions=[bad]), NOW)
