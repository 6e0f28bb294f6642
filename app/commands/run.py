"""`baton run`, `baton backfill` and `baton demo`: the commands that poll the tools.

`run` and `backfill` write the state, so they hold its writer lock (`baton.app.state`); `run`
refuses to start on any problem `baton check` reports, with the same messages.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

import schedule
import structlog

from baton.app import exit_codes
from baton.app.check import check_problems
from baton.app.runtime import open_runtime
from baton.app.state import joined, state_location, writing
from baton.connectors.retry import RetryPolicy
from baton.core import logs
from baton.core.clock import utcnow
from baton.core.config import Config, load_config
from baton.engine.runner import SourcePool
from baton.store.database import is_postgresql
from baton.store.instances import Membership

log = structlog.get_logger()

# A stop ends within this much more than a cycle's current step (well inside systemd's 90 s).
STOP_GRACE_SECONDS = 15.0


def command_run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    logs.configure(config.baton.log_format)
    problems = check_problems(config)
    if problems:
        print(f"not starting: {len(problems)} problem(s) in the configuration "
              "(`baton check` lists the same):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return exit_codes.USAGE
    if args.dry_run:  # writes nothing: it may run beside the daemon
        return _dry_run(config)
    if not args.once and is_postgresql(state_location(config)):
        # several instances: this one joins them and acts on its share (--wait-for-lock is moot)
        with joined(config) as membership:
            return _daemon(config, membership)
    with writing(config, wait=args.wait_for_lock):
        return _once(config) if args.once else _daemon(config)


def _once(config: Config) -> int:
    runtime = open_runtime(config, retry=RetryPolicy())
    try:
        runner = runtime.runner()
        runner.run_all()
    finally:
        runtime.close()
    healthy = all(h.consecutive_failures == 0 for h in runner.health.values())
    return exit_codes.OK if healthy else exit_codes.PROBLEMS


def _dry_run(config: Config) -> int:
    """Every source is read, baseline or not: a source without a baseline says what its first
    run would take (engine.dry_run); the others print their plan. A source that cannot be
    reached or refuses the credentials is an error on stderr and exit 1, never a quiet zero."""
    from baton.core.errors import SourceError
    from baton.engine.dry_run import look_at_baseline, render

    location = state_location(config)
    if isinstance(location, Path) and not location.exists():  # create no state: look in memory
        config = config.model_copy(update={"baton": config.baton.model_copy(
            update={"state": "sqlite://"})})
    runtime = open_runtime(config, retry=RetryPolicy(attempts=2, max_elapsed=20.0))
    failed = []
    try:
        runner = runtime.runner(dry_run=True)
        for source_id, connector in runtime.connectors.items():
            if not runtime.store.source_state(source_id).has_baseline:
                try:
                    look = look_at_baseline(source_id, connector, runtime.rules.current(), utcnow())
                except SourceError as error:
                    failed.append(f"{source_id}: {type(error).__name__}: {error}")
                    continue
                print(render(look))
                continue
            report = runner.run_source(source_id)
            if report is None:
                health = runner.health.get(source_id)
                failed.append(f"{source_id}: {health.last_error if health else 'not read'}")
                continue
            print(f"{source_id}: {report.records_seen} changed record(s) read, "
                  f"{len(report.planned)} action(s) planned (dry run, nothing written)")
            for line in report.planned:
                print(f"  {line}")
    finally:
        runtime.close()
    for line in failed:
        print(f"dry run: {line} (nothing was checked for this source; `baton doctor` "
              "shows what to fix)", file=sys.stderr)
    return exit_codes.PROBLEMS if failed else exit_codes.OK


def _daemon(config: Config, membership: Membership | None = None) -> int:
    stopping = threading.Event()

    def pause(seconds: float) -> None:
        stopping.wait(seconds)

    # On SIGTERM, retry waits (a Retry-After of a minute) end at once and no further attempt
    # starts; what a cycle leaves pending is safe in the ledger.
    runtime = open_runtime(config, retry=RetryPolicy(sleep=pause, stopped=stopping.is_set))
    runner = runtime.runner()
    runner.leases = membership

    def stop(signum: int, _frame: object) -> None:
        log.info("daemon.stopping", signal=signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pool = SourcePool(runner, {s.id: s.tool for s in config.source})
    scheduler = schedule.Scheduler()
    for source in config.source:
        scheduler.every(config.interval_for(source)).seconds.do(pool.submit, source.id)
    port = health_port(config)
    if port:
        from baton.app.health import serve

        serve(runner, port, health_host(config),
              stale_after={s.id: 3.0 * config.interval_for(s) for s in config.source},
              membership=membership)
    log.info("daemon.started", sources=[s.id for s in config.source], health_port=port or None,
             health_host=health_host(config) if port else None,
             instance=membership.id if membership else None,
             held=membership.held() if membership else None)
    for source in config.source:
        pool.submit(source.id)
    while not stopping.is_set():
        scheduler.run_pending()
        for source_id in membership.newly_acquired() if membership else ():
            pool.submit(source_id)  # taken over or newly ours: its cycle starts now
        stopping.wait(min(1.0, max(0.05, scheduler.idle_seconds or 1.0)))
    if not pool.stop(grace=STOP_GRACE_SECONDS):
        # A request still hangs on a stalled tool (up to its timeout). Leave now, as a kill
        # would: the ledger keeps what was pending and the next start completes it, once.
        log.warning("daemon.stop_timeout", grace_s=STOP_GRACE_SECONDS)
        log.info("daemon.stopped")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exit_codes.OK)
    runtime.close()
    log.info("daemon.stopped")
    return exit_codes.OK


def health_port(config: Config) -> int:
    """BATON_HEALTH_PORT, else `[baton] health_port`: a container sets the one variable that
    its HEALTHCHECK reads too (one setting, not two)."""
    from baton.core.errors import ConfigError

    text = os.environ.get("BATON_HEALTH_PORT", "").strip()
    if not text:
        return config.baton.health_port
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"BATON_HEALTH_PORT={text!r}: expected a port number (1-65535)")
    return int(text)


def health_host(config: Config) -> str:
    """BATON_HEALTH_HOST, else `[baton] health_host` (default 127.0.0.1)."""
    return os.environ.get("BATON_HEALTH_HOST", "").strip() or config.baton.health_host


def command_backfill(args: argparse.Namespace) -> int:
    from baton.engine.backfill import backfill
    from baton.kpi.commands import parse_moment

    config = load_config(args.config)
    logs.configure(config.baton.log_format)
    with writing(config, wait=args.wait_for_lock):
        runtime = open_runtime(config)
        try:
            since = parse_moment(args.since, utcnow())
            for source_id, connector in runtime.connectors.items():
                added = backfill(source_id, connector, runtime.store, since, utcnow())
                print(f"{source_id}: {added} transition(s) backfilled from history (no write-backs)")
        finally:
            runtime.close()
    return exit_codes.OK


def command_demo(args: argparse.Namespace) -> int:
    from baton.app.demo import run_demo

    # the demo runs its own shipped config; --config only when given explicitly
    config = None if args.config == Path("config.toml") else args.config
    return run_demo(config, workdir=args.workdir, keep=args.keep)
