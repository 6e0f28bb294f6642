"""The weight of an idle `baton run`: a Sheets-only deployment, and one with all three tools.

    python -m benchmarks.memory [--idle 30] [--python /path/to/other/venv/bin/python ...]

Each deployment is the demo config (config.toml, its rules) on a seeded sandbox running only
its tools, with the demo's intervals shortened to 10 s. `baton run` is a real process; once its
baselines are in, it idles for `--idle` seconds, and its resident memory (VmRSS), peak (VmHWM),
threads and CPU are read from /proc. Repeat `--python` to compare builds (e.g. a venv holding
the code before a change); each interpreter's `baton` is the code it runs.

The import floor: a `baton run --once` on the same deployment lists, at exit, every module it
loaded from site-packages; a fresh interpreter then imports exactly those (after `baton`'s own
package, whose import finder keeps structlog from loading rich) and reports its RSS. That is
what the libraries weigh before a line of Baton runs, so no Baton can idle below it.
"""
from __future__ import annotations

import argparse
import subprocess
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


# `baton run --once`, then the site-packages modules it loaded, as one JSON line on stderr
LIST_LIBRARIES = """
import atexit, json, sys
from baton.app.cli import main
def libraries():
    names = [n for n, m in list(sys.modules.items())
             if "site-packages" in (getattr(m, "__file__", None) or "") and not n.startswith("baton")]
    print("LIBRARIES " + json.dumps(sorted(names)), file=sys.stderr)
atexit.register(libraries)
sys.exit(main(sys.argv[1:]))
"""
# a fresh interpreter importing those modules and nothing else: its RSS in MiB
IMPORT_ONLY = """
import importlib, json, sys
import baton  # its finder: structlog without rich, as in Baton's process
for name in json.loads(sys.stdin.read()):
    try:
        importlib.import_module(name)
    except Exception:  # a module that only imports inside its parent's own setup: left out,
        pass  # which can only lower the floor
pages = int(open("/proc/self/statm").read().split()[1])
print(pages * __import__("os").sysconf("SC_PAGE_SIZE") / 2**20)
"""


def measure(tools: tuple[str, ...], python: str, idle: float) -> tuple[Sample, Sample, float, float]:
    """Baseline and idle samples of a `baton run` daemon, the seconds between, and the floor."""
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
        seconds = time.monotonic() - started
        daemon.stop()  # its state lock, for the `run --once` that lists the libraries
        return baseline, idled, seconds, import_floor(python, daemon.config_path)
    finally:
        daemon.stop()
        box.stop()


def import_floor(python: str, config_path: Path) -> float:
    """RSS (MiB) of a fresh interpreter holding only the libraries a deployment loads."""
    listed = subprocess.run([python, "-c", LIST_LIBRARIES, "run", "--once", "--config",
                             str(config_path)], capture_output=True, text=True, timeout=300,
                            cwd=config_path.parent)
    line = next((x for x in listed.stderr.splitlines() if x.startswith("LIBRARIES ")), None)
    if line is None:
        raise RuntimeError(f"run --once listed nothing: {listed.stderr[-2000:]}")
    floor = subprocess.run([python, "-c", IMPORT_ONLY], input=line.removeprefix("LIBRARIES "),
                           capture_output=True, text=True, timeout=120, check=True)
    return float(floor.stdout)


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
            baseline, idled, seconds, floor = measure(tools, python, args.idle)
            cpu = (idled.cpu_s - baseline.cpu_s) / seconds * 60
            target = TARGETS.get(name)
            verdict = ""
            if target is not None:
                ok = idled.rss_mb <= target
                met = met and ok
                verdict = f" (target ≤ {target:.0f} MB: {'met' if ok else 'NOT met'})"
            print(f"  {name:<16} idle RSS {idled.rss_mb:5.1f} MB, peak {idled.peak_mb:5.1f} MB, "
                  f"threads {idled.threads}, CPU {cpu:.2f} s per idle minute{verdict}; "
                  f"the libraries alone {floor:5.1f} MB")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
