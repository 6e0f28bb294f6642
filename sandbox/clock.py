"""The sandbox's clock: one for the emulators and Baton, so a scripted day runs in seconds and a
test can put a change at 4m59s exactly."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SandboxClock:
    """One clock for the emulators and Baton, so a scripted day runs in seconds.

    Callable (the Salesforce emulator's convention) and with `now()` (Asana's and Sheets').
    """

    def __init__(self, start: datetime | None = None, *, frozen: bool = True) -> None:
        self._now = (start or datetime.now(UTC)).replace(microsecond=0)
        self.frozen = frozen
        self._wall_start = datetime.now(UTC)
        self._start = self._now

    def now(self) -> datetime:
        if self.frozen:
            return self._now
        return self._now + (datetime.now(UTC) - self._wall_start)

    __call__ = now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self.now()

    def set(self, moment: datetime) -> None:
        self._now = moment

    def monotonic(self) -> float:
        return (self.now() - self._start).total_seconds()
