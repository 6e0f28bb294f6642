"""The PostgreSQL state's lease: one instance acts, a takeover raises the epoch, and the instance
that lost its lease writes nothing (fencing), proven with a real SIGSTOP / SIGCONT.

Against the real PostgreSQL server (conftest's `pg_server`), with a 2-second lease.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from baton.core.errors import StateLocked
from baton.core.records import Record
from baton.store import CycleWrite, StateStore
from baton.store.leases import LeaseLost, PgLease, database_now
from baton.store.lock import lock_for
from tests.conftest import ROOT

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _write(store, source, record_id):
    store.commit_cycle(CycleWrite(source, record_id, True, [
        Record(source, record_id, "u", "n", "MQL", None, {}, NOW)]), NOW)


@pytest.fixture
def url(pg_server):
    return pg_server.fresh_url()


def test_a_postgresql_state_is_locked_by_a_lease(url):
    assert isinstance(lock_for(url), PgLease)


def test_one_holder_a_takeover_raises_the_epoch_and_fences_the_old_holder(url):
    lost: list[str] = []
    first = PgLease(url, seconds=2, on_lost=lost.append)
    second = PgLease(url, seconds=2, on_lost=lost.append)
    store_a, store_b = StateStore.open(url), StateStore.open(url)
    try:
        first.acquire()
        store_a.fence = first
        _write(store_a, "sf", "a1")
        with pytest.raises(StateLocked, match="is in use by another Baton .pid "):
            second.acquire()
        assert first.renew()
        # first freezes: its renewals stop (as under SIGSTOP) and the lease runs out by the
        # database's clock
        first._stop.set()
        first._thread.join()
        started = database_now(first)
        second.acquire(wait=True)
        assert (first.epoch, second.epoch) == (1, 2)
        assert (database_now(second) - started).total_seconds() >= 1.0
        store_b.fence = second
        _write(store_b, "sf", "b1")
        with pytest.raises(LeaseLost, match="lost its lease .epoch 1."):
            _write(store_a, "sf", "a2")
        with pytest.raises(LeaseLost):
            store_a.mark_attempt(["x"])
        assert not first.renew()
        assert {r.record_id for r in store_b.stored_records("sf")} == {"a1", "b1"}
    finally:
        second.release()
        first.release()
        store_a.engine.dispose()
        store_b.engine.dispose()


def test_a_released_lease_is_taken_at_once(url):
    first, second = PgLease(url, seconds=10), PgLease(url, seconds=10)
    first.acquire()
    first.release()
    began = time.monotonic()
    second.acquire()
    assert time.monotonic() - began < 2 and second.epoch == 2
    second.release()


CHILD = textwrap.dedent("""
    import sys, time
    from datetime import UTC, datetime
    from baton.core.records import Record
    from baton.store import CycleWrite, StateStore
    from baton.store.leases import PgLease

    url = sys.argv[1]
    lease = PgLease(url, seconds=2, on_lost=lambda reason: print("lost", reason, flush=True))
    lease.acquire(wait=True)
    store = StateStore.open(url)
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    for n in range(100000):
        try:
            store.commit_cycle(CycleWrite("sf", f"a{n}", True, [
                Record("sf", f"a{n}", "u", "n", "MQL", None, {}, now)]), now)
            print("wrote", n, flush=True)
        except Exception as error:
            print("refused", type(error).__name__, flush=True)
        time.sleep(0.1)
""")


def test_a_stopped_instance_that_wakes_up_writes_nothing_for_the_state_it_lost(url, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    out = (tmp_path / "child.out").open("w")
    child = subprocess.Popen([sys.executable, str(script), url], stdout=out,
                             stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ})
    store = StateStore.open(url)
    taker = PgLease(url, seconds=2, on_lost=lambda reason: None)
    try:
        deadline = time.monotonic() + 30
        while store.count("records") < 3:
            assert time.monotonic() < deadline and child.poll() is None, \
                (tmp_path / "child.out").read_text()
            time.sleep(0.1)
        child.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        taker.acquire(wait=True)  # after the child's lease ran out (the database's clock)
        takeover = time.monotonic() - stopped
        store.fence = taker
        with store.engine.connect() as c:
            before = set(c.execute(text("select record_id from records")).scalars())
        _write(store, "sf", "taker")
        child.send_signal(signal.SIGCONT)
        time.sleep(2.0)  # the child runs ~20 more loop turns
        with store.engine.connect() as c:
            after = set(c.execute(text("select record_id from records")).scalars())
        assert after == before | {"taker"}, "the woken instance wrote after losing its lease"
        assert store.source_state("sf").cursor == "taker"
        assert takeover < 15
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGCONT)
            child.kill()
        child.wait()
        out.close()
        taker.release()
        store.engine.dispose()
    printed = (tmp_path / "child.out").read_text()
    assert "refused LeaseLost" in printed or "lost" in printed, printed
