"""Where a config's state lives, and the rule that one process writes it at a time.

Writing commands (run, backfill, reset-state) hold the state's writer lock for their whole
life; read-only ones (report, explain, audit, preview, map, check, run --dry-run) do not.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

from baton.app.exit_codes import Refused
from baton.core.config import Config, Secrets
from baton.store import StateStore
from baton.store import database
from baton.store.database import PASSWORD_SECRET, is_postgresql, is_url
from baton.store.instances import Membership
from baton.store.leases import LeaseHolder
from baton.store.lock import LockHolder, lock_for

log = structlog.get_logger()


def state_location(config: Config) -> str | Path:
    """A path (relative to config.toml) for SQLite, or a database URL as it is."""
    state = config.baton.state
    return state if "://" in state else config.resolve(state)


def state_password(config: Config, secrets: Secrets | None = None) -> str | None:
    """A database state's password: BATON_STATE_PASSWORD from the environment or the secrets
    file (never from the URL in config.toml); None for a SQLite file."""
    if not is_url(config.baton.state):
        return None
    if secrets is None:
        secrets = Secrets(config.resolve(config.baton.secrets_file)
                          if config.baton.secrets_file else None)
    return secrets.get(PASSWORD_SECRET)


def open_store(config: Config) -> StateStore:
    """The state for reading (reports, explain, preview): checked, not locked."""
    return StateStore.open(state_location(config), state_password(config))


def open_recorded(config: Config, command: str) -> StateStore:
    """The state for a command that reads what `baton run` recorded: never created here, and
    refused (Refused: exit 1) when missing or empty, rather than answering with zeros."""
    location = state_location(config)
    first = "run `baton run --once` first (it takes the baseline), or pass the --config of a state"
    if isinstance(location, Path) and not location.exists():
        raise Refused(f"no state at {location}: `baton {command}` reads what `baton run` "
                      f"recorded, and there is nothing yet; {first}")
    store = StateStore.open(location, state_password(config))
    if store.count("records") == 0 and not any(store.source_state(s.id).has_baseline
                                               for s in config.source):
        raise Refused(f"the state at {location} is empty (no baseline, no record): "
                      f"`baton {command}` has nothing to read; {first}")
    return store


def _waiting(config: Config) -> Callable[[LockHolder | LeaseHolder | None], None]:
    def waiting(holder: LockHolder | LeaseHolder | None) -> None:
        log.warning("state.lock_wait", state=database.describe(state_location(config)),
                    holder=holder.describe() if holder else None)

    return waiting


@contextmanager
def writing(config: Config, wait: bool = False) -> Iterator[None]:
    """Hold the state's writer lock, or raise StateLocked naming the holder (wait: block).

    On PostgreSQL the "lock" is every source's lease (`store.instances`, unregistered): a
    `run --once` or a backfill acts on every source, beside daemons that hold none of them."""
    location = state_location(config)
    if is_postgresql(location):
        membership = Membership(str(location), state_password(config),
                                [s.id for s in config.source], fair=False)
        membership.acquire_all(wait=wait, on_wait=_waiting(config))
        try:
            yield
        finally:
            membership.stop()
        return
    lock = lock_for(location, state_password(config))
    lock.acquire(wait=wait, on_wait=_waiting(config))
    try:
        yield
    finally:
        lock.release()


@contextmanager
def joined(config: Config) -> Iterator[Membership | None]:
    """`baton run` (the daemon): on PostgreSQL, join the instances and act on a fair share of
    the sources (None on SQLite, where the caller holds the flock through `writing`)."""
    location = state_location(config)
    membership = Membership(str(location), state_password(config), [s.id for s in config.source],
                            intervals={s.id: float(config.interval_for(s)) for s in config.source})
    membership.start()
    try:
        yield membership
    finally:
        membership.stop()
