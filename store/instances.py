"""Several instances on one PostgreSQL state: each source leased by one of them, fenced by epoch.

How it relates to the whole-state lease (`leases.PgLease`): on PostgreSQL `baton run` takes no
whole-state lease any more. Each running instance registers a row in `baton_instances` with a
heartbeat (expiry by the DATABASE's clock), and each source is a lease row `source:<id>` in
`baton_leases` (holder, epoch, expiry: the same statements as the whole-state lease, so a
takeover raises the epoch and waits for a write in flight). Every store write is fenced by the
lease of the source whose cycle makes it (`acting(source)`, a context variable), or, outside a
cycle, by every lease the process holds. `baton run --once` and `baton backfill` hold every
source's lease for their short life (waiting with --wait-for-lock) without registering, so the
daemons do not count them in their shares. SQLite is unchanged: one flock, one process.

Fair share, recomputed on every tick (a third of the lease period) from the live instances:
each source goes to the highest-ranked instance (rendezvous hash of source x instance) that
still has room, sources taken in name order; S mod N instances get ceil(S/N), the others
floor(S/N). Every instance computes the same
answer, so nobody argues; a join moves only what the newcomer wins, and a holder releases a
source it no longer wins only between two of its cycles (no new cycle starts meanwhile). An
instance that dies stops heartbeating: after one period it is not live, its leases have run
out, and the others take its sources. Renewals run in this thread, also during a slow
write-back batch. An instance that cannot reach the database for a whole period drops every
source (its leases run out by the database's clock anyway), says so, and takes its share again
when the database answers.
"""
from __future__ import annotations

import contextvars
import hashlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Column, Connection, Float, Integer, MetaData, String, Table, text
from sqlalchemy.exc import DBAPIError

from baton.core.errors import StateLocked
from baton.store import database
from baton.store.leases import (
    _ACQUIRE, _FENCE, _RELEASE, _RENEW, LeaseHolder, LeaseLost, lease_seconds, leases,
)
from baton.store.schema import MIGRATION_LOCK_KEY, UTCDateTime
from baton.store.watchdog import Watchdog

log = structlog.get_logger()

PREFIX = "source:"
metadata = MetaData()
instances = Table(
    "baton_instances", metadata,
    Column("id", String(300), primary_key=True),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("heartbeat_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)
# The last successful cycle of every source, by the database's clock: every instance sees it.
source_runs = Table(
    "baton_source_runs", metadata,
    Column("source", String(200), primary_key=True),
    Column("holder", String(300), nullable=False),
    Column("last_success_at", UTCDateTime(), nullable=False),
    Column("interval_seconds", Float, nullable=False),
)

# (source, epoch) of the cycle this thread runs: the epoch as the cycle began, so a cycle that
# outlived its lease is refused even if this instance has taken the source again since
_acting: contextvars.ContextVar[tuple[str, int | None] | None] = contextvars.ContextVar(
    "baton_acting", default=None)

_HEARTBEAT = text("""
INSERT INTO baton_instances (id, host, pid, started_at, heartbeat_at, expires_at)
VALUES (:id, :host, :pid, now(), now(), now() + make_interval(secs => :ttl))
ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(),
    expires_at = now() + make_interval(secs => :ttl)""")
_LIVE = text("SELECT id FROM baton_instances WHERE expires_at > now() ORDER BY id")
_SUCCEEDED = text("""
INSERT INTO baton_source_runs (source, holder, last_success_at, interval_seconds)
VALUES (:source, :holder, now(), :interval)
ON CONFLICT (source) DO UPDATE SET holder = :holder, last_success_at = now(),
    interval_seconds = :interval""")


def lease_name(source: str) -> str:
    return PREFIX + source


def rank(source: str, instance: str) -> int:
    """Rendezvous weight of (source, instance): stable on every host and every run."""
    return int.from_bytes(hashlib.sha256(f"{source}\0{instance}".encode()).digest()[:8], "big")


def fair_assignment(sources: Sequence[str], live: Sequence[str]) -> dict[str, str]:
    """Which live instance each source goes to, by rendezvous rank, balanced: S mod N instances
    take ceil(S/N) sources, the others floor(S/N)."""
    if not live:
        return {}
    low, extra = divmod(len(sources), len(live))
    load = dict.fromkeys(live, 0)
    chosen: dict[str, str] = {}
    for source in sorted(sources):
        for instance in sorted(live, key=lambda i: rank(source, i), reverse=True):
            full = sum(n > low for n in load.values())
            if load[instance] < low or (load[instance] == low and full < extra):
                chosen[source] = instance
                load[instance] += 1
                break
    return chosen


class Membership:
    """This process's place among the instances of a PostgreSQL state, and its source leases.

    `fair=True` (the daemon): registered, takes its fair share, renewed by a thread.
    `fair=False` (run --once, backfill): holds every source for its life, unregistered.
    The object is the process's fence (`database.set_active_fence`): `check` runs inside every
    write transaction of the store.
    """

    def __init__(self, location: str, password: str | None, sources: Sequence[str], *,
                 intervals: Mapping[str, float] | None = None, seconds: float | None = None,
                 fair: bool = True) -> None:
        self.location = location
        self.sources = sorted(sources)
        self.intervals = dict(intervals or {})
        self.seconds = seconds or lease_seconds()
        self.fair = fair
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.engine = database.postgresql_engine(location, password, pool_size=2)
        self.reachable = True
        self.live: list[str] = []
        self._held: dict[str, int] = {}  # source -> epoch
        self._releasing: set[str] = set()
        self._inflight: set[str] = set()
        self._new: list[str] = []
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_ok = time.monotonic()
        self.watchdog = Watchdog(self.sources, self.intervals, grace=self.seconds)  # looked at on every tick

    # -- life --------------------------------------------------------------------------------

    def start(self) -> None:
        """Join: register, take a first share, renew in the background."""
        try:
            ensure_tables(self.engine)
            self.tick()
        except DBAPIError as error:
            self.engine.dispose()
            raise database.unusable(self.location, error) from None
        database.set_active_fence(self)
        self._thread = threading.Thread(target=self._loop, name="baton-instance", daemon=True)
        self._thread.start()
        log.info("instance.joined", instance=self.id, live=len(self.live), held=self.held(),
                 lease_seconds=self.seconds)

    def acquire_all(self, wait: bool = False,
                    on_wait: Callable[[LeaseHolder | None], None] | None = None) -> None:
        """Hold every source (run --once, backfill), or raise StateLocked naming a holder."""
        try:
            ensure_tables(self.engine)
        except DBAPIError as error:
            self.engine.dispose()
            raise database.unusable(self.location, error) from None
        waited = False
        while True:
            for source in self.sources:
                if source not in self._held:
                    self._try_acquire(source)
            missing = [s for s in self.sources if s not in self._held]
            if not missing:
                break
            holder = holder_of(self.engine, lease_name(missing[0]))
            if not wait:
                self.stop()
                raise StateLocked(
                    f"source {missing[0]} of state {database.describe(self.location)} is held by "
                    f"another Baton ({holder.describe() if holder else 'holder unknown'}); start "
                    "with --wait-for-lock to wait until every source is free", holder)
            if on_wait is not None and not waited:
                on_wait(holder)
            waited = True
            self._renew_held()
            time.sleep(min(1.0, self.seconds / 5))
        database.set_active_fence(self)
        self._thread = threading.Thread(target=self._loop, name="baton-instance", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Leave: release every lease at once (the others need not wait for it to expire)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        try:
            with self.engine.begin() as connection:
                for source, epoch in list(self._held.items()):
                    connection.execute(_RELEASE, {"name": lease_name(source), "holder": self.id,
                                                  "epoch": epoch})
                if self.fair:
                    connection.execute(text("DELETE FROM baton_instances WHERE id = :id"),
                                       {"id": self.id})
        except DBAPIError:
            pass  # unreachable: the leases and the heartbeat simply expire
        self._held.clear()
        if database.active_fence() is self:
            database.set_active_fence(None)
        self.engine.dispose()

    # -- what the runner asks ----------------------------------------------------------------

    def holds(self, source: str) -> bool:
        with self._guard:
            return source in self._held and source not in self._releasing

    def held(self) -> list[str]:
        with self._guard:
            return sorted(self._held)

    def newly_acquired(self) -> list[str]:
        with self._guard:
            new, self._new = self._new, []
        return new

    @contextmanager
    def acting(self, source: str) -> Iterator[None]:
        """A cycle of `source`: its writes are fenced by its lease; no release in the middle."""
        with self._guard:
            self._inflight.add(source)
            epoch = self._held.get(source)
        token = _acting.set((source, epoch))
        try:
            yield
        finally:
            _acting.reset(token)
            with self._guard:
                self._inflight.discard(source)

    def succeeded(self, source: str) -> None:
        """A cycle of `source` completed: when, by the database's clock (for the watchdog)."""
        try:
            with self.engine.begin() as connection:
                connection.execute(_SUCCEEDED, {"source": source, "holder": self.id,
                                                "interval": self.intervals.get(source, 60.0)})
        except DBAPIError as error:
            log.warning("instance.record_failed", source=source, error=str(error.orig)[:200])

    # -- fencing -----------------------------------------------------------------------------

    def check(self, connection: Connection) -> None:
        """Inside a write transaction: refused unless the lease of the acting source (outside a
        cycle: of every source this process holds) is still this instance's, same epoch."""
        acting = _acting.get()
        with self._guard:
            keys = [acting] if acting is not None else list(self._held.items())
        if not keys:
            raise LeaseLost(f"state {database.describe(self.location)}: this instance holds no "
                            "source lease, so this write is refused", None)
        for name, epoch in keys:
            if epoch is None or connection.execute(_FENCE, {
                    "name": lease_name(name), "holder": self.id, "epoch": epoch}).first() is None:
                raise LeaseLost(f"source {name}: this instance lost its lease (epoch {epoch}); "
                                "another instance acts on it now, so this write is refused", None)

    # -- the tick ----------------------------------------------------------------------------

    def tick(self) -> None:
        """Heartbeat, renew, release what is no longer ours, take what is (one round)."""
        with self.engine.begin() as connection:
            if self.fair:
                connection.execute(_HEARTBEAT, {"id": self.id, "host": socket.gethostname(),
                                                "pid": os.getpid(), "ttl": self.seconds})
            self.live = list(connection.execute(_LIVE).scalars())
        self._renew_held()
        if self.fair:
            mine = {s for s, i in fair_assignment(self.sources, self.live).items() if i == self.id}
            with self._guard:  # one it was about to hand over is its own again (a leave)
                self._releasing -= mine
            for source in sorted(set(self._held) - mine):
                self._release_when_idle(source)
            for source in sorted(mine - set(self._held)):
                self._try_acquire(source)
        self._last_ok = time.monotonic()
        if not self.reachable:
            self.reachable = True
            self.watchdog.reachable()
            log.warning("instance.database_back", instance=self.id, held=self.held())
        if self.fair:
            with self.engine.connect() as connection:
                self.watchdog.look(connection)

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.tick()
            except DBAPIError as error:
                self._unreachable(error)
            except Exception:  # noqa: BLE001 - a bug must not end the renewals silently
                log.exception("instance.tick_crashed", instance=self.id)

    def _unreachable(self, error: DBAPIError) -> None:
        if time.monotonic() - self._last_ok < self.seconds:
            log.warning("instance.tick_failed", instance=self.id, error=str(error.orig)[:200])
            return
        if self.reachable or self._held:
            # its leases have run out by now: stop acting before another instance starts
            with self._guard:
                dropped = sorted(self._held)
                self._held.clear()
                self._releasing.clear()
            self.reachable = False
            log.error("instance.database_unreachable", instance=self.id, dropped=dropped,
                      error=str(error.orig)[:200])
            self.watchdog.unreachable(f"stopped acting on {len(dropped)} source(s): "
                                      f"{str(error.orig)[:120]}")

    def _renew_held(self) -> None:
        for source, epoch in list(self._held.items()):
            with self.engine.begin() as connection:
                renewed = connection.execute(_RENEW, {"name": lease_name(source), "holder": self.id,
                                                      "epoch": epoch, "ttl": self.seconds}).first()
            if renewed is None:
                with self._guard:
                    self._held.pop(source, None)
                    self._releasing.discard(source)
                log.error("lease.lost", lease=lease_name(source), epoch=epoch, instance=self.id)

    def _release_when_idle(self, source: str) -> None:
        with self._guard:
            self._releasing.add(source)  # no new cycle of it starts
            if source in self._inflight:
                return
            epoch = self._held.pop(source)
            self._releasing.discard(source)
        with self.engine.begin() as connection:
            connection.execute(_RELEASE, {"name": lease_name(source), "holder": self.id,
                                          "epoch": epoch})
        log.info("lease.released", lease=lease_name(source), epoch=epoch, instance=self.id,
                 reason="fair share")

    def _try_acquire(self, source: str) -> None:
        with self.engine.begin() as connection:
            # a holder in the middle of a write keeps the row share-locked: do not queue behind it
            connection.execute(text("SET LOCAL lock_timeout = '2s'"))
            try:
                found = connection.execute(_ACQUIRE, {"name": lease_name(source),
                                                      "holder": self.id,
                                                      "ttl": self.seconds}).first()
            except DBAPIError as error:
                if "lock timeout" in str(error.orig):
                    return
                raise
        if found is None:
            return
        with self._guard:
            self._held[source] = int(found[0])
            self._new.append(source)
        log.info("lease.acquired", lease=lease_name(source), epoch=int(found[0]),
                 instance=self.id)


def ensure_tables(engine: Any) -> None:
    with engine.begin() as connection:
        database.lock_migrations(connection, MIGRATION_LOCK_KEY)
        leases.create(connection, checkfirst=True)
        metadata.create_all(connection, checkfirst=True)


def holder_of(engine: Any, name: str) -> LeaseHolder | None:
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT holder, acquired_at FROM baton_leases WHERE name = :name "
            "AND expires_at > now()"), {"name": name}).first()
    if row is None:
        return None
    host, _, rest = str(row[0]).partition(":")
    pid = rest.partition(":")[0]
    return LeaseHolder(int(pid) if pid.isdigit() else 0, host, row[1])


def database_now(connection: Connection) -> datetime:
    return connection.execute(text("SELECT now()")).scalar_one()

