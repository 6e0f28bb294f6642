"""Runs the cycles of every source: one failing source never stops the others.

Per source it keeps a small health record: consecutive failures drive an exponential backoff (a
circuit breaker that opens after a few failures and half-opens after the wait); a source that
starts failing logs once, and once again when it recovers.
"""
from __future__ import annotations

from collections import Counter
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from baton.connectors.base import Connector
from baton.core.errors import QuotaExhausted, SourceError
from baton.connectors.webhook import WebhookNotifier
from baton.engine.cycle import CycleReport, run_cycle
from baton.engine.live_rules import LiveRules
from baton.engine.lookups import SnapshotIndexes, SnapshotLookups
from baton.store import StateStore
from baton.store.instances import Membership
from baton.store.leases import LeaseLost

log = structlog.get_logger()


@dataclass
class SourceHealth:
    last_success: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    total_errors: int = 0
    cycles: int = 0
    retry_at: datetime | None = None
    last_report: CycleReport | None = None


@dataclass
class Runner:
    connectors: Mapping[str, Connector]
    store: StateStore
    rules: LiveRules
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    dry_run: bool = False
    notifier: WebhookNotifier | None = None
    max_backoff: timedelta = timedelta(minutes=15)
    health: dict[str, SourceHealth] = field(default_factory=dict)
    totals: dict[str, Counter[str]] = field(default_factory=dict)  # for /metrics
    # how old each source's snapshot may be for cross-tool checks (engine.lookups.allowed_ages)
    lookup_ages: Mapping[str, timedelta] = field(default_factory=dict)
    lookup_indexes: SnapshotIndexes = field(init=False)  # kept across cycles

    def __post_init__(self) -> None:
        self.lookup_indexes = SnapshotIndexes(self.store)

    def _lookups(self, now: datetime) -> SnapshotLookups:
        """This cycle's view of the other sources' snapshots, for cross-tool checks."""
        # Only the kind of error: the text may name internal URLs, and it reaches the teams.
        failing = {sid: (h.last_error or "error").partition(":")[0]
                   for sid, h in list(self.health.items()) if h.consecutive_failures}
        return SnapshotLookups(self.store, now, self.lookup_ages, failing, self.lookup_indexes)
    # Several instances on PostgreSQL: only the sources this one leases run here, each cycle
    # fenced by its source's lease (store.instances); None: every source (SQLite's flock).
    leases: Membership | None = None

    def run_source(self, source_id: str) -> CycleReport | None:
        if self.leases is None:
            return self._run_source(source_id)
        if not self.leases.holds(source_id):
            return None
        with self.leases.acting(source_id):
            report = self._run_source(source_id)
        if report is not None and not self.dry_run:
            self.leases.succeeded(source_id)
        return report

    def _run_source(self, source_id: str) -> CycleReport | None:
        health = self.health.setdefault(source_id, SourceHealth())
        now = self.clock()
        if health.retry_at and now < health.retry_at:
            return None
        paused_until = self.store.source_state(source_id).paused_until
        if paused_until and now < paused_until:
            return None
        bound = log.bind(source=source_id)
        try:
            report = run_cycle(source_id, self.connectors[source_id], self.store,
                               self.rules.current(), now, dry_run=self.dry_run,
                               notifier=self.notifier, lookups=self._lookups(now))
        except LeaseLost as error:  # another instance took it over: it acts from here on
            bound.warning("lease.lost_in_cycle", error=str(error))
            return None
        except QuotaExhausted as error:
            self.store.pause(source_id, error.resume_at, str(error))
            bound.warning("source.paused", until=error.resume_at.isoformat(), reason=str(error))
            return None
        except SourceError as error:
            self._failed(source_id, health, now, error)
            return None
        except Exception as error:  # a bug must not stop the other sources
            bound.exception("source.cycle_crashed")
            self._failed(source_id, health, now, error)
            return None
        if health.consecutive_failures:
            bound.info("source.recovered", after_failures=health.consecutive_failures)
        if paused_until:
            self.store.pause(source_id, None)
        health.consecutive_failures, health.retry_at = 0, None
        health.last_success, health.last_report = now, report
        health.cycles += 1
        self.totals.setdefault(source_id, Counter()).update(
            transitions=report.transitions, violations=report.violations, written=report.written,
            failed=report.failed, sla_breaches=report.sla_breaches)
        if report.transitions or report.written or report.failed or report.baseline:
            bound.info("source.cycle", transitions=report.transitions, violations=report.violations,
                       written=report.written, failed=report.failed, recovered=report.recovered,
                       baseline=report.baseline, records=report.records_seen)
        return report

    def run_all(self) -> dict[str, CycleReport | None]:
        return {source_id: self.run_source(source_id) for source_id in self.connectors}

    def _failed(self, source_id: str, health: SourceHealth, now: datetime, error: Exception) -> None:
        health.consecutive_failures += 1
        health.total_errors += 1
        health.last_error = f"{type(error).__name__}: {error}"
        wait = min(self.max_backoff, timedelta(seconds=15 * 2 ** (health.consecutive_failures - 1)))
        health.retry_at = now + wait if health.consecutive_failures >= 3 else None
        if health.consecutive_failures == 1:
            log.error("source.poll_failed", source=source_id, error=health.last_error)
        elif health.retry_at:
            log.warning("source.backing_off", source=source_id, failures=health.consecutive_failures,
                        retry_in_s=int(wait.total_seconds()))


class SourcePool:
    """Runs cycles on a few worker threads per tool, so a slow or rate-limited Asana project never
    delays Salesforce or Sheets, nor another Asana project. Sources of one tool share a client and
    its rate budget (Asana's is per token, Salesforce's per org, a thread-safe token bucket), so
    concurrency multiplies requests in flight, never the request rate; each source keeps its own
    state and call counter. A source whose previous cycle is still running skips a tick."""

    # Threads per tool: enough that one or two stalled sources (a request waiting out its
    # timeout) leave the others on time; few enough that the state database's pool
    # (store.database: 5 + 5 overflow on PostgreSQL) is not queued on by three tools at once.
    PER_TOOL = 3

    def __init__(self, runner: Runner, tool_of: Mapping[str, str],
                 per_tool: int | None = None) -> None:
        self._runner = runner
        self._tool_of = dict(tool_of)
        sources_of = Counter(self._tool_of.values())
        self._workers = {
            tool: ThreadPoolExecutor(max_workers=max(1, min(count, per_tool or self.PER_TOOL)),
                                     thread_name_prefix=f"baton-{tool}")
            for tool, count in sources_of.items()}
        self._inflight: dict[str, Future[CycleReport | None]] = {}

    def submit(self, source_id: str) -> None:
        running = self._inflight.get(source_id)
        if running is not None and not running.done():
            return
        self._inflight[source_id] = self._workers[self._tool_of[source_id]].submit(
            self._runner.run_source, source_id)

    def stop(self, grace: float) -> bool:
        """Drop queued cycles and give running ones `grace` seconds to finish (they are safe to
        stop between steps); False when one is still waiting on its tool after that."""
        for worker in self._workers.values():
            worker.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace
        for future in self._inflight.values():
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                return False
            except Exception:  # noqa: BLE001, S110 - the runner logged it; stopping either way
                pass
        return True
