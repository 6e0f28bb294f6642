"""How a KPI value reads to a person, shared by the table, the Sheet tab and the scorecard."""
from __future__ import annotations


def format_value(value: float | None, unit: str) -> str:
    """How a value reads to a person: '87.5%', '3.2 min', '1.25', 'n/a'."""
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{value:.1f}%"
    if unit in ("min", "h"):
        return f"{value:.1f} {unit}"
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.2f}"
