"""Many sources in one instance, idle: 100 Asana projects and 10 sheets under one `baton run`.

    python -m benchmarks.fleet [--projects 100] [--sheets 10] [--idle 180] [--interval 60]
                               [--stall 1 --stall-seconds 10]

Seeds the projects (20 tasks each) and the spreadsheets (50 rows each) in an in-process sandbox
on real time, starts `baton run` as its own process with the health port on, waits for every
baseline, then watches the idle daemon for `--idle` seconds: each source's lag since its last
cycle started (from /healthz every 2 s; "on time" when it never exceeds the interval plus 5 s of
queueing and sampling), the API calls the emulators served, the daemon's CPU per idle minute,
threads and RSS. `--stall N`: the first N projects' events requests hang `--stall-seconds`
each, then fail 503 (retried, as an unreachable project is), for the whole idle watch; a
stalled project is late by design, the question is whether the others stay on time.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from baton.sandbox import asana_seed, sheets_seed
from baton.sandbox.clock import SandboxClock
from baton.sandbox.environment import Sandbox
from benchmarks.daemon import Daemon, free_port, make_config

FIRST_PROJECT = 1209000000100000
SAMPLE_EVERY = 2.0
SLACK = 5.0  # seconds beyond the interval: queueing on the tool's threads + the sampling period


def seed(box: Sandbox, projects: int, sheets: int, tasks: int = 20,
         rows: int = 50) -> list[dict[str, Any]]:
    """The projects and spreadsheets, and one source for each."""
    asana = box.asana
    fields = [asana.add_custom_field("Campaign ID", "text"),
              asana.add_custom_field("Channel", "enum", asana_seed.CHANNELS)]
    owner = asana.add_user("Maya Ortiz", "maya.ortiz@acme.example")
    sources: list[dict[str, Any]] = []
    for p in range(projects):
        gid = asana.add_project(f"Campaign {p}", asana_seed.SECTIONS, fields,
                                gid=str(FIRST_PROJECT + p))
        for t in range(tasks):
            asana.create_task(gid, f"CMP-{1000 + t}_email_item-{p}-{t}_v1_20261120",
                              asana_seed.SECTIONS[t % len(asana_seed.SECTIONS)],
                              {"Campaign ID": f"CMP-{1000 + t}", "Channel": "email"},
                              assignee=owner, quiet=True)
        sources.append({"id": f"asana:campaign-{p}", "tool": "asana", "project": gid,
                        "status": "section", "workflow": list(asana_seed.SECTIONS)})
    for s in range(sheets):
        book = f"1BatonFleetSheet{s:03d}".ljust(44, "0")
        table = [sheets_seed.HEADER] + [
            [f"CMP-{2000 + r}-{s}", "email", f"CMP-{2000 + r}_email_row-{r}_v1_20261120",
             "maya.chen@northwind.example", "", sheets_seed.STATUSES[r % 4], ""]
            for r in range(rows)]
        box.sheets.add_spreadsheet(book, f"Brand {s}", {"Tracker": table})
        sources.append({"id": f"sheets:brand-{s}", "tool": "sheets", "spreadsheet_id": book,
                        "tab": "Tracker", "key_column": "Campaign ID", "status_column": "Status",
                        "baton_column": "Baton", "workflow": list(sheets_seed.STATUSES)})
    return sources


def gates(sources: list[dict[str, Any]], path: Path) -> Path:
    """One gate per source (as a team has), so the daemon holds a realistic rule set."""
    entering = {"asana": "Ready for Web", "sheets": "Ready for QA"}
    path.write_text("".join(
        f'[[gate]]\nid = "fleet-{n}"\nsource = "{s["id"]}"\nenters = "{entering[s["tool"]]}"\n'
        f'checks = [{{ field = "Campaign ID", required = true }}]\n'
        f'on_fail = {{ comment = "Campaign ID missing" }}\n\n' for n, s in enumerate(sources)))
    return path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--sheets", type=int, default=10)
    parser.add_argument("--idle", type=float, default=180.0, help="seconds of idle to watch")
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--stall", type=int, default=0, help="projects whose requests hang")
    parser.add_argument("--stall-seconds", type=float, default=10.0)
    parser.add_argument("--python", default=sys.executable, help="the interpreter Baton runs on")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="baton-fleet-"))
    box = Sandbox(workdir / "sandbox", seed=False, clock=SandboxClock(frozen=False),
                  tools=("asana", "sheets"))
    sources = seed(box, args.projects, args.sheets)
    box.start()
    config = make_config(sources, rules=[gates(sources, workdir / "fleet-gates.toml")], tools={"asana": {"requests_per_minute": 1500},
                                         "sheets": {"requests_per_minute": 300}},
                         baton={"interval_seconds": args.interval})
    daemon = Daemon(box, config, workdir / "baton", python=args.python, health_port=free_port())
    try:
        ids = [s["id"] for s in sources]
        started = time.monotonic()
        daemon.wait_until(lambda: _all_polled(daemon, ids), timeout=600, what="every baseline")
        baseline_s = time.monotonic() - started
        baseline = daemon.sample()
        print(f"{len(ids)} sources ({args.projects} Asana projects, {args.sheets} sheets), "
              f"interval {args.interval} s: every baseline done in {baseline_s:.1f} s, "
              f"RSS {baseline.rss_mb:.0f} MB (peak {baseline.peak_mb:.0f} MB)", flush=True)
        stalled = {s["id"] for s in sources[:args.stall]}
        for source in sources[:args.stall]:
            box.asana.faults.add("get_events", times=1000, status=503, delay=args.stall_seconds,
                                 url_contains=source["project"])
        box.reset_calls()
        first = daemon.sample()
        worst: dict[str, float] = dict.fromkeys(ids, 0.0)
        threads = first.threads
        watch_start = time.monotonic()
        while time.monotonic() - watch_start < args.idle:
            time.sleep(SAMPLE_EVERY)
            report = daemon.health()["sources"]
            for source_id in ids:
                lag = report[source_id]["lag_seconds"]
                worst[source_id] = max(worst[source_id], lag if lag is not None else 1e9)
            threads = max(threads, daemon.sample().threads)
        watched = time.monotonic() - watch_start
        last = daemon.sample()
        calls = {tool: dict(server.emulator.calls) for tool, server in box._servers.items()}  # noqa: SLF001
        late = sorted(s for s, lag in worst.items()
                      if lag > args.interval + SLACK and s not in stalled)
        asana_lag = max(v for k, v in worst.items() if k.startswith("asana:") and k not in stalled)
        sheets_lag = max((v for k, v in worst.items() if k.startswith("sheets:")), default=0.0)
        cpu_per_min = (last.cpu_s - first.cpu_s) / watched * 60
        others = len(ids) - len(stalled)
        print(f"idle {watched:.0f} s{f', {len(stalled)} project(s) stalled' if stalled else ''}: "
              f"{others - len(late)}/{others} {'other ' if stalled else ''}sources polled within "
              f"their interval (+{SLACK:g} s); worst lag Asana {asana_lag:.1f} s, Sheets "
              f"{sheets_lag:.1f} s")
        print(f"  calls: Asana {sum(calls['asana'].values())} ({_routes(calls['asana'])}), "
              f"Sheets {sum(calls['sheets'].values())} ({_routes(calls['sheets'])})")
        print(f"  CPU {cpu_per_min:.2f} s per idle minute, threads {threads} (max), "
              f"RSS {last.rss_mb:.0f} MB, peak {last.peak_mb:.0f} MB")
        if late:
            print(f"  late: {', '.join(late[:10])}{' …' if len(late) > 10 else ''}")
    finally:
        code = daemon.stop()
        box.stop()
    print(f"baton run stopped (exit {code}); log {daemon.log}")
    shutil.rmtree(workdir / "sandbox", ignore_errors=True)
    return 0 if not late else 1


def _all_polled(daemon: Daemon, ids: list[str]) -> bool:
    try:
        report = daemon.health()["sources"]
    except OSError:  # not listening yet
        return False
    return all(report.get(s, {}).get("last_success") for s in ids)


def _routes(calls: dict[str, int]) -> str:
    return ", ".join(f"{route} {n}" for route, n in sorted(calls.items(), key=lambda kv: -kv[1]))


if __name__ == "__main__":
    sys.exit(main())
