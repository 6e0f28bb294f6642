"""Change-to-comment latency: from a change in the sandbox to its write-back landing there.

    python -m benchmarks.latency [--changes 200] [--interval 10 --interval 60] [--window S]

For each interval, a fresh sandbox on real time (the benchmark's scale sources, small) and
`baton run` as a real process with every source on that interval. Once the baselines are in,
`--changes` changes arrive at uniformly random moments over the window (default: five
intervals, at least two minutes), taking turns over the tools, each failing its gate:

    salesforce  a lead becomes MQL without consent   landed: bounced to Data Remediation
    asana       a task enters Ready for Web, bad UTM landed: its "Fix UTM" subtask exists
    sheets      a row enters Ready for QA, bad UTM   landed: a note on the row

A watcher looks at the emulators' state every 50 ms; latency is landing minus change. Target:
p95 ≤ interval + 2 s (the wait for the next cycle is up to one interval; the rest is the cycle).
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from baton.sandbox import asana_seed, sheets_seed
from baton.sandbox.clock import SandboxClock
from baton.sandbox.environment import Sandbox
from benchmarks.daemon import Daemon
from benchmarks.scale import FAILING_URL, bench_config, seed

WATCH_EVERY = 0.05
TOOLS = ("salesforce", "asana", "sheets")


@dataclass
class Change:
    tool: str
    record: str
    made: float  # time.monotonic() once the change was applied
    landed: Callable[[], bool]
    seen: float | None = None
    at: str = ""  # wall-clock time of the change, to find it in the daemon's log

    def __post_init__(self) -> None:
        self.at = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]


class Changer:
    """Makes one failing change at a time on a record not touched before."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        sf = box.salesforce
        with sf.lock:
            self._leads = [r["Id"] for r in sf._tables["Lead"].values()  # noqa: SLF001
                           if r.get("Status") == "Open - Not Contacted"]
        project = asana_seed.SCALE_PROJECT_GID
        asana = box.asana
        self._tasks = [g for g in list(asana.tasks) if project in asana.tasks[g].memberships
                       and asana.section_of(g, project) not in ("Ready for Web", "Live")]
        sheet = self._sheet()
        status = self._column("Status")
        self._rows = [i for i in range(1, len(sheet.rows))
                      if sheet.rows[i] and sheet.cell(i, status) is not None
                      and sheet.cell(i, status).value != "Ready for QA"]

    def capacity(self) -> dict[str, int]:
        return {"salesforce": len(self._leads), "asana": len(self._tasks), "sheets": len(self._rows)}

    def make(self, tool: str) -> Change:
        return {"salesforce": self._lead, "asana": self._task, "sheets": self._row}[tool]()

    def _lead(self) -> Change:
        sf, lead = self.box.salesforce, self._leads.pop(0)
        sf.update_record("Lead", lead, {"Status": "MQL", "Title": "VP Marketing",
                                        "LeadSource": "Content Download", "Consent__c": False})
        made = time.monotonic()

        def landed() -> bool:
            with sf.lock:
                return sf._tables["Lead"][lead].get("Status") == "Data Remediation"  # noqa: SLF001

        return Change("salesforce", lead, made, landed)

    def _task(self) -> Change:
        asana, gid = self.box.asana, self._tasks.pop(0)
        asana.set_custom_field(gid, "Landing URL", FAILING_URL.format(n=4000 + len(self._tasks)))
        asana.move_task(gid, "Ready for Web", project_gid=asana_seed.SCALE_PROJECT_GID)
        made = time.monotonic()

        def landed() -> bool:
            with asana.lock:
                return bool(asana.tasks[gid].subtasks)

        return Change("asana", gid, made, landed)

    def _row(self) -> Change:
        sheets, row = self.box.sheets, self._rows.pop(0)
        with sheets.lock:
            sheet = self._sheet()
            sheet.ensure(row, self._column("Status")).value = "Ready for QA"
            sheet.ensure(row, self._column("Landing URL")).value = FAILING_URL.format(n=5000 + row)
            sheets._touch(sheets.books[sheets_seed.SCALE_ID])  # noqa: SLF001
        made = time.monotonic()
        key = sheet.cell(row, 0).value

        def landed() -> bool:
            with sheets.lock:
                current = self._sheet()
                for index, cells in enumerate(current.rows):  # rows may move: find it by key
                    if cells and current.cell(index, 0) is not None and \
                            current.cell(index, 0).value == key:
                        return any(c is not None and c.note for c in cells)
                return False

        return Change("sheets", str(key), made, landed)

    def _sheet(self):  # type: ignore[no-untyped-def]
        return self.box.sheets.books[sheets_seed.SCALE_ID].sheet(sheets_seed.SCALE_TAB)

    def _column(self, name: str) -> int:
        return sheets_seed.HEADER.index(name)


def watch(changes: list[Change], stop: threading.Event) -> None:
    while not stop.is_set():
        now = time.monotonic()
        for change in list(changes):
            if change.seen is None and change.landed():
                change.seen = now
        stop.wait(WATCH_EVERY)


def run_interval(interval: int, count: int, window: float, python: str, rng: random.Random,
                 workdir: Path) -> list[Change]:
    per_tool = count // len(TOOLS) + 1
    box = Sandbox(workdir / "sandbox", seed=False, clock=SandboxClock(frozen=False))
    seed(box, leads=per_tool * 5 + 50, tasks=per_tool * 2 + 30, rows=per_tool * 2 + 30)
    box.start()
    config = bench_config(box.overrides, workdir / "state.db")
    config = config.model_copy(update={"baton": config.baton.model_copy(
        update={"interval_seconds": interval})})
    daemon = Daemon(box, config, workdir / "baton", python=python)
    changes: list[Change] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(changes, stop), daemon=True)
    try:
        daemon.wait_until(lambda: daemon.cycles_logged() >= len(TOOLS), timeout=300,
                          what="the baselines")
        time.sleep(1.0)
        changer = Changer(box)
        assert min(changer.capacity().values()) >= per_tool, changer.capacity()
        moments = sorted(rng.uniform(0, window) for _ in range(count))
        watcher.start()
        start = time.monotonic()
        for index, moment in enumerate(moments):
            time.sleep(max(0.0, start + moment - time.monotonic()))
            changes.append(changer.make(TOOLS[index % len(TOOLS)]))
        deadline = time.monotonic() + interval * 3 + 30
        while any(c.seen is None for c in changes) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        daemon.stop()
        box.stop()
    return changes


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--interval", type=int, action="append", default=None,
                        help="seconds; repeat for several (default: 10 and 60)")
    parser.add_argument("--window", type=float, default=None,
                        help="seconds the changes are spread over (default max(120, 5 intervals))")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--python", default=sys.executable, help="the interpreter Baton runs on")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    met = True
    for interval in args.interval or [10, 60]:
        window = args.window or max(120.0, 5.0 * interval)
        workdir = Path(tempfile.mkdtemp(prefix=f"baton-latency-{interval}s-"))
        changes = run_interval(interval, args.changes, window, args.python, rng, workdir)
        landed = [c.seen - c.made for c in changes if c.seen is not None]
        missing = len(changes) - len(landed)
        if not landed:
            print(f"interval {interval} s: nothing landed; see {workdir}")
            met = False
            continue
        p50, p95 = statistics.median(landed), percentile(landed, 0.95)
        by_tool = {t: [c.seen - c.made for c in changes if c.tool == t and c.seen is not None]
                   for t in TOOLS}
        ok = p95 <= interval + 2 and not missing
        met = met and ok
        print(f"interval {interval} s, {len(changes)} changes over {window:.0f} s: "
              f"p50 {p50:.1f} s, p95 {p95:.1f} s, max {max(landed):.1f} s"
              f"{f', {missing} never landed' if missing else ''} "
              f"(target p95 ≤ {interval + 2} s: {'met' if ok else 'NOT met'})")
        print("  " + ", ".join(f"{t} p50 {statistics.median(v):.1f} / p95 {percentile(v, 0.95):.1f} s"
                               for t, v in by_tool.items() if v) + f"; log {workdir / 'baton'}")
        for change in (c for c in changes if c.seen is None):
            print(f"  never landed: {change.tool} {change.record}, changed at {change.at} UTC")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
