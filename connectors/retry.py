"""One bounded retry policy for every connector, built once on tenacity.

Whether to retry is decided by the exception type (see errors.py); this module only waits:
exponential backoff with jitter, or exactly `Retry-After` when the tool sent one, and it
stops on attempts or elapsed time, whichever comes first.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from baton.core.errors import RateLimited, TransientError

log = structlog.get_logger()
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    max_elapsed: float = 120.0
    initial_wait: float = 0.5
    max_wait: float = 60.0
    sleep: Callable[[float], None] = time.sleep  # tests pass a no-op
    # True once the process is stopping: no further attempt starts (the daemon passes its stop
    # event's is_set, and its wait as `sleep`, so a stop ends waits and retries at once)
    stopped: Callable[[], bool] = lambda: False

    def call(self, fn: Callable[[], T], *, tool: str, what: str, write: bool = False) -> T:
        """`fn()` under the policy. A `write` is retried only on RateLimited: the tool refused it
        before doing anything; after a 5xx or a timeout it may have landed, so the caller looks
        for it (the ledger's find_written) instead of sending it blindly again."""
        backoff = wait_exponential_jitter(multiplier=self.initial_wait, max=self.max_wait)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, RateLimited) and error.retry_after is not None:
                return min(float(error.retry_after), self.max_wait)
            return backoff(state)

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "api.retry_wait",
                tool=tool,
                call=what,
                attempt=state.attempt_number,
                wait_s=round(state.next_action.sleep if state.next_action else 0.0, 2),
                error=type(error).__name__,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(RateLimited if write else TransientError),
            stop=(stop_after_attempt(self.attempts) | stop_after_delay(self.max_elapsed)
                  | _stop_when_stopping(self.stopped)),
            wait=wait,
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(fn)


class _stop_when_stopping(stop_base):  # noqa: N801 - tenacity's own stop_* naming
    """Stop retrying once the process is stopping."""

    def __init__(self, stopped: Callable[[], bool]) -> None:
        self._stopped = stopped

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._stopped()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
