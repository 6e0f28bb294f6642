"""A stopping daemon starts no further attempt: SIGTERM is not held by a retry ladder."""
from __future__ import annotations

import threading

import pytest

from baton.connectors.retry import RetryPolicy
from baton.core.errors import TransientError


def test_no_attempt_starts_once_stopping() -> None:
    stopping = threading.Event()
    attempts = []

    def stalled_call() -> None:
        attempts.append(1)
        stopping.set()  # SIGTERM arrives while the first attempt is in flight
        raise TransientError("read timed out")

    policy = RetryPolicy(attempts=5, sleep=stopping.wait, stopped=stopping.is_set)
    with pytest.raises(TransientError):
        policy.call(stalled_call, tool="salesforce", what="query")
    assert attempts == [1]


def test_without_a_stop_every_attempt_runs() -> None:
    attempts = []

    def failing() -> None:
        attempts.append(1)
        raise TransientError("503")

    with pytest.raises(TransientError):
        RetryPolicy(attempts=4, sleep=lambda _s: None).call(failing, tool="asana", what="events")
    assert len(attempts) == 4
