"""`/healthz` and `/metrics`, off by default: `[baton] health_port` (or BATON_HEALTH_PORT), bound
to `[baton] health_host` (default 127.0.0.1; 0.0.0.0 in a container so it can be scraped).

`/metrics` is the standard Prometheus exposition written by `prometheus_client`, with its process
and platform collectors (memory, CPU, open files). Baton's own families are read from the
runner's per-source health and the connectors' call counters at scrape time (a custom
collector): nothing on the hot path keeps extra state for it.

`/healthz` is 200 "ok", or 503 "degraded" while the rule files on disk are broken (the last good
rules run), a source failed three cycles in a row, or a source has not completed a cycle for
longer than its stale limit (three of its intervals). With several instances on PostgreSQL it
lists only the sources this instance holds, and is also degraded while the database does not
answer or the watchdog (`store.watchdog`) sees any source or SLA timer unwatched.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from baton.core.errors import ConfigError
from baton.engine.runner import Runner
from baton.store.instances import Membership
from baton.store.watchdog import KINDS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def health(runner: Runner, now: datetime, stale_after: Mapping[str, float] | None = None,
           membership: Membership | None = None) -> dict[str, Any]:
    sources: dict[str, dict[str, Any]] = {}
    limits = stale_after or {}
    for source_id in runner.connectors:
        if membership is not None and not membership.holds(source_id):
            continue  # another instance runs it; the watchdog below looks at every source
        h = runner.health.get(source_id)
        last = h.last_success if h else None
        lag = (now - last).total_seconds() if last else None
        limit = limits.get(source_id)
        sources[source_id] = {
            "last_success": last.isoformat() if last else None,
            "lag_seconds": round(lag, 1) if lag is not None else None,
            "stale": bool(limit is not None and lag is not None and lag > limit),
            "consecutive_failures": h.consecutive_failures if h else 0,
            "errors_total": h.total_errors if h else 0,
            "last_error": h.last_error if h else None,
            "backing_off_until": h.retry_at.isoformat() if h and h.retry_at else None,
        }
    rules = runner.rules
    healthy = (all(s["consecutive_failures"] < 3 and not s["stale"] for s in sources.values())
               and not rules.broken)
    report: dict[str, Any] = {
        "status": "ok", "sources": sources,
        "rules": {"broken": rules.broken,
                  "problems": [str(p) for p in rules.last_error.problems] if rules.last_error else []}}
    if membership is not None:
        problems = membership.watchdog.problems()
        report["instance"] = {"id": membership.id, "database_reachable": membership.reachable,
                              "held": membership.held(), "live_instances": len(membership.live),
                              "watchdog": [p.describe() for p in problems]}
        healthy = healthy and membership.reachable and not problems
    report["status"] = "ok" if healthy else "degraded"
    return report


class BatonCollector(Collector):
    """Baton's families, computed from the runner when scraped."""

    def __init__(self, runner: Runner, membership: Membership | None = None) -> None:
        self.runner = runner
        self.membership = membership

    def collect(self) -> Iterator[Metric]:
        runner = self.runner
        now = runner.clock()
        if self.membership is not None:
            yield from _instance_metrics(self.membership)
        yield _gauge("baton_rules_broken",
                     "1 while the rule files on disk have problems (the last good rules run).",
                     [({}, 1 if runner.rules.broken else 0)])
        yield _counter("baton_rules_reload_failures", "Rule edits refused.",
                       [({}, runner.rules.failed_reloads)])
        health = runner.health
        yield _counter("baton_cycles", "Completed source cycles.",
                       [({"source": s}, h.cycles) for s, h in health.items()])
        yield _counter("baton_source_errors", "Failed source cycles.",
                       [({"source": s}, h.total_errors) for s, h in health.items()])
        yield _gauge("baton_last_success_timestamp_seconds",
                     "When each source last completed a cycle (Unix time).",
                     [({"source": s}, h.last_success.timestamp())
                      for s, h in health.items() if h.last_success])
        yield _gauge("baton_lag_seconds", "Seconds since each source last completed a cycle.",
                     [({"source": s}, (now - h.last_success).total_seconds())
                      for s, h in health.items() if h.last_success])
        totals = runner.totals
        yield _counter("baton_transitions", "Status transitions recorded.",
                       [({"source": s}, t["transitions"]) for s, t in totals.items()])
        yield _counter("baton_violations", "Gate violations opened.",
                       [({"source": s}, t["violations"]) for s, t in totals.items()])
        yield _counter("baton_writebacks", "Write-backs by outcome.",
                       [({"source": s, "outcome": o}, t[o]) for s, t in totals.items()
                        for o in ("written", "failed")])
        yield _counter("baton_sla_breaches", "SLA escalation steps fired.",
                       [({"source": s}, t["sla_breaches"]) for s, t in totals.items()])
        yield _counter("baton_api_calls", "API calls by source and endpoint.",
                       [({"endpoint": e, "source": s}, n) for s, c in runner.connectors.items()
                        for e, n in sorted(c.api_calls().items())])
        usage = _salesforce_usage(runner)
        yield _gauge("baton_salesforce_api_requests_used",
                     "The org's daily API requests used, from the last Sforce-Limit-Info seen.",
                     [({}, used) for used, _ in usage])
        yield _gauge("baton_salesforce_api_requests_max", "The org's daily API allocation.",
                     [({}, total) for _, total in usage])
        yield _gauge("baton_salesforce_api_usage_ratio",
                     "Share of the org's daily API allocation used (Baton pauses at "
                     "salesforce.api_share_limit).",
                     [({}, used / total) for used, total in usage if total])


def _instance_metrics(membership: Membership) -> Iterator[Metric]:
    problems = membership.watchdog.problems()
    yield _gauge("baton_watchdog_problems",
                 "What the watchdog sees unwatched: unheld or stale sources, overdue SLA timers, "
                 "an unreachable database (0 when all is watched).",
                 [({"kind": k}, sum(p.kind == k for p in problems)) for k in KINDS])
    yield _gauge("baton_instance_database_reachable",
                 "1 while this instance reaches the state's database (0: it acts on nothing).",
                 [({}, 1 if membership.reachable else 0)])
    yield _gauge("baton_sources_held", "Sources this instance holds the lease of.",
                 [({}, len(membership.held()))])
    yield _gauge("baton_live_instances", "Instances with a live heartbeat on this state.",
                 [({}, len(membership.live))])


def _salesforce_usage(runner: Runner) -> list[tuple[int, int]]:
    """(used, max) from the Salesforce org client the connectors share (read, never fetched)."""
    for connector in runner.connectors.values():
        org = getattr(connector, "org", None)
        reading = getattr(org, "api_usage", None)
        if callable(reading):
            value = reading()
            if value:
                return [(int(value[0]), int(value[1]))]
    return []


def _gauge(name: str, text: str, samples: list[tuple[dict[str, str], float]]) -> Metric:
    family = GaugeMetricFamily(name, text, labels=_labels(samples))
    for labels, value in samples:
        family.add_metric(list(labels.values()), value)
    return family


def _counter(name: str, text: str, samples: list[tuple[dict[str, str], float]]) -> Metric:
    family = CounterMetricFamily(name, text, labels=_labels(samples))
    for labels, value in samples:
        family.add_metric(list(labels.values()), value)
    return family


def _labels(samples: list[tuple[dict[str, str], float]]) -> list[str]:
    return list(samples[0][0]) if samples else []


def registry_for(runner: Runner, membership: Membership | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    registry.register(BatonCollector(runner, membership))
    return registry


def metrics(runner: Runner) -> str:
    return generate_latest(registry_for(runner)).decode("utf-8")


def serve(runner: Runner, port: int, host: str = "127.0.0.1",
          stale_after: Mapping[str, float] | None = None,
          membership: Membership | None = None) -> ThreadingHTTPServer:
    try:
        server = ThreadingHTTPServer((host, port), _handler(runner, stale_after, membership))
    except OSError as error:
        raise ConfigError(f"health endpoint: cannot listen on {host}:{port} ({error.strerror}); "
                          "is another Baton running? pick another [baton] health_port") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="baton-health").start()
    return server


def _handler(runner: Runner, stale_after: Mapping[str, float] | None,
             membership: Membership | None) -> type[BaseHTTPRequestHandler]:
    registry = registry_for(runner, membership)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            if self.path == "/healthz":
                report = health(runner, runner.clock(), stale_after, membership)
                body = json.dumps(report, indent=2).encode()
                self._reply(200 if report["status"] == "ok" else 503, "application/json", body)
            elif self.path == "/metrics":
                self._reply(200, CONTENT_TYPE, generate_latest(registry))
            else:
                self._reply(404, "text/plain", b"not found\n")

        def _reply(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
