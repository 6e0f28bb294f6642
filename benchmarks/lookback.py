"""Salesforce at the edges of the lookback window: after a bulk load, after a mass update.

    python -m benchmarks.lookback [--leads 50000] [--interval 60] [--max-cycles 8] [--no-peer]

The sandbox runs in `benchmarks.serve` (real-time clock, advanced on purpose); every cycle is a
fresh `benchmarks.baton_side` process with all three tools configured (only the Salesforce
source runs), so its CPU and peak RSS are Baton's alone. The leads are
bulk-loaded at one instant just before the first cycle. Scenarios, on one state:

    baseline                  first cycle: every lead
    lookback after bulk load  cycles `--interval` apart by the server's clock until one costs
                              a single call: until then the window still holds every lead
    mass update               one data-cleanup job sets LeadSource on every lead at one instant
                              (a tracked field: one history row per lead); cycle 0 sees every
                              lead changed, then cycles `--interval` apart until idle

Calls are the emulator's (query pages by sObject: Lead and LeadHistory); nothing may be written
back. tap-salesforce (installed as `benchmarks.run` does) reads the same org: its initial sync and
idle run before the mass update, three runs after Baton's (its "lead pages" count every query
call). A Markdown table goes to stdout, the raw figures to <workdir>/lookback.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.measure import run_measured
from benchmarks.run import CACHE, Sandboxes, machine
from benchmarks.scale import ROOT

SOURCE = "salesforce:leads"


def cycle(box: Sandboxes, workdir: Path, state: Path, scenario: str,
          offset: float) -> dict[str, Any]:
    out = workdir / "cycle.json"
    command = [sys.executable, "-m", "benchmarks.baton_side", "cycle", "--setup",
               str(box.setup_file), "--state", str(state), "--out", str(out), "--source", SOURCE,
               "--all-configured", "--clock-offset", str(offset),
               "--log", str(workdir / "baton.log")]
    box.take_calls()
    measured = run_measured(command, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                            stderr=workdir / "baton.stderr")
    queried = box.ask("queried")
    calls = box.take_calls()["salesforce"]
    if measured.returncode != 0:
        raise RuntimeError(f"Baton {scenario} failed: see {workdir / 'baton.stderr'}")
    entry = json.loads(out.read_text())["sources"][SOURCE]
    report = entry["report"] or {}
    if entry.get("error"):
        raise RuntimeError(f"Baton {scenario}: {entry['error']}")
    return {"scenario": scenario, "calls": sum(n for r, n in calls.items() if r != "token"),
            "lead_pages": queried.get("Lead", 0), "history_pages": queried.get("LeadHistory", 0),
            "writes": sum(n for r, n in calls.items() if r.startswith("composite")
                          or r.startswith("sobject_")),
            "records": report.get("records_seen"), "transitions": report.get("transitions"),
            "written": report.get("written"), "cpu_s": measured.cpu_s,
            "cycle_cpu_s": entry["cpu"], "wall_s": measured.wall_s,
            "peak_rss_mb": measured.peak_rss_mb}


def _tap_row(raw: dict[str, Any]) -> dict[str, Any]:
    calls = raw["calls"]
    return {"scenario": raw["scenario"], "calls": sum(n for r, n in calls.items() if r != "token"),
            "lead_pages": calls.get("query", 0) + calls.get("queryAll", 0)
            + calls.get("query_more", 0), "history_pages": 0, "records": raw["records"],
            "written": 0, "cpu_s": raw["cpu_s"], "cycle_cpu_s": None,
            "peak_rss_mb": raw["peak_rss_mb"]}


def _blank(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| Scenario | API calls | Lead pages | LeadHistory pages | Records read | "
             "Written | CPU s (process) | CPU s (cycle) | Peak RSS MB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['scenario']} | {r['calls']} | {r['lead_pages']} | "
                     f"{r['history_pages']} | {r['records']} | {r['written']} | "
                     f"{r['cpu_s']:.2f} | {_blank(r['cycle_cpu_s'])} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--interval", type=float, default=60,
                        help="seconds the sandbox clock moves between two cycles")
    parser.add_argument("--max-cycles", type=int, default=8,
                        help="cycles after the baseline and after the mass update, at most")
    parser.add_argument("--no-peer", action="store_true", help="without tap-salesforce")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="baton-lookback-"))
    workdir.mkdir(parents=True, exist_ok=True)
    peers: list[Any] = []
    if not args.no_peer:
        from benchmarks import peers as peer_module

        peers = peer_module.prepare(["salesforce"], CACHE / "peers", workdir)
    print(f"seeding {args.leads} leads, all stamped now ...", file=sys.stderr)
    box = Sandboxes(workdir, args.leads, 10, 10, extra=("--leads-loaded-now",))
    state, rows, tap_rows = workdir / "state.db", [], []
    offset = 0.0

    def run(scenario: str) -> dict[str, Any]:
        rows.append(cycle(box, workdir, state, scenario, offset))
        print(f"{scenario}: {rows[-1]['calls']} calls, {rows[-1]['records']} records",
              file=sys.stderr)
        return rows[-1]

    def until_idle(name: str) -> None:
        """Cycles `interval` apart by the sandbox clock until one costs a single call."""
        nonlocal offset
        for n in range(1, args.max_cycles + 1):
            offset = float(box.ask("advance", seconds=args.interval)["offset"])
            if run(f"{name}, cycle {n} (+{offset:.0f} s)")["calls"] <= 1:
                return
        rows[-1]["scenario"] += f": still not idle after {args.max_cycles} cycles"

    try:
        run("baseline (50,000 leads loaded at one instant)"
            if args.leads == 50_000 else f"baseline ({args.leads} leads loaded at one instant)")
        until_idle("lookback after the bulk load")
        for peer in peers:  # its initial sync and idle run, before the mass update
            tap_rows += [_tap_row(r) for r in peer.initial_and_idle(box)]
        changed = box.ask("mass_update", sobject="Lead", changes={"LeadSource": "Website"})
        print(f"mass update: {changed}", file=sys.stderr)
        run("mass update: LeadSource on every lead, cycle 0")
        until_idle("mass update")
        for peer in peers:  # the runs after it, each from the state the previous one emitted
            for n in range(1, 4):
                for raw in peer.after_burst(box):
                    raw["scenario"] = f"after the mass update, run {n}"
                    tap_rows.append(_tap_row(raw))
    finally:
        box.stop()
    (workdir / "lookback.json").write_text(json.dumps(
        {"rows": rows, "tap": tap_rows, "machine": machine(), "args": vars(args)}, default=str,
        indent=1))
    print(f"## Salesforce lookback ({args.leads} leads, cycles {args.interval:.0f} s apart by "
          "the server's clock; all three tools configured)\n")
    print(table(rows))
    if tap_rows:
        print("\ntap-salesforce on the same org (incremental on SystemModstamp, its own "
              "bookmark):\n")
        print(table(tap_rows))
    print(f"\nMachine: {machine()}. Raw: {workdir / 'lookback.json'}")
    if args.workdir is None:
        shutil.rmtree(workdir / "sandbox", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
