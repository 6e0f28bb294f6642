"""What keeping the values of the time costs (issue 16 item 4, state migration 6).

Every fresh transition now stores the record as the cycle saw it (`transitions.values_json`),
so `preview` can replay an edited gate on the values each entry had. This commits a burst of
transitions to a fresh SQLite state twice, with and without those values, and prints the
commit time and the state's size per transition: the cost the cycle pays.

    python -m benchmarks.transition_values [--transitions 1000] [--repeat 5]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.gates import make_records
from baton.core.records import TimeSource, Transition
from baton.store import CycleWrite, StateStore


def commit_burst(n: int, with_values: bool, folder: Path) -> tuple[float, int]:
    path = folder / f"state-{with_values}-{time.perf_counter_ns()}.db"
    store = StateStore.open(path)
    now = datetime(2026, 11, 24, 9, tzinfo=UTC)
    records = make_records(n)
    transitions = [Transition(r.source, r.id, "Drafting", "Ready for Design",
                              now - timedelta(seconds=i), TimeSource.HISTORY)
                   for i, r in enumerate(records)]
    write = CycleWrite("asana:content-calendar", "cursor", True, records=records,
                       transitions=transitions)
    if with_values:
        write.transition_values = {t.key: (r, "") for t, r in zip(transitions, records, strict=True)}
    started = time.perf_counter()
    store.commit_cycle(write, now)
    elapsed = time.perf_counter() - started
    store.engine.dispose()
    return elapsed, path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transitions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n = args.transitions
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for with_values in (False, True):
            runs = [commit_burst(n, with_values, Path(tmp)) for _ in range(args.repeat)]
            results[with_values] = (min(t for t, _ in runs), runs[-1][1])
    (bare, bare_size), (kept, kept_size) = results[False], results[True]
    print(f"commit of {n} transitions (and their records), best of {args.repeat}:")
    print(f"  without values: {bare * 1000:.1f} ms, state {bare_size / 1024:.0f} KiB")
    print(f"  with values:    {kept * 1000:.1f} ms, state {kept_size / 1024:.0f} KiB")
    print(f"  per transition: +{(kept - bare) / n * 1e6:.0f} µs, "
          f"+{(kept_size - bare_size) / n:.0f} bytes")


if __name__ == "__main__":
    main()
