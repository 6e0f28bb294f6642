"""Baton's side of one benchmark scenario, in a process of its own (its rusage is Baton's alone).

    python -m benchmarks.baton_side cycle    --setup setup.json --state state.db --out result.json
    python -m benchmarks.baton_side backfill --setup setup.json --state state.db --out result.json
    python -m benchmarks.baton_side gates    --out result.json [--records 20000]

`cycle` runs one cycle of every source (the first one on a fresh state is the baseline);
`backfill` runs the baseline and then `engine.backfill` over 90 days of history; `gates`
evaluates gates alone (benchmarks/rules/gates.toml) on records built in memory. The result file
holds the wall and CPU time of the measured part, the cycle reports and Baton's own call counts;
the parent adds the process's rusage (CPU, peak RSS) from wait4.
"""
from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baton.core import logs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["cycle", "backfill", "gates"])
    parser.add_argument("--setup", type=Path)
    parser.add_argument("--state", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--source", action="append", default=None,
                        help="only these source ids (default: every source)")
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--log", type=Path, default=None)
    parser.add_argument("--clock-offset", type=float, default=0.0,
                        help="seconds Baton's clock runs ahead (the sandbox clock was advanced)")
    parser.add_argument("--all-configured", action="store_true",
                        help="keep every tool's sources configured, run only --source")
    args = parser.parse_args()
    stream = open(args.log, "a") if args.log else sys.stderr  # noqa: SIM115
    logs.configure("json", logging.INFO, stream=stream)
    if args.scenario == "gates":
        from benchmarks.gates import run_gates

        result: dict[str, Any] = {"gates": run_gates(args.records)}
    else:
        result = run_sources(args.scenario, json.loads(args.setup.read_text()), args.state,
                             args.source, offset=args.clock_offset,
                             all_configured=args.all_configured)
    result["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    args.out.write_text(json.dumps(result, default=str, indent=1))
    return 0


def run_sources(scenario: str, setup: dict[str, Any], state: Path,
                only: list[str] | None, *, offset: float = 0.0,
                all_configured: bool = False) -> dict[str, Any]:
    from benchmarks.scale import bench_config, bench_secrets
    from baton.app.runtime import open_runtime

    wall, cpu = time.perf_counter(), time.process_time()
    # a process per source: only its tool's SDK is imported, as in a one-tool deployment
    config = bench_config(setup["overrides"], state, None if all_configured else only)
    runtime = open_runtime(config, bench_secrets(setup["env"]))
    runner = runtime.runner(clock=lambda: datetime.now(UTC) + timedelta(seconds=offset))
    opened = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    sources: dict[str, Any] = {}
    for source_id in only or list(runtime.connectors):
        wall, cpu = time.perf_counter(), time.process_time()
        report = runner.run_source(source_id)
        entry: dict[str, Any] = {"report": asdict(report) if report else None,
                                 "error": runner.health[source_id].last_error}
        entry["report"] and entry["report"].pop("planned", None)
        if scenario == "backfill":
            from baton.engine.backfill import backfill

            now = datetime.now(UTC)
            entry["backfilled"] = backfill(source_id, runtime.connectors[source_id], runtime.store,
                                           now - timedelta(days=90), now)
        entry["wall"] = time.perf_counter() - wall
        entry["cpu"] = time.process_time() - cpu
        entry["baton_calls"] = dict(runtime.connectors[source_id].api_calls())
        sources[source_id] = entry
    return {"open": opened, "sources": sources}


if __name__ == "__main__":
    sys.exit(main())
