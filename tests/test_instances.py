"""Several instances on one PostgreSQL state: the sources are split fairly, a killed instance's
sources are taken over, every write is fenced by its source's lease, SLA steps are claimed once,
and the watchdog reports what nobody watches.

Against the real PostgreSQL server (conftest's `pg_server`) with 2-second leases; the kill loop
runs real `baton run` processes on the sandbox (BATON_INSTANCE_KILLS kills, default 3; 100 measured for the README).
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from baton.app.health import health
from baton.core.records import Record
from baton.store import CycleWrite, SlaTimer, StateStore, database
from baton.store.fleet import read_status
from baton.store.instances import Membership, ensure_tables, fair_assignment
from baton.store.leases import LeaseLost
from baton.store.state import ClaimLost
from tests.conftest import ROOT

KILLS = int(os.environ.get("BATON_INSTANCE_KILLS", "3"))
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SOURCES = [f"src{n}" for n in range(7)]


def _write(store, source, record_id):
    store.commit_cycle(CycleWrite(source, record_id, True, [
        Record(source, record_id, "u", "n", "MQL", None, {}, NOW)]), NOW)


def _wait(condition, seconds=20.0, what="condition"):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def url(pg_server):
    return pg_server.fresh_url()


# -- fair share -------------------------------------------------------------------------------

def test_fair_assignment_caps_each_instance_and_moves_little_when_one_joins():
    live = ["a", "b", "c"]
    sources = [f"s{n}" for n in range(100)]
    chosen = fair_assignment(sources, live)
    assert set(chosen) == set(sources)
    assert max(Counter(chosen.values()).values()) <= 34  # ceil(100 / 3)
    assert fair_assignment(list(reversed(sources)), list(reversed(live))) == chosen  # same everywhere
    joined = fair_assignment(sources, [*live, "d"])
    assert max(Counter(joined.values()).values()) <= 25
    moved = sum(chosen[s] != joined[s] for s in sources)
    assert moved < 50, moved  # mostly what the newcomer wins, not a reshuffle
    assert fair_assignment(sources, []) == {}


def test_instances_split_the_sources_take_over_a_frozen_one_and_fence_it(url):
    store = StateStore.open(url)
    members = [Membership(url, None, SOURCES, seconds=2) for _ in range(3)]
    try:
        for member in members:
            member.start()
        _wait(lambda: sorted(s for m in members for s in m.held()) == SOURCES
              and all(len(m.held()) <= 3 for m in members), what="a fair split of 7 over 3")
        assert all(len(m.held()) >= 2 for m in members)
        a, b, c = members
        source = c.held()[0]
        epoch_of_c = c._held[source]
        store.fence = c
        with c.acting(source):
            _write(store, source, "before")  # fenced by c's lease of that source: allowed
        # c freezes (its renewals and heartbeat stop, as under SIGSTOP)
        c._stop.set()
        c._thread.join()
        frozen = time.monotonic()
        _wait(lambda: sorted(a.held() + b.held()) == SOURCES, what="a and b take c's sources")
        assert time.monotonic() - frozen < 2 * 2 + 2  # one lease period, a tick, a margin
        assert max(len(a.held()), len(b.held())) == 4  # ceil(7 / 2)
        with pytest.raises(LeaseLost, match=f"source {source}: this instance lost its lease"):
            with c.acting(source):
                _write(store, source, "after")  # c wakes up and tries: refused
        taker = a if source in a.held() else b
        store.fence = taker
        with taker.acting(source):
            _write(store, source, "taker")
        assert {r.record_id for r in store.stored_records(source)} == {"before", "taker"}
        status = read_status(a.engine)
        assert {i["id"] for i in status["instances"] if i["live"]} == {a.id, b.id}
        epochs = {lease["source"]: lease["epoch"] for lease in status["leases"]}
        assert epochs[source] == epoch_of_c + 1  # the takeover raised the epoch
    finally:
        for member in members:
            member.stop()
        store.engine.dispose()


def test_a_joining_instance_gets_its_share_from_the_others(url):
    first = Membership(url, None, SOURCES, seconds=2)
    second = Membership(url, None, SOURCES, seconds=2)
    try:
        first.start()
        assert first.held() == SOURCES  # alone: everything
        second.start()
        _wait(lambda: len(second.held()) >= 3 and len(first.held()) <= 4
              and sorted(first.held() + second.held()) == SOURCES, what="the newcomer's share")
        assert {len(first.held()), len(second.held())} == {3, 4}
        second.stop()
        _wait(lambda: first.held() == SOURCES, what="first alone holds everything again")
        # a source to hand over while its cycle runs is kept until the cycle ends; if it is
        # this instance's own again by then (the newcomer left), it simply stays
        first._stop.set()  # its ticks from here on are this test's own
        first._thread.join()
        busy = SOURCES[0]
        epoch = first._held[busy]
        with first.acting(busy):
            first._release_when_idle(busy)
            assert not first.holds(busy) and busy in first.held()  # no new cycle, not released
            first.tick()
        assert first.holds(busy) and first._held[busy] == epoch
    finally:
        second.stop()
        first.stop()


def test_a_run_once_beside_a_daemon_is_refused_for_the_sources_the_daemon_holds(url):
    daemon = Membership(url, None, SOURCES[:2], seconds=2)
    once = Membership(url, None, SOURCES[:2], seconds=2, fair=False)
    try:
        daemon.start()
        with pytest.raises(Exception, match="is held by another Baton"):
            once.acquire_all(wait=False)
    finally:
        daemon.stop()


def test_status_shows_who_holds_what_on_postgresql_and_the_lock_on_sqlite(url, demo_config,
                                                                        tmp_path):
    from baton.app.commands.status import _postgresql, _sqlite, render

    config = demo_config.model_copy(update={"baton": demo_config.baton.model_copy(
        update={"state": url})})
    ids = [s.id for s in config.source]
    member = Membership(url, None, ids, seconds=2)
    try:
        member.start()
        member.succeeded(ids[0])
        status = _postgresql(config)
        assert [i["id"] for i in status["instances"]] == [member.id]
        assert status["instances"][0]["holds"] == sorted(ids)
        by_source = {s["source"]: s for s in status["sources"]}
        assert by_source[ids[0]]["last_success_age_s"] is not None
        assert by_source[ids[1]]["last_success"] is None
        assert all(s["holder"] == member.id and s["epoch"] == 1 for s in status["sources"])
        text_out = render(status)
        assert f"holds {', '.join(sorted(ids))}" in text_out and "last success never" in text_out
    finally:
        member.stop()
    status = _postgresql(config)
    assert status["instances"] == [] and "UNHELD" in render(status)
    sqlite = demo_config.model_copy(update={"baton": demo_config.baton.model_copy(
        update={"state": str(tmp_path / "state.db")})})
    store = StateStore.open(tmp_path / "state.db")
    _write(store, ids[0], "r1")
    store.engine.dispose()
    status = _sqlite(sqlite)
    assert status["lock_holder"] is None
    assert {s["source"] for s in status["sources"] if s["last_success"]} == {ids[0]}
    assert "lock: free" in render(status)


def test_an_unreachable_database_at_start_is_one_clear_error():
    from baton.core.errors import StateFileError

    member = Membership("postgresql://postgres@127.0.0.1:1/nowhere", None, ["a"], seconds=2)
    with pytest.raises(StateFileError, match="cannot use the PostgreSQL database"):
        member.start()


# -- SLA claims ---------------------------------------------------------------------------------

def test_an_sla_step_another_writer_advanced_is_refused_whole(state_location):
    """Two cycles read the same timer; the first commits step 1; the second's commit (stale
    claim) is refused as a whole, so its escalation is never planned twice."""
    store = StateStore.open(state_location)
    timer = SlaTimer("t1", "sf", "L1", "speed", "k1", NOW, NOW + timedelta(minutes=5))
    store.commit_cycle(CycleWrite("sf", "c0", True, timers=[timer]), NOW)
    read = {t.key: t.steps_fired for t in store.open_timers("sf")}
    fired = replace(timer, steps_fired=1)
    store.commit_cycle(CycleWrite("sf", "c1", True, timers=[fired], timer_claims=read), NOW)
    with pytest.raises(ClaimLost, match="advanced by another writer"):
        store.commit_cycle(CycleWrite("sf", "c2", True, timers=[fired], timer_claims=read), NOW)
    assert store.source_state("sf").cursor == "c1"  # the refused commit left nothing
    assert [t.steps_fired for t in store.timers("sf")] == [1]
    store.engine.dispose()


# -- the watchdog -------------------------------------------------------------------------------

def test_the_watchdog_reports_an_unheld_source_and_an_unescalated_timer(url):
    store = StateStore.open(url)
    # an SLA timer two minutes past its deadline that no cycle marked breached
    late = SlaTimer("t9", "src0", "L9", "speed", "k9", datetime.now(UTC) - timedelta(minutes=7),
                    datetime.now(UTC) - timedelta(minutes=2))
    store.commit_cycle(CycleWrite("src0", None, False, timers=[late]), NOW)
    member = Membership(url, None, ["src0", "orphan"], seconds=1)
    try:
        member.start()
        # "orphan" is held by a frozen holder that lets it expire: unheld after a lease period
        member.sources.remove("orphan")
        member._release_when_idle("orphan")
        _wait(lambda: {p.kind for p in member.watchdog.problems()} >= {"unheld", "sla_overdue"},
              seconds=10, what="the watchdog's report")
        problems = {p.kind: p for p in member.watchdog.problems()}
        assert problems["unheld"].subject == "orphan"
        assert problems["sla_overdue"].subject == "src0 L9 speed"

        class Stub:  # health() reads only these from a runner
            connectors: dict = {}
            health: dict = {}
            rules = type("R", (), {"broken": False, "last_error": None})()

        report = health(Stub(), datetime.now(UTC), membership=member)  # type: ignore[arg-type]
        assert report["status"] == "degraded"
        assert any("unheld: orphan" in line for line in report["instance"]["watchdog"])
    finally:
        member.stop()
        store.engine.dispose()


def test_an_instance_that_cannot_reach_the_database_stops_acting_and_comes_back(url):
    member = Membership(url, None, ["src0"], seconds=1)
    try:
        member.start()
        assert member.holds("src0")
        real = member.engine
        member.engine = database.postgresql_engine(
            "postgresql://postgres@127.0.0.1:1/nowhere")  # nothing listens on port 1
        _wait(lambda: not member.reachable, seconds=10, what="the instance to give up")
        assert not member.holds("src0")
        assert "database_unreachable" in {p.kind for p in member.watchdog.problems()}
        member.engine.dispose()
        member.engine = real
        _wait(lambda: member.reachable and member.holds("src0"), seconds=10,
              what="the instance to come back")
        assert "database_unreachable" not in {p.kind for p in member.watchdog.problems()}
    finally:
        member.stop()


# -- SIGSTOP / SIGCONT, per source ----------------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys, time
    from datetime import UTC, datetime
    from baton.core.records import Record
    from baton.store import CycleWrite, StateStore
    from baton.store.instances import Membership

    url = sys.argv[1]
    member = Membership(url, None, ["sf", "asana"], seconds=2)
    member.start()
    store = StateStore.open(url)
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    for n in range(100000):
        try:
            with member.acting("sf"):
                epoch = member._held.get("sf")
                time.sleep(0.2)  # the cycle reads the tool: a SIGSTOP lands here, mostly
                store.commit_cycle(CycleWrite("sf", f"a{n}", True, [
                    Record("sf", f"a{n}", f"epoch {epoch}", "n", "MQL", None, {}, now)]), now)
            print("wrote", n, "epoch", epoch, flush=True)
        except Exception as error:
            print("refused", type(error).__name__, flush=True)
        time.sleep(0.1)
""")


def test_a_stopped_instance_that_wakes_up_writes_nothing_for_a_source_it_lost(url, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    out = (tmp_path / "child.out").open("w")
    child = subprocess.Popen([sys.executable, str(script), url], stdout=out,
                             stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ})
    store = StateStore.open(url)
    taker = Membership(url, None, ["sf", "asana"], seconds=2)
    try:
        _wait(lambda: child.poll() is None and store.count("records") >= 3, seconds=30,
              what="the child's first writes")
        child.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        taker.start()
        _wait(lambda: taker.held() == ["asana", "sf"], seconds=15, what="the takeover")
        takeover = time.monotonic() - stopped
        store.fence = taker
        with store.engine.connect() as c:
            before = set(c.execute(text("select record_id from records")).scalars())
        lost_epoch = taker._held["sf"] - 1  # the child's
        with taker.acting("sf"):
            _write(store, "sf", "taker")
        child.send_signal(signal.SIGCONT)
        time.sleep(3.0)  # the child wakes in the middle of a cycle, then loops on
        with store.engine.connect() as c:
            after = dict(c.execute(text("select record_id, url from records")).all())
        # nothing under the epoch it lost; if it rejoined and was given the source again, only
        # under a newer epoch than the taker's
        stale = {r: u for r, u in after.items() if r not in before | {"taker"}
                 and int(u.split()[-1]) <= lost_epoch + 1}
        assert not stale, f"the woken instance wrote {stale} under a lost lease"
        assert "taker" in after
        assert takeover < 2 * 2 + 2
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGCONT)
            child.kill()
        child.wait()
        out.close()
        taker.stop()
        store.engine.dispose()
    printed = (tmp_path / "child.out").read_text()
    assert "refused LeaseLost" in printed, printed


# -- real daemons on the sandbox, killed -----------------------------------------------------------

SLA_RULES = """
[[sla]]
id = "speed-to-lead"
source = "salesforce:leads"
starts = "MQL"
after_gate = "mql-entry"
reach = ["Working - Contacted"]
within = "3s"
escalate = [
  { after = "3s", task = { subject = "SLA breach: {name}", owner = "user:maya.chen@acme-demo.example" } },
  { after = "6s", task = { subject = "Still waiting: {name}", owner = "user:maya.chen@acme-demo.example" } },
]
"""
GOOD_LEAD = {"Company": "Acme", "Title": "CMO", "LeadSource": "Demo Request", "Consent__c": True,
             "Status": "Open - Not Contacted"}


class Fleet:
    """`baton run` processes on one config: started, SIGKILLed, listed by the leases they hold."""

    def __init__(self, config: Path, logs: Path) -> None:
        self.config, self.logs = config, logs
        self.processes: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def start(self, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        self.started += 1
        log = (self.logs / f"{self.started:04d}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "baton.app.cli", "--config", str(self.config), "run"],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "BATON_LEASE_SECONDS": "2", **(env or {})})
        log.close()
        self.processes.append(process)
        return process

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.processes if p.poll() is None]

    def stop_all(self) -> None:
        for process in self.alive():
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _holders(store: StateStore) -> dict[str, str]:
    with store.engine.connect() as c:
        return dict(c.execute(text(
            "SELECT substr(name, 8), holder FROM baton_leases WHERE name LIKE 'source:%' "
            "AND expires_at > now()")).all())


def _joined(store: StateStore, fleet: Fleet) -> list[int]:
    with store.engine.connect() as c:
        live = {int(pid) for pid in c.execute(text(
            "SELECT pid FROM baton_instances WHERE expires_at > now()")).scalars()}
    return [p.pid for p in fleet.alive() if p.pid in live]


def _topped_up(store: StateStore, fleet: Fleet) -> bool:
    """At least two instances alive (a replacement may die at its crash point), two joined."""
    while len(fleet.alive()) < 2:
        fleet.start()
    return len(_joined(store, fleet)) >= 2


def _taken_over(store: StateStore, pid: int, sources: set[str]) -> bool:
    holders = _holders(store)
    return all(s in holders and f":{pid}:" not in holders[s] for s in sources)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals")
def test_instances_split_the_sandbox_sources_and_every_kill_loses_and_duplicates_nothing(
        pg_server, tmp_path, capsys):
    from baton.core.config import load_config
    from baton.core.faults import POINTS
    from baton.sandbox.environment import Sandbox, SandboxClock
    from scripts.soak import ASANA, GATE_FILES, SF, SHEETS, SoakResult, Team, verify

    url = pg_server.fresh_url()
    rng = random.Random(int(os.environ.get("BATON_INSTANCE_SEED", "12")))
    box = Sandbox(tmp_path / "sandbox", clock=SandboxClock(frozen=False)).start()
    fleet = None
    try:
        rules = tmp_path / "rules"
        rules.mkdir()
        for name in GATE_FILES:
            (rules / name).write_text((ROOT / "rules" / "demo" / name).read_text())
        (rules / "sla.toml").write_text(SLA_RULES)
        demo = load_config(ROOT / "config.toml")
        config = demo.model_copy(update={
            "baton": demo.baton.model_copy(update={"rules": sorted(str(f) for f in rules.glob("*.toml")),
                                                   "log_format": "json", "interval_seconds": 1}),
            "source": [s.model_copy(update={"interval_seconds": 1}) for s in demo.source
                       if s.id in (SF, ASANA, SHEETS)]})  # one each (no lookup source)
        config_file = box.write_config(config, tmp_path / "baton.toml", url)  # type: ignore[arg-type]
        logs = tmp_path / "logs"
        logs.mkdir()
        team = Team(box, url, rng)  # type: ignore[arg-type]
        team.prepare()
        good = [box.salesforce.create_record("Lead", {
            **GOOD_LEAD, "FirstName": f"Quick{n}", "LastName": f"Lead{n}",
            "Email": f"quick{n}@example.com"}) for n in range(6)]
        store = StateStore.open(url)
        ensure_tables(store.engine)
        fleet = Fleet(config_file, logs)
        for _ in range(3):
            fleet.start()
        _wait(lambda: len(set(_holders(store).values())) == 3 and len(_holders(store)) == 3,
              seconds=60, what="three instances holding one source each")
        _wait(lambda: all(store.source_state(s).has_baseline for s in (SF, ASANA, SHEETS)),
              seconds=60, what="the baselines")
        time.sleep(1.1)
        t0 = datetime.now(UTC).replace(microsecond=0)
        for lead in good:  # they pass the MQL gate and start the 3-second SLA
            box.salesforce.update_record("Lead", lead, {"Status": "MQL"})
        takeovers: list[float] = []
        kinds: Counter[str] = Counter()
        for kill in range(KILLS):
            team.act()
            # a takeover needs another instance that has joined (not one still importing)
            _wait(lambda: _topped_up(store, fleet), seconds=60, what="two joined instances")
            holders = _holders(store)
            victims = [p for p in fleet.alive() if any(f":{p.pid}:" in h for h in holders.values())]
            victim = rng.choice(victims or fleet.alive())
            lost = {s for s, h in holders.items() if f":{victim.pid}:" in h}
            time.sleep(rng.uniform(0.0, 1.5))  # mid-cycle, mid-write-back, or between cycles
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed = time.monotonic()
            kinds["outside"] += 1
            alone = False  # the other instance died at its crash point meanwhile
            while not _taken_over(store, victim.pid, lost):
                if not _joined(store, fleet):
                    alone = True
                    while len(fleet.alive()) < 2:
                        fleet.start()
                assert time.monotonic() - killed < 90, "the victim's sources were not taken over"
                time.sleep(0.05)
            if alone:
                kinds["no other instance"] += 1  # taken by a new process: its start, not timed
            else:
                takeovers.append(time.monotonic() - killed)
            # the replacement sometimes dies at a named point of its first cycles
            point = rng.choice(POINTS) if kill % 2 else None
            fleet.start({"BATON_CRASH_AT": point, "BATON_CRASH_SKIP": str(rng.choice((0, 1, 3)))}
                        if point else None)
            if point:
                kinds[f"point:{point}"] += 1
        time.sleep(6)  # the team stops; every SLA step is due; Baton finishes what kills left
        fleet.stop_all()
        fleet = None
        for _ in range(3):  # (a process killed last may leave its leases for a period)
            once = subprocess.run([sys.executable, "-m", "baton.app.cli", "--config",
                                   str(config_file), "run", "--once", "--wait-for-lock"],
                                  cwd=ROOT, env={**os.environ, "BATON_LEASE_SECONDS": "2"},
                                  capture_output=True, text=True)
            assert once.returncode == 0, once.stderr[-2000:]
        result = SoakResult()
        verify(box, url, t0, team.sheet_moves, result)  # type: ignore[arg-type]
        assert result.problems == [], result.problems[:10]
        breach = Counter(t["Subject"] for t in box.salesforce.records("Task")
                         if t["Subject"].startswith(("SLA breach:", "Still waiting:")))
        with capsys.disabled():
            print(f"\n{KILLS} kills ({dict(kinds)}): takeover median "
                  f"{sorted(takeovers)[len(takeovers) // 2]:.1f} s, max {max(takeovers):.1f} s; "
                  f"checked {result.checks}; SLA tasks {sum(breach.values())}")
        names = [f"Quick{n} Lead{n}" for n in range(6)]
        for name in names:  # each step fired exactly once for each lead
            assert breach[f"SLA breach: {name}"] == 1, breach
            assert breach[f"Still waiting: {name}"] == 1, breach
        assert max(takeovers) < 2 * 2 + 2  # under two lease periods, and a margin for the load
        store.engine.dispose()
    finally:
        if fleet is not None:
            fleet.stop_all()
        box.stop()
