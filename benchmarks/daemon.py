"""`baton run` as a real daemon process beside an in-process sandbox, and what it weighs.

Shared by benchmarks/fleet.py (many sources), latency.py (change to write-back) and memory.py
(idle weight). The sandbox's servers run in the driver process, so the daemon's CPU, threads and
memory (read from /proc/<pid>) are Baton's alone.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baton.core.config import Config, load_config
from baton.sandbox.environment import Sandbox

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    rss_mb: float  # resident now (VmRSS)
    peak_mb: float  # the process's peak so far (VmHWM)
    threads: int
    cpu_s: float  # user + system CPU since the process started


def make_config(sources: Sequence[Mapping[str, Any]], *, rules: Sequence[Path] = (),
                tools: Mapping[str, Mapping[str, Any]] | None = None,
                baton: Mapping[str, Any] | None = None) -> Config:
    """config.toml's tool settings with these sources and rule files (sandbox endpoints are
    filled in by `Sandbox.write_config`)."""
    base = load_config(ROOT / "config.toml")
    data = base.model_dump(exclude={"path"})
    for tool, values in (tools or {}).items():
        data[tool] = {**data[tool], **values}
    data["baton"] = {**data["baton"], "rules": [str(p) for p in rules], **(baton or {})}
    data["source"] = [dict(s) for s in sources]
    return Config.model_validate({**data, "path": base.path})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Daemon:
    """One `baton run` process; its log goes to a file (JSON lines)."""

    def __init__(self, box: Sandbox, config: Config, workdir: Path, *,
                 python: str = sys.executable, health_port: int = 0) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        config = config.model_copy(update={"baton": config.baton.model_copy(
            update={"health_port": health_port, "log_format": "json"})})
        self.config_path = box.write_config(config, workdir / "baton.toml", workdir / "state.db")
        self.health_port = health_port
        self.log = workdir / "baton.log"
        self._log = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [python, "-m", "baton.app.cli", "run", "--config", str(self.config_path)],
            stdout=self._log, stderr=self._log, stdin=subprocess.DEVNULL, cwd=workdir)

    @property
    def pid(self) -> int:
        return self.process.pid

    def sample(self) -> Sample:
        status = dict(line.split(":", 1) for line in
                      Path(f"/proc/{self.pid}/status").read_text().splitlines() if ":" in line)
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return Sample(rss_mb=int(status["VmRSS"].split()[0]) / 1024,
                      peak_mb=int(status["VmHWM"].split()[0]) / 1024,
                      threads=int(status["Threads"]),
                      cpu_s=(int(fields[11]) + int(fields[12])) / TICKS)

    def health(self) -> dict[str, Any]:
        assert self.health_port, "started without a health port"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz",
                                        timeout=5) as answer:
                return dict(json.loads(answer.read()))
        except urllib.error.HTTPError as degraded:  # 503 still carries the report
            return dict(json.loads(degraded.read()))

    def wait_until(self, condition: Any, timeout: float, what: str) -> float:
        started = time.monotonic()
        while not condition():
            if self.process.poll() is not None:
                raise RuntimeError(f"baton run exited {self.process.returncode}; see {self.log}")
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{what}: not after {timeout:.0f} s; see {self.log}")
            time.sleep(0.25)
        return time.monotonic() - started

    def cycles_logged(self, source_id: str | None = None) -> int:
        """`source.cycle` lines in the log (a cycle that did something: baseline, writes)."""
        count = 0
        for line in self.log.read_text(errors="replace").splitlines():
            if '"source.cycle"' in line and (source_id is None or f'"{source_id}"' in line):
                count += 1
        return count

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode
