"""Observations and the aggregates KPIs apply to them: counts, shares, percentiles.

Percentiles are interpolated linearly between the two closest ranks (SQL's PERCENTILE_CONT,
numpy's default "linear" method, Excel's PERCENTILE.INC): the median of an even number of
values is the mean of the two middle ones, as a leader checking in a spreadsheet expects.

An observation is one timestamped fact a KPI counts; an aggregate turns the observations of one
bucket into a number, or None for "no data" (never zero, never a division by zero).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

ALL = "all"
PERIOD = "period"


@dataclass(frozen=True, slots=True)
class Observation:
    """One fact a KPI counts: `value` for `(source, group)` at time `at`; `unit` groups
    observations that belong to one record (per-record KPIs aggregate per unit first)."""

    source: str
    group: str
    at: datetime
    value: float
    unit: str = ""


Aggregate = Callable[[Sequence[Observation]], float | None]


def nearest_rank(values: Sequence[float], p: int) -> float | None:
    """The p-th percentile (0 < p <= 100) by nearest rank; None for no values."""
    if not values:
        return None
    if not 0 < p <= 100:
        raise ValueError("p must be in (0, 100]")
    ordered = sorted(values)
    rank = max(1, -(-p * len(ordered) // 100))  # ceil(p * n / 100) in integers
    return ordered[rank - 1]


def interpolated(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0 <= p <= 100) by linear interpolation between closest ranks:
    position (n - 1) × p / 100 in the sorted values, the fraction between its neighbours.
    None for no values. 6,900 and 8,400 have the median 7,650."""
    if not values:
        return None
    if not 0 <= p <= 100:
        raise ValueError("p must be in [0, 100]")
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def count(observations: Sequence[Observation]) -> float | None:
    return float(sum(o.value for o in observations))


def share(observations: Sequence[Observation]) -> float | None:
    if not observations:
        return None
    return 100.0 * sum(o.value for o in observations) / len(observations)


def percentile(p: int) -> Aggregate:
    def aggregate(observations: Sequence[Observation]) -> float | None:
        return interpolated([o.value for o in observations], p)
    return aggregate


def mean_per_unit(observations: Sequence[Observation]) -> float | None:
    totals: dict[str, float] = defaultdict(float)
    for o in observations:
        totals[o.unit] += o.value
    return sum(totals.values()) / len(totals) if totals else None


def share_of_units(observations: Sequence[Observation]) -> float | None:
    totals: dict[str, float] = defaultdict(float)
    for o in observations:
        totals[o.unit] += o.value
    return 100.0 * sum(1 for v in totals.values() if v > 0) / len(totals) if totals else None
