"""Graceful stop: `baton run` (the real loop, a separate process) gets SIGTERM mid-work and exits 0
within a few seconds with `daemon.stopped`; whatever it left pending is completed, once, on restart.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.soak import BAD_LEADS, GATE_FILES, SoakResult, verify
from tests.conftest import ROOT

STOP_WITHIN = 5.0


def _config(demo_config, **baton):
    rules = [str(ROOT / "rules" / "demo" / name) for name in GATE_FILES]
    return demo_config.model_copy(update={
        "baton": demo_config.baton.model_copy(update={"rules": rules, "log_format": "json",
                                                      "interval_seconds": 1, **baton}),
        "source": [s.model_copy(update={"interval_seconds": 1}) for s in demo_config.source]})


def _events(log: Path) -> list[dict]:
    events = []
    for line in log.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            events.append({"event": "(not json)", "line": line})
    return events


def _wait_for(log: Path, predicate, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = _events(log) if log.exists() else []
        if predicate(events):
            return events
        time.sleep(0.05)
    raise AssertionError(f"timed out; log so far:\n{log.read_text()[-3000:]}")


_started: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_leftover_daemons():
    yield
    while _started:
        process = _started.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


def _start(config_file: Path, log: Path, extra_env: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(extra_env or {})}
    with log.open("a") as sink:
        process = subprocess.Popen([sys.executable, str(ROOT / "daemon.py"), "--config",
                                    str(config_file), "run"], env=env, stdout=sink, stderr=sink)
    _started.append(process)
    return process


def _stop(process: subprocess.Popen) -> float:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=30)
    elapsed = time.monotonic() - started
    assert code == 0, f"exit code {code}"
    return elapsed


def test_sigterm_mid_work_exits_cleanly_and_leaves_nothing_unwritten(make_sandbox, demo_config,
                                                                      tmp_path):
    box = make_sandbox(frozen=False)
    leads = [box.salesforce.create_record("Lead", dict(lead)) for lead in BAD_LEADS[:6]]
    state = tmp_path / "state.db"
    config_file = box.write_config(_config(demo_config), tmp_path / "baton.toml", state)
    log = tmp_path / "baton.log"
    rng = random.Random(6)

    process = _start(config_file, log)
    _wait_for(log, lambda ev: sum(e["event"] == "source.baseline" for e in ev) == 4)  # + campaigns
    time.sleep(1.1)
    t0 = box.clock.now().replace(microsecond=0)
    stops = []
    tasks = [gid for gid, t in box.asana.tasks.items() if t.name[:8] in ("CMP-1050", "CMP-1055")]
    for round_number, lead in enumerate(leads):
        # the team acts, and the stop lands at a random moment of the cycles that follow
        box.salesforce.update_record("Lead", lead, {"Status": "MQL"})
        if round_number < len(tasks):
            box.asana.move_task(tasks[round_number], "Ready for Design")
        time.sleep(rng.uniform(0.0, 1.2))
        stops.append(_stop(process))
        events = _events(log)
        assert events[-1]["event"] == "daemon.stopped", events[-3:]
        assert "daemon.stopping" in [e["event"] for e in events]
        process = _start(config_file, log)
        starts = round_number + 2
        _wait_for(log, lambda ev, n=starts: [e["event"] for e in ev].count("daemon.started") == n)
    time.sleep(3)  # the last start finishes what it found
    stops.append(_stop(process))
    assert max(stops) < STOP_WITHIN, stops

    # Whatever a stop left pending was completed by the next start, exactly once.
    result = SoakResult()
    verify(box, state, t0, [], result)
    assert result.problems == []
    tasks_written = [t for t in box.salesforce.records("Task") if "[baton:" in t["Description"]]
    assert sorted(t["WhoId"] for t in tasks_written) == sorted(leads)
    assert not [e for e in _events(log) if e.get("level") in ("error", "critical")]


def test_sigterm_during_a_retry_storm_does_not_wait_out_the_backoff(make_sandbox, demo_config,
                                                                     tmp_path):
    """A source answering 429 Retry-After: 30 must not hold a stop for half a minute."""
    box = make_sandbox("asana", frozen=False)
    config_file = box.write_config(_config(demo_config), tmp_path / "baton.toml",
                                   tmp_path / "state.db")
    log = tmp_path / "baton.log"
    process = _start(config_file, log)
    _wait_for(log, lambda ev: any(e["event"] == "source.baseline" for e in ev))
    box.asana.faults.add("get_events", times=1000, status=429, headers={"Retry-After": "30"},
                         body={"errors": [{"message": "Too many requests"}]})
    _wait_for(log, lambda ev: any(e["event"] == "api.retry_wait" for e in ev))
    assert _stop(process) < STOP_WITHIN
    events = _events(log)
    assert events[-1]["event"] == "daemon.stopped", events[-3:]


def test_sigterm_with_every_api_stalled_ends_within_the_bound(make_sandbox, demo_config, tmp_path):
    """Every tool hangs (answers never come; the default 30 s timeouts): a stop still ends well
    inside systemd's TimeoutStopSec, and the next start completes what the stop left."""
    box = make_sandbox(frozen=False)
    config_file = box.write_config(_config(demo_config), tmp_path / "baton.toml",
                                   tmp_path / "state.db")
    log = tmp_path / "baton.log"
    process = _start(config_file, log)
    _wait_for(log, lambda ev: sum(e["event"] == "source.baseline" for e in ev) == 4)  # + campaigns
    for emulator in (box.salesforce, box.asana, box.sheets):
        emulator.faults.add("*", times=1000, delay=120)
    time.sleep(2.5)  # every source is now inside a request that will not be answered
    elapsed = _stop(process)
    assert elapsed < 25, elapsed
    events = [e["event"] for e in _events(log)]
    assert events[-1] == "daemon.stopped" and "daemon.stop_timeout" in events
    for emulator in (box.salesforce, box.asana, box.sheets):
        emulator.faults.clear()
