"""A lease of a PostgreSQL state, fenced by an epoch: the whole-state lease, and its statements.

`baton run` no longer takes the whole-state lease: it joins the instances and leases sources one
by one (`store.instances`), with the statements below on rows named `source:<id>`. `PgLease`
remains the whole-state lease behind `lock.lock_for` (one row, name "state"): one holder acts,
the others wait (`--wait-for-lock`) and take over when it stops renewing. Every time is the DATABASE's clock (`now()`), never an instance's,
so clocks that drift between hosts cannot make two holders. Every takeover raises the epoch.

Fencing: every write of the state (a cycle's commit, a ledger attempt or outcome, a pause) first
reads the lease row `FOR SHARE` inside its own transaction and is refused (`LeaseLost`) unless
this instance still holds it, with its epoch, unexpired. A takeover (an UPDATE of that row)
waits for such a write to commit, so a write is either before the takeover or refused after it:
a paused instance that wakes up (SIGSTOP, a long GC, a partition) writes nothing. Sessions run
with `idle_in_transaction_session_timeout`, so a frozen holder cannot keep the row locked.

The lease is renewed by a thread every third of its period, during long work too (a slow
write-back batch); when a renewal finds the lease lost, or the database unreachable past the
period, the instance stops acting (SIGTERM to itself, logged as `lease.lost`).
Not fenced: a write-back already on its way to a tool when the lease is lost (see README
"Several instances"). The lease period is 15 s unless BATON_LEASE_SECONDS says otherwise.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table, text
from sqlalchemy.exc import DBAPIError

from baton.core.errors import StateLocked
from baton.store import database
from baton.store.schema import MIGRATION_LOCK_KEY, UTCDateTime

log = structlog.get_logger()

DEFAULT_SECONDS = 15.0
STATE = "state"

metadata = MetaData()
leases = Table(
    "baton_leases", metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(300), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("acquired_at", UTCDateTime(), nullable=False),
    Column("renewed_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds a lease (as `lock.LockHolder`): pid and host of the instance, and since when."""

    pid: int
    host: str
    since: datetime

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.since:%Y-%m-%d %H:%M:%S} UTC"


class LeaseLost(StateLocked):
    """This instance no longer holds the state's lease: another took over, or it expired."""


def lease_seconds() -> float:
    return float(os.environ.get("BATON_LEASE_SECONDS") or DEFAULT_SECONDS)


_ACQUIRE = text("""
INSERT INTO baton_leases (name, holder, epoch, acquired_at, renewed_at, expires_at)
VALUES (:name, :holder, 1, now(), now(), now() + make_interval(secs => :ttl))
ON CONFLICT (name) DO UPDATE SET holder = :holder, epoch = baton_leases.epoch + 1,
    acquired_at = now(), renewed_at = now(), expires_at = now() + make_interval(secs => :ttl)
WHERE baton_leases.expires_at <= now()
RETURNING epoch""")
_RENEW = text("""
UPDATE baton_leases SET renewed_at = now(), expires_at = now() + make_interval(secs => :ttl)
WHERE name = :name AND holder = :holder AND epoch = :epoch AND expires_at > now()
RETURNING epoch""")
_RELEASE = text("""
UPDATE baton_leases SET expires_at = now()
WHERE name = :name AND holder = :holder AND epoch = :epoch""")
_FENCE = text("""
SELECT epoch FROM baton_leases
WHERE name = :name AND holder = :holder AND epoch = :epoch AND expires_at > now()
FOR SHARE""")


class PgLease:
    """The `StateLock` of a PostgreSQL state: a lease row with an epoch, renewed in the background."""

    def __init__(self, location: str, password: str | None = None, seconds: float | None = None,
                 name: str = STATE, on_lost: Callable[[str], None] | None = None) -> None:
        self.location = location
        self.name = name
        self.seconds = seconds or lease_seconds()
        self.holder_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.epoch: int | None = None
        self.engine = database.postgresql_engine(location, password, pool_size=2)
        self.on_lost = on_lost or _stop_acting
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- StateLock ---------------------------------------------------------------------------

    def acquire(self, wait: bool = False, on_wait: Callable[[Any], None] | None = None) -> None:
        if self.epoch is not None:
            return
        self._ensure_table()
        waited = False
        while True:
            epoch = self._try_acquire()
            if epoch is not None:
                break
            holder = self.holder()
            if not wait:
                raise StateLocked(
                    f"state {database.describe(self.location)} is in use by another Baton "
                    f"({holder.describe() if holder else 'holder unknown'}); one instance acts on "
                    "a state at a time: start the others with --wait-for-lock (standbys)", holder)
            if on_wait is not None and not waited:
                on_wait(holder)
            waited = True
            time.sleep(min(1.0, self.seconds / 5))
        self.epoch = epoch
        log.info("lease.acquired", lease=self.name, epoch=epoch, holder=self.holder_id,
                 seconds=self.seconds)
        set_active(self)
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name="baton-lease", daemon=True)
        self._thread.start()

    def release(self) -> None:
        if self.epoch is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            with self.engine.begin() as connection:
                connection.execute(_RELEASE, self._key())
        except DBAPIError:
            pass  # unreachable: the lease simply expires
        if active() is self:
            set_active(None)
        self.epoch = None
        self.engine.dispose()

    def holder(self) -> LeaseHolder | None:
        with self.engine.connect() as connection:
            row = connection.execute(text(
                "SELECT holder, acquired_at FROM baton_leases WHERE name = :name "
                "AND expires_at > now()"), {"name": self.name}).first()
        if row is None:
            return None
        host, _, rest = str(row[0]).partition(":")
        pid = rest.partition(":")[0]
        return LeaseHolder(int(pid) if pid.isdigit() else 0, host, row[1])

    # -- fencing -----------------------------------------------------------------------------

    def check(self, connection: Connection) -> None:
        """Inside a write transaction: refuse it unless this instance still holds the lease."""
        if self.epoch is None or connection.execute(_FENCE, self._key()).first() is None:
            raise LeaseLost(f"state {database.describe(self.location)}: this instance lost its "
                            f"lease (epoch {self.epoch}); another instance acts on it now, so "
                            "this write is refused", None)

    def renew(self) -> bool:
        with self.engine.begin() as connection:
            return connection.execute(_RENEW, {**self._key(), "ttl": self.seconds}).first() \
                is not None

    # -- inside ------------------------------------------------------------------------------

    def _key(self) -> dict[str, Any]:
        return {"name": self.name, "holder": self.holder_id, "epoch": self.epoch}

    def _ensure_table(self) -> None:
        with self.engine.begin() as connection:
            database.lock_migrations(connection, MIGRATION_LOCK_KEY)
            leases.create(connection, checkfirst=True)

    def _try_acquire(self) -> int | None:
        with self.engine.begin() as connection:
            # a holder in the middle of a write keeps the row share-locked: do not queue behind it
            connection.execute(text("SET LOCAL lock_timeout = '2s'"))
            try:
                found = connection.execute(_ACQUIRE, {"name": self.name, "holder": self.holder_id,
                                                      "ttl": self.seconds}).first()
            except DBAPIError as error:
                if "lock timeout" in str(error.orig):
                    return None
                raise
        return int(found[0]) if found else None

    def _renew_loop(self) -> None:
        last_ok = time.monotonic()
        while not self._stop.wait(self.seconds / 3):
            try:
                if self.renew():
                    last_ok = time.monotonic()
                    continue
                reason = "lost"
            except DBAPIError as error:
                if time.monotonic() - last_ok < self.seconds:
                    log.warning("lease.renew_failed", lease=self.name, error=str(error.orig)[:200])
                    continue
                reason = "database unreachable"
            log.error("lease.lost", lease=self.name, epoch=self.epoch, reason=reason,
                      holder=self.holder_id)
            self.on_lost(reason)
            return


def _stop_acting(reason: str) -> None:
    """The daemon stops as on SIGTERM (what a cycle leaves pending is in the ledger)."""
    os.kill(os.getpid(), signal.SIGTERM)


def database_now(lease: PgLease) -> datetime:
    with lease.engine.connect() as connection:
        return connection.execute(text("SELECT now()")).scalar_one()


def set_active(lease: PgLease | None) -> None:
    """The lease this process acts under: the store fences its writes with it."""
    database.set_active_fence(lease)


def active() -> PgLease | None:
    found = database.active_fence()
    return found if isinstance(found, PgLease) else None
