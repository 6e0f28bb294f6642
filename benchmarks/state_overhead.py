"""What a PostgreSQL state costs a cycle against SQLite: the 50,000-lead baseline and the idle cycle.

    python -m benchmarks.state_overhead [--leads 50000 --tasks 5000 --rows 2000 --idle 5]

The same seeded sandbox (benchmarks/scale.py) is read twice in this process, once into a fresh
SQLite file and once into a fresh PostgreSQL database (127.0.0.1:5432, as in the tests), with the
same runtime; PostgreSQL's run holds every source's lease (`store.instances`, as `baton run
--once` does), so its writes are fenced as in production. Printed: the baseline's wall time per
source, the median idle cycle per source over `--idle` cycles, and the store's share (the
PostgreSQL minus the SQLite figure). The emulators run in this process too: both runs carry
the same tool-side cost, so the difference is the state's.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from baton.app.runtime import open_runtime
from baton.connectors.retry import RetryPolicy
from baton.store import database
from baton.store.instances import Membership
from benchmarks.scale import bench_config, bench_secrets, make_sandbox
from tests.pg_helpers import PgServer


def measure(box: Any, state: str, idle: int) -> dict[str, dict[str, float]]:
    config = bench_config(box.overrides, state)  # type: ignore[arg-type]
    membership = None
    if database.is_postgresql(state):
        membership = Membership(state, None, [s.id for s in config.source], fair=False)
        membership.acquire_all()
    runtime = open_runtime(config, bench_secrets(box.env), retry=RetryPolicy(attempts=3))
    runner = runtime.runner(clock=box.clock.now)
    runner.leases = membership  # each cycle fenced by its source's lease, its success recorded
    found: dict[str, dict[str, float]] = {}
    try:
        for source_id in runtime.connectors:
            began = time.perf_counter()
            report = runner.run_source(source_id)
            assert report is not None and report.baseline, runner.health[source_id].last_error
            baseline = time.perf_counter() - began
            times = []
            for _ in range(idle):
                box.clock.advance(60)
                began = time.perf_counter()
                assert runner.run_source(source_id) is not None
                times.append(time.perf_counter() - began)
            found[source_id] = {"baseline": baseline, "idle": statistics.median(times),
                                "records": report.records_seen}
    finally:
        runtime.close()
        runtime.store.engine.dispose()
        if membership is not None:
            membership.stop()
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--idle", type=int, default=5)
    parser.add_argument("--postgresql-first", action="store_true",
                        help="measure PostgreSQL first (the sandbox's own cost grows a little "
                             "with what the first run wrote; run both orders)")
    args = parser.parse_args()
    from baton.core import logs
    from baton.sandbox.environment import SandboxClock

    logs.configure("json", 40)  # errors only
    server = PgServer()
    with tempfile.TemporaryDirectory() as folder:
        box = make_sandbox(Path(folder) / "sandbox", args.leads, args.tasks, args.rows,
                           clock=SandboxClock())
        box.start()
        try:
            if args.postgresql_first:
                postgresql = measure(box, server.fresh_url(), args.idle)
                sqlite = measure(box, str(Path(folder) / "state.db"), args.idle)
            else:
                sqlite = measure(box, str(Path(folder) / "state.db"), args.idle)
                postgresql = measure(box, server.fresh_url(), args.idle)
        finally:
            box.stop()
            server.drop()
    print("| source | records | baseline SQLite | baseline PostgreSQL | idle SQLite | "
          "idle PostgreSQL |")
    print("|---|---|---|---|---|---|")
    for source, s in sqlite.items():
        p = postgresql[source]
        print(f"| {source} | {int(s['records']):,} | {s['baseline']:.2f} s | "
              f"{p['baseline']:.2f} s ({p['baseline'] - s['baseline']:+.2f}) | "
              f"{s['idle'] * 1000:.0f} ms | {p['idle'] * 1000:.0f} ms "
              f"({(p['idle'] - s['idle']) * 1000:+.0f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
