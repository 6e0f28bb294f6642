"""The one retry policy: what it retries, how long it waits, and that writes are not resent."""
import pytest

from baton.core.errors import RateLimited, TransientError
from baton.connectors.retry import RetryPolicy, parse_retry_after


def flaky(*errors):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "ok"

    return fn, calls


def test_reads_retry_transient_errors_and_honour_retry_after():
    waits = []
    fn, calls = flaky(TransientError("503"), RateLimited("429", retry_after=7))
    assert RetryPolicy(sleep=waits.append).call(fn, tool="t", what="read") == "ok"
    assert len(calls) == 3 and waits[1] == 7.0 and 0 < waits[0] <= 2


def test_attempts_are_bounded():
    fn, calls = flaky(*[TransientError("503")] * 10)
    with pytest.raises(TransientError):
        RetryPolicy(attempts=4, sleep=lambda s: None).call(fn, tool="t", what="read")
    assert len(calls) == 4


def test_a_write_is_retried_after_a_429_but_not_after_a_5xx():
    fn, calls = flaky(RateLimited("429", retry_after=1))
    assert RetryPolicy(sleep=lambda s: None).call(fn, tool="t", what="w", write=True) == "ok"
    fn, calls = flaky(TransientError("502"))
    with pytest.raises(TransientError):
        RetryPolicy(sleep=lambda s: None).call(fn, tool="t", what="w", write=True)
    assert len(calls) == 1


@pytest.mark.parametrize("header, seconds", [("3", 3.0), ("0.5", 0.5), (None, None), ("soon", None),
                                             ("-4", 0.0)])
def test_retry_after_header(header, seconds):
    assert parse_retry_after(header) == seconds
