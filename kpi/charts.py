"""Chart geometry for the scorecard: numbers in, coordinates and labels out.

Baton draws its own SVG (no JS, no library bundle): this module works out where every point,
bar, tick and marker goes; `templates/scorecard.html.j2` turns the geometry into SVG elements
(autoescaped like the rest of the page). Empty weeks are gaps: a line is cut into segments there.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .model import KpiValue


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    css: str  # s0..s5: the colour
    segments: tuple[tuple[Point, ...], ...]  # runs of weeks with data; a gap between runs


@dataclass(frozen=True, slots=True)
class LineChart:
    title: str
    unit: str
    width: int
    height: int
    left: int
    bottom: int
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    series: tuple[Series, ...]
    markers: tuple[tuple[float, str], ...] = ()  # (x, rule version): where the rules changed
    empty: bool = False


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    width: float  # of the plot width, 0..1
    text: str  # the number shown beside the bar
    links: tuple[tuple[str, str], ...] = ()  # (label, url) of the records behind it


@dataclass(frozen=True, slots=True)
class StackedWeek:
    week: str
    x: float
    parts: tuple[tuple[str, float, float, int], ...]  # (css, y, height, count)
    opened: int
    resolved: int


@dataclass(frozen=True, slots=True)
class Burndown:
    width: int
    height: int
    left: int
    bottom: int
    bar: float
    weeks: tuple[StackedWeek, ...]
    y_ticks: tuple[tuple[float, str], ...]
    legend: tuple[tuple[str, str], ...] = field(default=())


def nice_top(value: float) -> float:
    """A round axis maximum at or above `value`: 1, 2, 2.5, 5 or 10 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)


def _tick(value: float, unit: str) -> str:
    text = f"{value:.0f}" if value == int(value) else f"{value:.2f}".rstrip("0")
    return text + ("%" if unit == "%" else "")


def line_chart(title: str, unit: str, weeks: Sequence[str],
               series: Sequence[tuple[str, Sequence[KpiValue]]],
               formatter: Callable[[float | None, str], str],
               markers: Sequence[tuple[str, str]] = (), width: int = 560,
               height: int = 200) -> LineChart:
    """Weekly lines on one scale (0–100 for percentages, so comparable KPIs share it); weeks
    without data break the line; `markers` are (week, label) where the rules changed."""
    left, bottom, top_pad = 44, 34, 10
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    known = [v.value for _, values in series for v in values if v.value is not None]
    top = 100.0 if unit == "%" else nice_top(max(known, default=0.0))
    step = plot_w / max(len(weeks) - 1, 1)
    x_of = {week: left + (i * step if len(weeks) > 1 else plot_w / 2) for i, week in enumerate(weeks)}

    def y_of(value: float) -> float:
        return top_pad + plot_h * (1 - min(max(value, 0.0), top) / top)

    drawn = []
    for index, (name, values) in enumerate(series):
        runs: list[list[Point]] = [[]]
        by_week = {v.bucket: v for v in values}
        for week in weeks:
            v = by_week.get(week)
            if v is None or v.value is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append(Point(round(x_of[week], 1), round(y_of(v.value), 1),
                                  f"{name} {week}: {formatter(v.value, unit)} (n={v.count})"))
        drawn.append(Series(name, f"s{index % 6}", tuple(tuple(r) for r in runs if r)))
    every = max(1, math.ceil(len(weeks) / 8))  # at most ~8 week labels: readable at 390 px
    x_ticks = tuple((round(x_of[w], 1), w[2:]) for i, w in enumerate(weeks) if i % every == 0)
    y_ticks = tuple((round(y_of(top * f), 1), _tick(top * f, unit)) for f in (0, 0.25, 0.5, 0.75, 1))
    marks = tuple((round(x_of[w], 1), label) for w, label in markers if w in x_of)
    return LineChart(title, unit, width, height, left, bottom, x_ticks, y_ticks, tuple(drawn),
                     marks, empty=not known)


def bars(items: Sequence[tuple[str, float, str, tuple[tuple[str, str], ...]]]) -> list[Bar]:
    """Horizontal bars scaled to the largest value."""
    top = max((value for _, value, _, _ in items), default=0.0) or 1.0
    return [Bar(label, value, max(value / top, 0.0), text, links)
            for label, value, text, links in items]


def burndown_chart(weeks: Sequence[tuple[str, Sequence[tuple[str, int]], int, int]],
                   width: int = 560, height: int = 200) -> Burndown:
    """Stacked bars of the violations open at each week's end, by age band."""
    left, bottom, top_pad = 44, 34, 10
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    top = nice_top(max((sum(c for _, c in ages) for _, ages, _, _ in weeks), default=0))
    slot = plot_w / max(len(weeks), 1)
    bar = max(min(slot * 0.6, 40.0), 2.0)
    drawn = []
    for i, (week, ages, opened, resolved) in enumerate(weeks):
        y: float = top_pad + plot_h
        parts = []
        for index, (_, count) in enumerate(ages):
            h = plot_h * count / top
            y -= h
            parts.append((f"a{index}", round(y, 1), round(h, 1), count))
        drawn.append(StackedWeek(week, round(left + i * slot + (slot - bar) / 2, 1),
                                 tuple(parts), opened, resolved))
    y_ticks = tuple((round(top_pad + plot_h * (1 - f), 1), _tick(top * f, "count"))
                    for f in (0, 0.5, 1))
    legend = tuple((f"a{i}", label) for i, (label, _) in enumerate(weeks[0][1])) if weeks else ()
    return Burndown(width, height, left, bottom, round(bar, 1), tuple(drawn), y_ticks, legend)
