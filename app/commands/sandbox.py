"""`baton sandbox`: the emulated Salesforce, Asana and Sheets in the foreground, so `run`,
`backfill`, `doctor`, `report` and the health endpoints can be tried against them.

It prints each server's URL and writes a config (and its secrets file, mode 0600) that points
Baton at them; the servers run on real time until Ctrl-C or SIGTERM.
"""
from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from baton.app import exit_codes
from baton.app.demo import DEMO_CONFIG
from baton.core.config import load_config


def command_sandbox(args: argparse.Namespace) -> int:
    from baton.sandbox.environment import Sandbox, SandboxClock

    workdir: Path = args.dir.resolve()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Sandbox(workdir, clock=SandboxClock(frozen=False)) as box:
        config = box.write_config(load_config(DEMO_CONFIG), workdir / "baton.toml",
                                  workdir / "state.db")
        for tool, server in box._servers.items():  # noqa: SLF001 - the sandbox's own servers
            print(f"{tool:<11} {server.base_url}")
        print(f"config     {config}  (secrets in {config.with_suffix('.secrets')})")
        print("Try, in another terminal:")
        for command in ("doctor", "run --dry-run", "run --once", "backfill --since 30d", "run",
                        "report"):
            print(f"  baton {command} --config {config}")
        print("Ctrl-C stops the servers.", flush=True)
        stop.wait()
    print("sandbox stopped")
    return exit_codes.OK
