"""The sandbox in its own process, so the process measured is Baton's (or a tap's) alone.

    python -m benchmarks.serve --workdir DIR --leads 50000 --tasks 5000 --rows 2000 [--leads-loaded-now]

Seeds the three emulators at scale, starts them on 127.0.0.1 (HTTPS, local CA) with a real-time
clock and prints ONE JSON line on stdout: {"overrides", "env", "ca", "urls", "seed_seconds"}.
Then answers one JSON line per command read from stdin:

    {"op": "calls"}                       -> {"salesforce": {route: n}, "asana": {...}, ...}
    {"op": "reset"}                       -> {}          (zero the call counters)
    {"op": "burst", "sizes": {tool: [changed, failing]}} -> {tool: [changed, failing]}
    {"op": "queried"}                     -> {sObject: query pages served} (since the last reset)
    {"op": "mass_update", "sobject": "Lead", "changes": {field: value}} -> {"changed": n}
                                          (one data-cleanup job: every row, one SystemModstamp)
    {"op": "advance", "seconds": s}       -> {"offset": total seconds the clock is ahead}
    {"op": "quit"}                        -> {} and exits
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks.scale import burst, make_sandbox
from baton.sandbox.environment import SandboxClock


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--leads-loaded-now", action="store_true",
                        help="every lead stamped at the start, as a bulk load that has just run")
    args = parser.parse_args()
    started = time.perf_counter()
    box = make_sandbox(args.workdir, args.leads, args.tasks, args.rows,
                       leads_loaded_now=args.leads_loaded_now, clock=SandboxClock(frozen=False))
    box.start()
    urls = {tool: server.base_url for tool, server in box._servers.items()}
    emit({"overrides": box.overrides, "env": box.env, "ca": str(box.ca.ca_pem), "urls": urls,
          "seed_seconds": round(time.perf_counter() - started, 2)})
    emulators = {"salesforce": box.salesforce, "asana": box.asana, "sheets": box.sheets}
    offset = 0.0  # how far the sandbox clock runs ahead of the wall clock (`advance`)
    for line in sys.stdin:
        command = json.loads(line)
        op = command.get("op")
        if op == "calls":
            emit({tool: dict(e.calls) for tool, e in emulators.items()})
        elif op == "reset":
            box.reset_calls()
            emit({})
        elif op == "burst":
            emit(burst(box, {tool: tuple(size) for tool, size in command["sizes"].items()}))
        elif op == "queried":
            emit(dict(box.salesforce.queried))
        elif op == "mass_update":
            emit({"changed": box.salesforce.mass_update(command["sobject"], command["changes"])})
        elif op == "advance":
            box.clock.advance(float(command["seconds"]))
            offset += float(command["seconds"])
            emit({"offset": offset})
        elif op == "quit":
            emit({})
            break
        else:
            emit({"error": f"unknown op {op!r}"})
    box.stop()
    return 0


def emit(payload: object) -> None:
    sys.stdout.write(json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
