"""No unwatched minute: what every instance of a PostgreSQL state looks for on each of its ticks.

- a source whose lease nobody holds for longer than a lease period (`unheld`): every instance
  is gone, or none may take it (a hand-over leaves a source unheld for a moment);
- a source whose last successful cycle (by the database's clock, `baton_source_runs`, written
  by whichever instance ran it) is older than twice its interval (`stale`); a source held for
  that long without any success counts too;
- an open SLA timer past its deadline by more than a minute that no cycle has marked breached
  (`sla_overdue`): its escalation is due and nobody fired it;
- this instance cannot reach the database (`database_unreachable`, set by `instances`).

A problem is logged once when it appears (`watchdog.<kind>`) and once when it clears
(`watchdog.cleared`); the current list is in /healthz (degraded) and in /metrics.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection, text

log = structlog.get_logger()

KINDS = ("unheld", "stale", "sla_overdue", "database_unreachable")
OVERDUE_SECONDS = 60.0

_LEASES = text("""
SELECT substr(name, 8), holder, extract(epoch FROM now() - acquired_at)
FROM baton_leases WHERE name LIKE 'source:%' AND expires_at > now()""")
_RUNS = text("""
SELECT source, extract(epoch FROM now() - last_success_at) FROM baton_source_runs""")
_OVERDUE = text("""
SELECT source, record_id, sla_id, deadline FROM sla_timers
WHERE closed_at IS NULL AND NOT breached AND deadline < now() - make_interval(secs => :grace)
ORDER BY deadline LIMIT 20""")


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    subject: str  # a source id, or "<source> <record> <sla>"
    detail: str

    def describe(self) -> str:
        return f"{self.kind}: {self.subject} ({self.detail})"


class Watchdog:
    def __init__(self, sources: Sequence[str], intervals: Mapping[str, float],
                 grace: float = 15.0) -> None:
        self.sources = list(sources)
        self.intervals = dict(intervals)
        self.grace = grace  # a source handed from one instance to another is unheld a moment
        self._unheld_since: dict[str, float] = {}
        self._problems: list[Problem] = []
        self._guard = threading.Lock()

    def problems(self) -> list[Problem]:
        with self._guard:
            return list(self._problems)

    def look(self, connection: Connection) -> list[Problem]:
        held = {row[0]: (row[1], float(row[2])) for row in connection.execute(_LEASES)}
        runs = {row[0]: float(row[1]) for row in connection.execute(_RUNS)}
        found = []
        for source in self.sources:
            limit = 2.0 * self.intervals.get(source, 60.0)
            if source not in held:
                since = self._unheld_since.setdefault(source, time.monotonic())
                if time.monotonic() - since >= self.grace:
                    found.append(Problem("unheld", source, "no live instance holds its lease"))
                continue
            self._unheld_since.pop(source, None)
            age = runs.get(source)
            held_for = held[source][1]
            if age is not None and age > limit and held_for > limit:
                found.append(Problem("stale", source, f"last successful cycle {age:.0f} s ago, "
                                                      f"more than twice its interval"))
            elif age is None and held_for > limit:
                found.append(Problem("stale", source, f"held {held_for:.0f} s, no successful "
                                                      "cycle yet"))
        migrated = connection.execute(text("SELECT to_regclass('sla_timers')")).scalar()
        for source, record_id, sla_id, deadline in connection.execute(
                _OVERDUE, {"grace": OVERDUE_SECONDS}) if migrated else ():
            found.append(Problem("sla_overdue", f"{source} {record_id} {sla_id}",
                                 f"deadline {deadline:%Y-%m-%d %H:%M:%S} UTC passed, not escalated"))
        self.report(found, keep=("database_unreachable",))
        return found

    def report(self, found: list[Problem], keep: Sequence[str] = ()) -> None:
        """Replace the current problems (those of the kinds in `keep` stay), logging changes."""
        with self._guard:
            before = set(self._problems)
            now = [*found, *(p for p in self._problems if p.kind in keep and p not in found)]
            self._problems = now
        for problem in [p for p in now if p not in before]:
            log.warning(f"watchdog.{problem.kind}", subject=problem.subject, detail=problem.detail)
        for problem in before - set(now):
            log.info("watchdog.cleared", kind=problem.kind, subject=problem.subject)

    def unreachable(self, reason: str) -> None:
        with self._guard:
            others = [p for p in self._problems if p.kind != "database_unreachable"]
        self.report([*others, Problem("database_unreachable", "state", reason)])

    def reachable(self) -> None:
        self.report([p for p in self.problems() if p.kind != "database_unreachable"])
