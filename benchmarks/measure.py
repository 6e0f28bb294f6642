"""Run a command as a child process and read its own rusage (CPU, peak RSS) with wait4.

The command is started by `rusage_child.py` (a bare interpreter, a few MB): Linux reports the
ru_maxrss of an exec'd process as at least the size of the process it was forked from, so forking
it straight from the benchmark driver would show the driver's memory instead of the command's.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

WRAPPER = Path(__file__).resolve().parent / "rusage_child.py"


@dataclass
class Measured:
    returncode: int
    wall_s: float
    cpu_s: float  # user + system CPU of the child process
    peak_rss_mb: float  # the child's peak resident set (ru_maxrss)


def run_measured(command: Sequence[str], *, env: Mapping[str, str] | None = None,
                 stdout: Path | None = None, stderr: Path | None = None,
                 cwd: Path | None = None, timeout: float = 900) -> Measured:
    """`command` to completion; its own rusage (reaped with wait4 by rusage_child.py)."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
    err = open(stderr, "ab") if stderr else subprocess.DEVNULL  # noqa: SIM115
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        started = time.perf_counter()
        try:
            subprocess.run([sys.executable, "-S", "-E", str(WRAPPER), report.name, "--",
                            *command], env=dict(env) if env is not None else None, stdout=out,
                           stderr=err, stdin=subprocess.DEVNULL, cwd=cwd, timeout=timeout,
                           check=False)
        finally:
            for handle in (out, err):
                if hasattr(handle, "close"):
                    handle.close()
        wall = time.perf_counter() - started
        usage = json.loads(open(report.name).read() or "{}")
    return Measured(usage.get("returncode", -1), wall, usage.get("cpu_s", 0.0),
                    usage.get("maxrss_kb", 0) / 1024)
