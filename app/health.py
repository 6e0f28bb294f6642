"""`/healthz` and `/metrics` (Prometheus text format), off by default: `[baton] health_port`.

Everything is read from the runner's per-source health and the connectors' call counters at
request time; nothing on the hot path keeps extra state for it.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from baton.core.errors import ConfigError
from baton.engine.runner import Runner


def health(runner: Runner, now: datetime) -> dict[str, Any]:
    sources: dict[str, dict[str, Any]] = {}
    for source_id in runner.connectors:
        h = runner.health.get(source_id)
        last = h.last_success if h else None
        sources[source_id] = {
            "last_success": last.isoformat() if last else None,
            "lag_seconds": round((now - last).total_seconds(), 1) if last else None,
            "consecutive_failures": h.consecutive_failures if h else 0,
            "errors_total": h.total_errors if h else 0,
            "last_error": h.last_error if h else None,
            "backing_off_until": h.retry_at.isoformat() if h and h.retry_at else None,
        }
    rules = runner.rules
    healthy = all(s["consecutive_failures"] < 3 for s in sources.values()) and not rules.broken
    return {"status": "ok" if healthy else "degraded", "sources": sources,
            "rules": {"broken": rules.broken,
                      "problems": [str(p) for p in rules.last_error.problems] if rules.last_error else []}}


def metrics(runner: Runner) -> str:
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP baton_{name} {help_text}")
        lines.append(f"# TYPE baton_{name} {kind}")
        for labels, value in samples:
            rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            lines.append(f"baton_{name}{{{rendered}}} {value}")

    totals = runner.totals
    family("rules_broken", "gauge", "1 while the rule files on disk have problems (the last good rules run).",
           [({}, 1 if runner.rules.broken else 0)])
    family("rules_reload_failures_total", "counter", "Rule edits refused.",
           [({}, runner.rules.failed_reloads)])
    family("cycles_total", "counter", "Completed source cycles.",
           [({"source": s}, h.cycles) for s, h in runner.health.items()])
    family("source_errors_total", "counter", "Failed source cycles.",
           [({"source": s}, h.total_errors) for s, h in runner.health.items()])
    family("transitions_total", "counter", "Status transitions recorded.",
           [({"source": s}, t["transitions"]) for s, t in totals.items()])
    family("violations_total", "counter", "Gate violations opened.",
           [({"source": s}, t["violations"]) for s, t in totals.items()])
    family("writebacks_total", "counter", "Write-backs by outcome.",
           [({"source": s, "outcome": o}, t[o]) for s, t in totals.items() for o in ("written", "failed")])
    family("sla_breaches_total", "counter", "SLA escalation steps fired.",
           [({"source": s}, t["sla_breaches"]) for s, t in totals.items()])
    family("api_calls_total", "counter", "API calls by source and endpoint.",
           [({"source": s, "endpoint": e}, n) for s, c in runner.connectors.items()
            for e, n in sorted(c.api_calls().items())])
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def serve(runner: Runner, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            if self.path == "/healthz":
                report = health(runner, runner.clock())
                body = json.dumps(report, indent=2).encode()
                self._reply(200 if report["status"] == "ok" else 503, "application/json", body)
            elif self.path == "/metrics":
                self._reply(200, "text/plain; version=0.0.4", metrics(runner).encode())
            else:
                self._reply(404, "text/plain", b"not found\n")

        def _reply(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as error:
        raise ConfigError(f"health endpoint: cannot listen on {host}:{port} ({error.strerror}); "
                          "is another Baton running? pick another [baton] health_port") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="baton-health").start()
    return server
