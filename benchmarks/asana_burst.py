"""The Asana burst on its own: `--burst` tasks moved one hop into a gated section at once.

    python -m benchmarks.asana_burst [--tasks 5000 --burst 1000 --fail-share 0.3]

One process: the Asana emulator (HTTPS on 127.0.0.1) and Baton with only the `asana:scale`
source, at the paid plan's 1,500 requests a minute (benchmarks/scale.py). The baseline runs
first, then an idle cycle; a minute after the baseline (the sandbox clock runs, as in
`benchmarks.run`) comes the burst of benchmarks/scale.py: each task gets a Landing URL and moves
to "Ready for Web"; `--fail-share` of the URLs lack utm_source (one "Fix UTM" subtask each).
Then ONE cycle, which is what is measured: API calls by route, the actions inside batch calls
(story reads among them), wall time (mostly waiting on the rate budget), CPU of the cycle and
the budget's own wait; then three more cycles, to show the calls fall back to 1. The baseline's
and the idle cycle's calls are shown too. `--pure-moves` sets the Landing URLs before the
baseline, so the burst is section moves alone (which do not bump `modified_at`).

Emulator and Baton share the process, so CPU and RSS are not Baton's alone; the call counts are
exact (the emulator's counters), and wall time is dominated by the budget, not the CPU.
"""
from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from baton.core import logs

SOURCE = "asana:scale"


def run(tasks: int, changed: int, fail_share: float, *, pure_moves: bool = False) -> dict[str, Any]:
    from baton.app.runtime import open_runtime
    from baton.sandbox import asana_seed
    from baton.sandbox.environment import Sandbox, SandboxClock
    from benchmarks.scale import bench_config, bench_secrets

    with tempfile.TemporaryDirectory(prefix="baton-asana-burst-") as tmp:
        workdir = Path(tmp)
        box = Sandbox(workdir / "sandbox", SandboxClock(frozen=False), seed=False,
                      tools=("asana",))
        asana_seed.seed_scale(box.asana, tasks)
        box.start()
        try:
            config = _asana_only(bench_config(box.overrides, workdir / "state.db"), workdir)
            runtime = open_runtime(config, bench_secrets(box.env))
            runner = runtime.runner()
            failing = round(changed * fail_share)
            gids = _candidates(box, changed)
            if pure_moves:
                _set_urls(box, gids, failing)
            box.reset_calls()
            baseline = runner.run_source(SOURCE)
            assert baseline is not None and baseline.baseline
            baseline_calls = dict(box.asana.calls)
            box.clock.advance(30)
            box.reset_calls()
            runner.run_source(SOURCE)
            idle_calls = dict(box.asana.calls)
            box.clock.advance(30)  # the burst comes a minute after the baseline
            before = len(box.asana.projects[asana_seed.SCALE_PROJECT_GID].events)
            if not pure_moves:
                _set_urls(box, gids, failing)
            for gid in gids:
                box.asana.move_task(gid, "Ready for Web", project_gid=asana_seed.SCALE_PROJECT_GID)
            done = (len(gids), min(failing, len(gids)))
            events = len(box.asana.projects[asana_seed.SCALE_PROJECT_GID].events) - before
            box.reset_calls()
            box.asana.action_calls.clear()
            budget = runtime.connectors[SOURCE].workspace.budget
            waited = budget.waited_seconds if budget else 0.0
            wall, cpu = time.perf_counter(), time.process_time()
            report = runner.run_source(SOURCE)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            assert report is not None
            calls = dict(box.asana.calls)
            actions = dict(box.asana.action_calls)
            waited = (budget.waited_seconds if budget else 0.0) - waited
            after = []
            for _ in range(3):  # the next cycles: the bounce-free burst leaves nothing to do
                box.reset_calls()
                runner.run_source(SOURCE)
                after.append(box.asana.total_calls())
            runtime.close()
        finally:
            box.stop()
    return {
        "baseline_calls": baseline_calls, "idle_calls": idle_calls,
        "tasks": tasks, "moved": done[0], "failing": done[1], "events": events,
        "calls": sum(calls.values()), "by_route": dict(sorted(calls.items(), key=lambda kv: -kv[1])),
        "batch_actions": actions, "story_reads": actions.get("get_stories_for_task", 0),
        "transitions": report.transitions, "violations": report.violations,
        "written": report.written, "failed": report.failed,
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "budget_wait_s": round(waited, 2),
        "next_cycles_calls": after,
        "peak_rss_mb_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _asana_only(config: Any, workdir: Path) -> Any:
    """The benchmark config with the Asana source alone, and of benchmarks/rules/scale.toml the
    part before the Sheets gate (the UTM rules and the Asana gate): `baton run` refuses rules
    for a source that is not configured."""
    from benchmarks.scale import ROOT

    text = (ROOT / "benchmarks" / "rules" / "scale.toml").read_text(encoding="utf-8")
    cut = text.index('[[gate]]\nid = "bench-utm-qa"')
    rules = workdir / "asana-scale.toml"
    rules.write_text(text[:cut], encoding="utf-8")
    baton = config.baton.model_copy(update={"rules": [
        str(ROOT / "rules" / "demo" / "taxonomy.toml"), str(rules)]})
    return config.model_copy(update={"baton": baton,
                                     "source": [s for s in config.source if s.id == SOURCE]})


def _candidates(box: Any, changed: int) -> list[str]:
    """The burst's tasks, as benchmarks/scale.py picks them: not yet in Ready for Web or Live."""
    from baton.sandbox import asana_seed

    asana = box.asana
    return [gid for gid in list(asana.tasks)
            if asana.section_of(gid, asana_seed.SCALE_PROJECT_GID) not in ("Ready for Web", "Live")
            and asana_seed.SCALE_PROJECT_GID in asana.tasks[gid].memberships][:changed]


def _set_urls(box: Any, gids: list[str], failing: int) -> None:
    """benchmarks/scale.py's Landing URLs: the first `failing` lack utm_source."""
    from benchmarks.scale import FAILING_URL, PASSING_URL

    for index, gid in enumerate(gids):
        template = FAILING_URL if index < failing else PASSING_URL
        box.asana.set_custom_field(gid, "Landing URL", template.format(n=1000 + index % 9000))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--burst", type=int, default=1_000)
    parser.add_argument("--fail-share", type=float, default=0.3)
    parser.add_argument("--pure-moves", action="store_true")
    args = parser.parse_args()
    logs.configure("json", logging.WARNING, stream=sys.stderr)
    result = run(args.tasks, args.burst, args.fail_share, pure_moves=args.pure_moves)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
