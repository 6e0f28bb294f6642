"""A per-minute request budget (token bucket) shared by the sources of one tool account."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger()


class RateBudget:
    """At most `per_minute` requests in any 60 seconds; `acquire()` waits when the bucket is empty.

    A token bucket lets through its capacity plus a minute of refill within one minute, so the
    bucket is small (a tenth of the limit) and refills at just under the rest: capacity + 60 s of refill
    equals the limit, and a burst can never earn a 429 from a sliding-window limiter.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        tool: str,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.capacity = max(1.0, per_minute / 10)
        # 0.5 % under the limit, so a request never lands exactly on a window's edge
        self.rate = 0.995 * max(per_minute - self.capacity, 1.0) / 60.0
        self.tool = tool
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def acquire(self, cost: int = 1) -> None:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= cost
            shortfall = -self._tokens
            wait = shortfall / self.rate if shortfall > 0 else 0.0
            self.waited_seconds += wait  # under the lock: sources of a tool run concurrently
        if wait > 0:
            log.info("api.budget_wait", tool=self.tool, wait_s=round(wait, 2))
            self._sleep(wait)
