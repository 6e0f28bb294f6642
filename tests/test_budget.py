"""The request budget never lets more than the limit through in any 60-second window."""
from hypothesis import given, settings
from hypothesis import strategies as st

from baton.connectors.budget import RateBudget


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=1500),
       st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=300))
def test_no_sixty_second_window_exceeds_the_limit(limit, gaps):
    clock = Clock()
    budget = RateBudget(limit, tool="t", clock=clock, sleep=clock.sleep)
    sent = []
    for gap in gaps:
        clock.sleep(gap)
        budget.acquire()
        sent.append(clock.now)
    for index, start in enumerate(sent):
        in_window = sum(1 for t in sent[index:] if t < start + 60)
        assert in_window <= limit
