"""Where a config's state lives, and the rule that one process writes it at a time.

Writing commands (run, backfill, reset-state) hold the state's writer lock for their whole
life; read-only ones (report, explain, audit, preview, map, check, run --dry-run) do not.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

from baton.core.config import Config
from baton.store import StateStore
from baton.store.lock import LockHolder, lock_for

log = structlog.get_logger()


def state_location(config: Config) -> str | Path:
    """A path (relative to config.toml) for SQLite, or a database URL as it is."""
    state = config.baton.state
    return state if "://" in state else config.resolve(state)


def open_store(config: Config) -> StateStore:
    """The state for reading (reports, explain, preview): checked, not locked."""
    return StateStore.open(state_location(config))


@contextmanager
def writing(config: Config, wait: bool = False) -> Iterator[None]:
    """Hold the state's writer lock, or raise StateLocked naming the holder (wait: block)."""
    lock = lock_for(state_location(config))

    def waiting(holder: LockHolder | None) -> None:
        log.warning("state.lock_wait", state=str(state_location(config)),
                    holder=holder.describe() if holder else None)

    lock.acquire(wait=wait, on_wait=waiting)
    try:
        yield
    finally:
        lock.release()
