"""Run a command as a child process and read its own rusage (CPU, peak RSS) with wait4."""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measured:
    returncode: int
    wall_s: float
    cpu_s: float  # user + system CPU of the child process
    peak_rss_mb: float  # the child's peak resident set (ru_maxrss)


def run_measured(command: Sequence[str], *, env: Mapping[str, str] | None = None,
                 stdout: Path | None = None, stderr: Path | None = None,
                 cwd: Path | None = None, timeout: float = 900) -> Measured:
    """`command` to completion; its rusage alone (the child of a fresh Popen, reaped by wait4)."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
    err = open(stderr, "ab") if stderr else subprocess.DEVNULL  # noqa: SIM115
    started = time.perf_counter()
    try:
        process = subprocess.Popen(list(command), env=dict(env) if env is not None else None,
                                   stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        for handle in (out, err):
            if hasattr(handle, "close"):
                handle.close()
    return Measured(process.returncode, time.perf_counter() - started,
                    usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
