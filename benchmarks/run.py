"""Baton at scale, side by side with the Singer taps. One command:

    python -m benchmarks.run [--leads 50000 --tasks 5000 --rows 2000 --burst 1000 --no-peers]
                             [--tools salesforce,asana,sheets]

1. `benchmarks.serve` starts the three emulators, seeded at scale, in a process of their own.
2. Every Baton scenario runs in a fresh `benchmarks.baton_side` process per source; its CPU
   and peak RSS come from wait4 (Baton's alone), its API calls from the emulators' counters.
       baseline            first cycle on an empty state: every record, no write-backs
       baseline+backfill   the same, then 90 days of status history (engine.backfill)
       idle                one cycle, nothing changed
       burst               `--burst` records per source enter a gated status at once, 30 % fail
3. The Singer taps (tap-salesforce, tap-asana, tap-google-sheets from PyPI, each in its own
   virtual environment under ~/.cache/baton-bench/peers, installed when missing) read the same
   sandboxes: initial sync, idle run (with the state of the first), run after the burst.
4. Gate evaluation alone (records/s per check kind).
A Markdown table goes to stdout; the raw figures to <workdir>/results.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.measure import run_measured
from benchmarks.scale import ROOT

SOURCES = {"salesforce": "salesforce:leads", "asana": "asana:scale", "sheets": "sheets:scale"}
AUTH_ROUTES = {"token"}
CACHE = Path(os.environ.get("BATON_BENCH_CACHE", Path.home() / ".cache" / "baton-bench"))


class Sandboxes:
    """The `benchmarks.serve` child: start, ask for call counts, burst, stop."""

    def __init__(self, workdir: Path, leads: int, tasks: int, rows: int,
                 extra: tuple[str, ...] = ()) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.serve", "--workdir", str(workdir / "sandbox"),
             "--leads", str(leads), "--tasks", str(tasks), "--rows", str(rows), *extra],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.setup: dict[str, Any] = json.loads(self._line())
        self.setup_file = workdir / "setup.json"
        self.setup_file.write_text(json.dumps(self.setup))

    def ask(self, op: str, **args: Any) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        return json.loads(self._line())

    def take_calls(self) -> dict[str, dict[str, int]]:
        calls = self.ask("calls")
        self.ask("reset")
        return calls

    def stop(self) -> None:
        try:
            self.ask("quit")
        finally:
            self.process.wait(timeout=30)

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("benchmarks.serve exited before answering")
        return line


def baton(box: Sandboxes, workdir: Path, scenario: str, tool: str, state: Path,
          label: str) -> dict[str, Any]:
    out = workdir / f"baton-{label}-{tool}.json"
    command = [sys.executable, "-m", "benchmarks.baton_side",
               "backfill" if scenario == "baseline+backfill" else "cycle",
               "--setup", str(box.setup_file), "--state", str(state), "--out", str(out),
               "--source", SOURCES[tool], "--log", str(workdir / "baton.log")]
    box.take_calls()
    measured = run_measured(command, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                            stderr=workdir / "baton.stderr")
    calls = box.take_calls()[tool]
    if measured.returncode != 0:
        raise RuntimeError(f"Baton {scenario} {tool} failed: see {workdir / 'baton.stderr'}")
    result = json.loads(out.read_text())
    entry = result["sources"][SOURCES[tool]]
    report = entry["report"] or {}
    return {"who": "Baton", "tool": tool, "scenario": scenario, "calls": calls,
            "wall_s": measured.wall_s, "cpu_s": measured.cpu_s, "cycle_cpu_s": entry["cpu"],
            "peak_rss_mb": measured.peak_rss_mb, "records": report.get("records_seen"),
            "written": report.get("written"), "violations": report.get("violations"),
            "error": entry.get("error"), "backfilled": entry.get("backfilled")}


def gates(workdir: Path) -> dict[str, Any]:
    out = workdir / "gates.json"
    measured = run_measured([sys.executable, "-m", "benchmarks.baton_side", "gates", "--out",
                             str(out)], env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    if measured.returncode != 0:
        raise RuntimeError("gate benchmark failed")
    return json.loads(out.read_text())["gates"]


# -- the report


def split_calls(calls: Mapping[str, int]) -> tuple[int, int, str]:
    """(API calls without auth, auth calls, 'endpoint n, ...')."""
    auth = sum(n for route, n in calls.items() if route in AUTH_ROUTES)
    api = sum(n for route, n in calls.items() if route not in AUTH_ROUTES)
    detail = ", ".join(f"{route} {n}" for route, n in sorted(calls.items(), key=lambda kv: -kv[1]))
    return api, auth, detail


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| scenario | tool | who | API calls (+auth) | by endpoint | records | written "
             "| wall s | CPU s (process) | CPU s (cycle) | peak RSS MB |",
             "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        if row.get("skipped"):
            lines.append(f"| {row['scenario']} | {row['tool']} | {row['who']} | – | "
                         f"{row['skipped']} | | | | | | |")
            continue
        api, auth, detail = split_calls(row["calls"])
        cycle = f"{row['cycle_cpu_s']:.2f}" if row.get("cycle_cpu_s") is not None else "–"
        lines.append(
            f"| {row['scenario']} | {row['tool']} | {row['who']} | {api}"
            f"{f' (+{auth})' if auth else ''} | {detail} | {_blank(row.get('records'))} | "
            f"{_blank(row.get('written'))} | {row['wall_s']:.2f} | {row['cpu_s']:.2f} | {cycle} | "
            f"{row['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def gate_table(results: Mapping[str, Mapping[str, float]]) -> str:
    lines = ["| gate | checks | records/s | failing |", "|---|---:|---:|---:|"]
    for gate_id, r in results.items():
        lines.append(f"| {gate_id} | {r['checks']:.0f} | {r['records_per_s']:,.0f} | "
                     f"{r['failed_share']:.0%} |")
    return "\n".join(lines)


def _blank(value: Any) -> str:
    return "" if value is None else str(value)


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                  .splitlines() if line.startswith("model name")), platform.processor())
    return (f"{os.cpu_count()} CPU ({model}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--burst", type=int, default=1_000, help="records per source in the burst")
    parser.add_argument("--fail-share", type=float, default=0.3)
    parser.add_argument("--no-peers", action="store_true", help="Baton only, no Singer taps")
    parser.add_argument("--peers", default="salesforce,asana,sheets",
                        help="which taps to run (comma-separated tools)")
    parser.add_argument("--tools", default=",".join(SOURCES),
                        help="which of Baton's sources to run (comma-separated tools)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    tools = [t for t in SOURCES if t in args.tools.split(",")]
    started = time.perf_counter()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="baton-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    peers: list[Any] = []
    if not args.no_peers:
        from benchmarks import peers as peer_module

        peers = peer_module.prepare([t for t in args.peers.split(",") if t], CACHE / "peers",
                                    workdir)
    print(f"seeding {args.leads} leads, {args.tasks} tasks, {args.rows} rows ...", file=sys.stderr)
    box = Sandboxes(workdir, args.leads, args.tasks, args.rows)
    rows: list[dict[str, Any]] = []
    try:
        state_a, state_b = workdir / "state-a.db", workdir / "state-b.db"
        for tool in tools:
            rows.append(baton(box, workdir, "baseline", tool, state_a, "baseline"))
        for tool in tools:
            rows.append(baton(box, workdir, "baseline+backfill", tool, state_b, "backfill"))
        for tool in tools:
            rows.append(baton(box, workdir, "idle", tool, state_a, "idle"))
        for peer in peers:
            rows += peer.initial_and_idle(box)
        size = [args.burst, round(args.burst * args.fail_share)]
        done = box.ask("burst", sizes={tool: size for tool in tools})
        print(f"burst: {done}", file=sys.stderr)
        box.take_calls()
        for peer in peers:
            rows += peer.after_burst(box)
        for tool in tools:
            rows.append(baton(box, workdir, "burst", tool, state_a, "burst"))
        gate_results = gates(workdir)
    finally:
        box.stop()
    rows.sort(key=lambda r: (list(SOURCES).index(r["tool"]), _order(r["scenario"]), r["who"] != "Baton"))
    elapsed = time.perf_counter() - started
    (workdir / "results.json").write_text(json.dumps(
        {"rows": rows, "gates": gate_results, "machine": machine(), "seconds": elapsed,
         "args": vars(args), "seed_seconds": box.setup.get("seed_seconds")}, default=str, indent=1))
    print(f"## Baton vs the Singer taps ({args.leads} leads, {args.tasks} tasks, {args.rows} rows; "
          f"burst {args.burst} per source, {args.fail_share:.0%} failing)\n")
    print(table(rows))
    print("\n## Gate evaluation alone\n")
    print(gate_table(gate_results))
    print(f"\nMachine: {machine()}. Whole run: {elapsed:.0f} s. Raw: {workdir / 'results.json'}")
    if args.workdir is None:
        shutil.rmtree(workdir / "sandbox", ignore_errors=True)
    return 0


def _order(scenario: str) -> int:
    names = ["baseline", "initial sync", "baseline+backfill", "idle", "burst", "after burst"]
    return next((i for i, name in enumerate(names) if scenario.startswith(name)), len(names))


if __name__ == "__main__":
    sys.exit(main())
