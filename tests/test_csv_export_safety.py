"""`baton report --format csv`: a status or owner from the tools never runs as a formula."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from baton.kpi import KPIS, KpiReport, KpiValue, Period, render_csv
from baton.kpi.render import csv_cell

JAN = Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))


def test_a_formula_status_is_written_as_text() -> None:
    hostile = '=HYPERLINK("http://evil.example","x")'
    report = KpiReport(JAN, JAN.end, (), (
        KpiValue(KPIS[0].name, "salesforce:leads", hostile, "period", 0.5, 4),
        KpiValue(KPIS[0].name, "salesforce:leads", "@SUM(A1)", "period", -2.5, 2),
    ))
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    groups = [row[4] for row in rows[1:]]
    assert groups == ["'" + hostile, "'@SUM(A1)"]
    assert rows[2][6] == "-2.5"  # a negative number stays a number


@given(st.text())
def test_no_cell_starts_like_a_formula(text: str) -> None:
    cell = csv_cell(text)
    if cell.startswith(("=", "+", "@", "\t", "\r")):
        raise AssertionError(cell)
    if cell.startswith("-"):
        float(cell)  # only a plain negative number may start with a minus
