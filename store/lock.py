"""One writer per state: a second process that would write the same state is refused.

Two `baton run --once` on one config used to write every write-back twice. A writing command
holds the state's `StateLock` for its whole life; a second one is refused with the holder named
(pid, host, since), or waits when asked to. For a SQLite file the lock is an `fcntl.flock` on
`<state>.lock` beside it: the OS drops it when its holder exits or is killed (SIGKILL included),
so it never goes stale the way a pid file does. The file itself stays (removing it would let two
processes lock two different files); it holds the holder's description, for the message.
A PostgreSQL state takes a lease behind the same interface (`leases.PgLease`): one instance
acts, the others wait as standbys, and every write is fenced by the lease's epoch.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from baton.core.errors import StateLocked, StateNotWritable
from baton.store.database import is_postgresql
from baton.store.leases import LeaseHolder, PgLease


@dataclass(frozen=True, slots=True)
class LockHolder:
    pid: int
    host: str
    since: datetime

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.since:%Y-%m-%d %H:%M:%S} UTC"


class StateLock(Protocol):
    def acquire(self, wait: bool = False,
                on_wait: Callable[[LockHolder | None], None] | None = None) -> None:
        """Hold the lock, or raise StateLocked naming the holder (wait: block until it is free)."""

    def release(self) -> None: ...

    def holder(self) -> LockHolder | LeaseHolder | None:
        """Who holds it, as far as is known (None: free, or the holder is not known)."""


class FileLock:
    """`flock` on `<state>.lock`: exclusive, for the life of the process (or until released)."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.path = state.with_name(state.name + ".lock")
        self._fd: int | None = None

    def acquire(self, wait: bool = False,
                on_wait: Callable[[LockHolder | None], None] | None = None) -> None:
        if self._fd is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise StateNotWritable(f"cannot open the state lock {self.path}: {error.strerror}; "
                                   "the user Baton runs as must be able to write there") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.holder()
            if not wait:
                os.close(fd)
                raise StateLocked(
                    f"state {self.state} is in use by another Baton "
                    f"({holder.describe() if holder else 'holder unknown'}); one process writes a "
                    "state at a time: stop that one, or start with --wait-for-lock",
                    holder) from None
            if on_wait is not None:
                on_wait(holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "since": datetime.now(UTC).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing drops the flock

    def holder(self) -> LockHolder | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "null")
            return LockHolder(int(data["pid"]), str(data["host"]),
                              datetime.fromisoformat(data["since"]))
        except (OSError, ValueError, TypeError, KeyError):
            return None  # not written yet, or being rewritten: the holder is not known

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class NoLock:
    """For an in-memory state (tests)."""

    def acquire(self, wait: bool = False,
                on_wait: Callable[[LockHolder | None], None] | None = None) -> None:
        pass

    def release(self) -> None:
        pass

    def holder(self) -> LockHolder | None:
        return None


def lock_for(location: str | Path, password: str | None = None) -> StateLock:
    """The writer lock of a state location: a path (SQLite), a PostgreSQL URL (a lease)."""
    text = str(location)
    if is_postgresql(text):
        return PgLease(text, password)
    if "://" in text or text == ":memory:":
        return NoLock()
    return FileLock(Path(text))
