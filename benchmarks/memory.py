"""The weight of an idle `baton run`: a Sheets-only deployment, and one with all three tools.

    python -m benchmarks.memory [--idle 30] [--python /path/to/other/venv/bin/python ...]

Each deployment is the demo config (config.toml, its rules) on a seeded sandbox running only
its tools, with the demo's intervals shortened to 10 s. `baton run` is a real process; once its
baselines are in, it idles for `--idle` seconds, and its resident memory (VmRSS), peak (VmHWM),
threads and CPU are read from /proc. Repeat `--python` to compare builds (e.g. a venv holding
the code before a change); each interpreter's `baton` is the code it runs.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from baton.core.config import load_config
from baton.sandbox.clock import SandboxClock
from baton.sandbox.environment import Sandbox
from benchmarks.daemon import ROOT, Daemon, Sample

DEPLOYMENTS = {"sheets only": ("sheets",), "all three tools": ("salesforce", "asana", "sheets")}
TARGETS = {"sheets only": 60.0}


def measure(tools: tuple[str, ...], python: str, idle: float) -> tuple[Sample, Sample, float]:
    workdir = Path(tempfile.mkdtemp(prefix="baton-memory-"))
    box = Sandbox(workdir / "sandbox", clock=SandboxClock(frozen=False), tools=tools).start()
    base = load_config(ROOT / "config.toml")
    short = [s.model_copy(update={"interval_seconds": 10}) for s in base.source]
    config = base.model_copy(update={"source": short})
    daemon = Daemon(box, config, workdir / "baton", python=python)
    try:
        daemon.wait_until(lambda: daemon.cycles_logged() >= len(tools), timeout=300,
                          what="the baselines")
        baseline = daemon.sample()
        started = time.monotonic()
        time.sleep(idle)
        idled = daemon.sample()
        return baseline, idled, time.monotonic() - started
    finally:
        daemon.stop()
        box.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--python", action="append", default=None,
                        help="interpreter(s) to run Baton on (default: this one)")
    args = parser.parse_args()
    met = True
    for python in args.python or [sys.executable]:
        print(f"{python}:")
        for name, tools in DEPLOYMENTS.items():
            baseline, idled, seconds = measure(tools, python, args.idle)
            cpu = (idled.cpu_s - baseline.cpu_s) / seconds * 60
            target = TARGETS.get(name)
            verdict = ""
            if target is not None:
                ok = idled.rss_mb <= target
                met = met and ok
                verdict = f" (target ≤ {target:.0f} MB: {'met' if ok else 'NOT met'})"
            print(f"  {name:<16} idle RSS {idled.rss_mb:5.1f} MB, peak {idled.peak_mb:5.1f} MB, "
                  f"threads {idled.threads}, CPU {cpu:.2f} s per idle minute{verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
