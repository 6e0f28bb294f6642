"""The state store: migrations, the cycle transaction, and the ledger's exactly-once bookkeeping."""
import dataclasses
import os
import socket
import stat
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from baton.core.actions import Action, ActionKind, ActionResult
from baton.core.errors import StateFileError, StateLocked, StateNotWritable
from baton.core.records import Record, TimeSource
from baton.store import (
    CycleWrite, Evaluation, EvaluationRow, LedgerRow, SourceState, StateStore, StoredRecord,
)
from baton.store.lock import FileLock, lock_for
from baton.core.records import Transition

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(state_location):
    """Every test that takes `store` runs on SQLite and on PostgreSQL (conftest's state_location)."""
    opened = StateStore.open(state_location)
    yield opened
    opened.engine.dispose()


def record(status="MQL"):
    return Record("sf", "00Q1", "https://x/00Q1", "Ada", status, "005", {"Email": "a@b.co"}, NOW)


def transition():
    return Transition("sf", "00Q1", "Open", "MQL", NOW - timedelta(minutes=1), TimeSource.HISTORY)


def task(key="k1"):
    return Action(key, ActionKind.TASK, "sf", "00Q1", "mql-entry", subject="Handoff blocked: Ada")


def test_migrations_are_recorded_and_reopening_is_a_no_op(state_location):
    first = StateStore.open(state_location)
    with first.engine.connect() as c:
        versions = c.execute(text("select version from schema_version order by version")).scalars().all()
    assert versions == [1, 2, 3, 4, 5, 6]
    again = StateStore.open(state_location)
    assert again.migrate() == 6
    if again.engine.dialect.name == "sqlite":
        with again.engine.connect() as c:
            assert c.execute(text("pragma journal_mode")).scalar() == "wal"
            # every pooled connection's page cache is bounded (the default is 2 MiB each)
            assert c.execute(text("pragma cache_size")).scalar() == -512
    first.engine.dispose()
    again.engine.dispose()


def test_a_page_larger_than_one_insert_batch_is_stored_whole(store):
    """Records are upserted a batch at a time; every one lands, each with its own status_since
    where the write gives one (odd ids) and the stored one kept where it does not."""
    first = [Record("sf", f"00Q{n:05d}", "u", "n", "Open", "005", {"n": n}, NOW, fingerprint="a")
             for n in range(1201)]
    store.commit_cycle(CycleWrite("sf", None, False, first,
                                  {r.id: NOW - timedelta(days=1) for r in first}), NOW)
    again = [dataclasses.replace(r, status="MQL", fingerprint="b") for r in first]
    since = {r.id: NOW - timedelta(minutes=n) for n, r in enumerate(again) if n % 2}
    store.commit_cycle(CycleWrite("sf", None, False, again, since), NOW)
    known = store.known_records("sf", [r.id for r in first])
    assert len(known) == 1201
    assert {k.status for k in known.values()} == {"MQL"}
    assert {k.fingerprint for k in known.values()} == {"b"}
    assert known["00Q00007"].status_since == NOW - timedelta(minutes=7)
    assert known["00Q01200"].status_since == NOW - timedelta(days=1)


def test_a_cycle_write_is_idempotent(store):
    t = transition()
    write = CycleWrite("sf", "c1", True, [record()], {"00Q1": t.at}, [t],
                       opened=[("00Q1", "mql-entry", t.key)], actions=[(task(), t.key)])
    store.commit_cycle(write, NOW)
    store.commit_cycle(write, NOW + timedelta(seconds=5))  # a replay after a crash
    assert store.count("transitions") == 1
    assert store.count("ledger") == 1
    assert store.count("violations") == 1
    assert store.source_state("sf").cursor == "c1"
    assert store.known_records("sf", ["00Q1"])["00Q1"].status_since == t.at


def test_cursor_stays_when_the_poll_was_incomplete(store):
    store.commit_cycle(CycleWrite("sf", "c1", True, baseline=True), NOW)
    store.commit_cycle(CycleWrite("sf", "c2", advance_cursor=False), NOW)
    assert store.source_state("sf").cursor == "c1"


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
    states = {e.key: (e.state, e.remote_id) for e in store.ledger_entries()}
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


# -- typed rows ----------------------------------------------------------------------------------

def test_reads_return_typed_rows_with_the_json_decoded(store):
    t = transition()
    write = CycleWrite("sf", "c1", True, [record()], {"00Q1": t.at}, [t],
                       evaluations=[Evaluation(t.key, "sf", "00Q1", "mql-entry", "v1", False,
                                               [{"check": "required", "message": "Add it"}],
                                               {"Email": "a@b.co"})],
                       actions=[(task(), t.key)])
    store.commit_cycle(write, NOW)
    state = store.source_state("sf")
    assert (state.cursor, state.baseline_at, state.paused_until) == ("c1", NOW, None)
    assert store.source_state("other") == SourceState() and not SourceState().has_baseline
    [stored] = store.stored_records("sf")
    assert isinstance(stored, StoredRecord) and stored.fields == {"Email": "a@b.co"}
    assert stored.as_record() == store.records_by_id("sf", ["00Q1"])["00Q1"]
    assert stored.as_record().modified_at == t.at  # the time it entered its status
    assert store.find_records("00Q1") == [stored]
    [evaluation] = store.evaluations("sf", "00Q1")
    assert isinstance(evaluation, EvaluationRow) and not evaluation.passed
    assert evaluation.failures == ({"check": "required", "message": "Add it"},)
    assert evaluation.values == {"Email": "a@b.co"} and evaluation.evaluated_at == NOW
    [entry] = store.ledger_entries("00Q1")
    assert isinstance(entry, LedgerRow) and (entry.kind, entry.state, entry.attempts) == ("task", "pending", 0)
    assert entry.action == task() and entry.transition_key == t.key


# -- the state file, checked at open ---------------------------------------------------------------

def _filled(path):
    store = StateStore.open(path)
    store.commit_cycle(CycleWrite("sf", "c1", True, [
        Record("sf", f"00Q{n}", "u", "x" * 200, "MQL", None, {"n": n}, NOW) for n in range(500)]), NOW)
    store.engine.dispose()  # checkpoints the journal into the file
    return path


@pytest.mark.parametrize(("content", "fragment"), [
    (b"", "is empty (0 bytes)"),
    (b"name,status\n00Q1,MQL\n" * 50, "is not a SQLite database"),
    ("half", "is truncated"),
    ("scribbled", "fails SQLite's quick_check"),
], ids=["zero-length", "garbage", "truncated", "corrupt page"])
def test_a_state_file_that_cannot_be_used_is_refused_with_one_line(tmp_path, content, fragment):
    path = tmp_path / "state.db"
    if content == "half":
        data = _filled(path).read_bytes()
        path.write_bytes(data[: len(data) // 2 + 100])
    elif content == "scribbled":
        data = bytearray(_filled(path).read_bytes())
        middle = len(data) // 4096 // 2 * 4096
        data[middle + 1] ^= 0xFF  # where that page's first free block starts: SQLite notices
        path.write_bytes(bytes(data))
    else:
        path.write_bytes(content)
    with pytest.raises(StateFileError) as refused:
        StateStore.open(path)
    message = str(refused.value)
    assert fragment in message and str(path) in message and "\n" not in message
    assert "baton reset-state" in message and "backup" in message


def test_a_damaged_file_is_not_replaced_by_a_new_baseline(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"")
    with pytest.raises(StateFileError):
        StateStore.open(path)
    assert path.read_bytes() == b""  # left as it was, for a person to look at


def test_a_state_from_a_newer_baton_is_refused(state_location):
    store = StateStore.open(state_location)
    with store.engine.begin() as c:
        c.execute(text("insert into schema_version (version, name, applied_at) "
                       "values (99, 'the future', '2030-01-01 00:00:00')"))
    store.engine.dispose()
    with pytest.raises(StateFileError, match="written by a newer Baton .schema version 99; this "
                                             "build knows up to 6."):
        StateStore.open(state_location)


def test_a_journal_without_its_state_file_is_refused(tmp_path):
    (tmp_path / "state.db-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\x00" * 28)
    with pytest.raises(StateFileError, match="state.db-wal is still there"):
        StateStore.open(tmp_path / "state.db")


def test_a_read_only_state_file_or_folder_is_a_clear_error(tmp_path):
    path = tmp_path / "state.db"
    StateStore.open(path).engine.dispose()
    path.chmod(0o400)
    with pytest.raises(StateNotWritable, match=r"state file .*state.db is read-only \(mode 0400\)"):
        StateStore.open(path)
    path.chmod(0o600)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(StateNotWritable, match=r"the folder .*ro of the state file state.db is read-only"):
            StateStore.open(folder / "state.db")
    finally:
        folder.chmod(0o700)


def test_a_new_state_file_and_its_journal_are_private(tmp_path):
    path = tmp_path / "state.db"
    store = StateStore.open(path)
    store.commit_cycle(CycleWrite("sf", "c1", True, [record()]), NOW)
    with store.engine.connect():  # the journal exists while a connection is open
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"state.db": 0o600, "state.db-wal": 0o600, "state.db-shm": 0o600}
    store.engine.dispose()


# -- one writer per state -------------------------------------------------------------------------

def test_a_second_writer_is_refused_with_the_holder_named(tmp_path):
    first, second = FileLock(tmp_path / "state.db"), FileLock(tmp_path / "state.db")
    first.acquire()
    assert stat.S_IMODE((tmp_path / "state.db.lock").stat().st_mode) == 0o600
    with pytest.raises(StateLocked) as refused:
        second.acquire()
    holder = refused.value.holder
    assert holder.pid == os.getpid() and holder.host == socket.gethostname()
    assert f"is in use by another Baton (pid {os.getpid()} on {socket.gethostname()} since " \
        in str(refused.value)
    first.release()
    second.acquire()  # free again at once
    assert second.holder().pid == os.getpid()
    second.release()
    assert lock_for(":memory:").holder() is None  # nothing to lock in memory
