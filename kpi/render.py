"""Renderers for a `KpiReport`: terminal table, JSON, CSV, the HTML scorecard, Sheet rows.

The HTML scorecard lives in `scorecard.py` and its Jinja2 template; JSON is documented in
docs/report-json.md (a test holds the two together).
"""
from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from .compute import KPI_BY_NAME, KPIS
from .formatting import format_value
from .model import KpiReport, KpiValue, Period
from .stats import PERIOD

# -- shared formatting -----------------------------------------------------------------------


def _number(value: float | None) -> str:
    """A machine-readable number: no unit, no rounding beyond the report's, '' for n/a."""
    if value is None:
        return ""
    return f"{value:.0f}" if value == int(value) else f"{value:.4f}".rstrip("0")


def _group_label(value: KpiValue) -> str:
    return value.group


def _period_values(report: KpiReport) -> list[KpiValue]:
    return [v for v in report.values if v.bucket == PERIOD]


# -- table -----------------------------------------------------------------------------------

def render_table(report: KpiReport) -> str:
    """Plain text for a terminal: one block per KPI, one line per group."""
    out = [f"Baton KPI report  {report.period.label()}  (as of {report.as_of:%Y-%m-%d %H:%M} UTC)",
           ""]
    by_kpi: dict[str, list[KpiValue]] = {}
    for value in _period_values(report):
        by_kpi.setdefault(value.kpi, []).append(value)
    for definition in KPIS:
        rows = by_kpi.get(definition.name)
        if not rows:
            continue
        out.append(f"{definition.title} [{definition.unit}]")
        cells = [(r.source or "-", _group_label(r), format_value(r.value, definition.unit),
                  str(r.count)) for r in rows]
        widths = [max(len(c[i]) for c in [("source", "group", "value", "n"), *cells])
                  for i in range(4)]
        for row in [("source", "group", "value", "n"), *cells]:
            out.append("  " + "  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]),
                                         row[2].rjust(widths[2]), row[3].rjust(widths[3])]))
        out.append("")
    out.extend(shadow_lines(report))
    if report.notes:
        out.append("Notes")
        out.extend(f"  - {note}" for note in report.notes)
    return "\n".join(out).rstrip() + "\n"


def shadow_lines(report: KpiReport) -> list[str]:
    """Gates in shadow mode, apart: they wrote nothing, and no KPI above counts them."""
    if not report.shadow:
        return []
    out = ["Shadow mode (observe gates: evaluated and recorded, nothing written, not in the KPIs "
           "above; `baton preview GATE` shows what they would have written)"]
    for gate in report.shadow:
        out.append(f"  {gate.source} {gate.gate_id}: would have failed {gate.would_fail} of "
                   f"{gate.entries} entr(y/ies) ({format_value(gate.would_fail_share, '%')}), "
                   f"{gate.records} record(s)")
        out.extend(f"    {count:>4} x {what}" for what, count in gate.top_checks)
    out.append("")
    return out


# -- JSON, CSV, Sheet rows -------------------------------------------------------------------

SCHEMA_VERSION = 2  # docs/report-json.md; 2: previous period, burndown, rule changes, breakdowns


def report_dict(report: KpiReport) -> dict[str, Any]:
    """The JSON report (docs/report-json.md documents every key; a test holds them together)."""
    targets = report.settings.targets if report.settings else {}
    return {
        "schema_version": SCHEMA_VERSION,
        "period": _period(report.period),
        "as_of": report.as_of.isoformat(),
        "weeks": list(report.weeks),
        "kpis": [{"name": d.name, "title": d.title, "unit": d.unit, "per": d.scope,
                  "definition": d.definition, "higher_is_better": d.higher_is_better}
                 for d in KPIS],
        "values": [{"kpi": v.kpi, "source": v.source, "group": v.group, "bucket": v.bucket,
                    "value": v.value, "count": v.count} for v in report.values],
        "notes": list(report.notes),
        "workflows": {source: list(statuses) for source, statuses in report.workflows},
        "targets": [{"kpi": kpi, "target": t.target, "amber": t.amber}
                    for kpi, t in sorted(targets.items())],
        "previous_period": _period(report.previous_period) if report.previous_period else None,
        "previous": [{"kpi": v.kpi, "source": v.source, "group": v.group, "value": v.value,
                      "count": v.count} for v in report.previous],
        "burndown": [{"week": w.week, "opened": w.opened, "resolved": w.resolved,
                      "open_by_age": [{"age": age, "count": n} for age, n in w.open_by_age]}
                     for w in report.burndown],
        "rule_changes": [{"at": c.at.isoformat(), "week": c.week, "rule_version": c.rule_version}
                         for c in report.rule_changes],
        "breakdowns": [{"dimension": b.dimension, "segment": b.segment, "kpi": b.kpi,
                        "value": b.value, "count": b.count} for b in report.breakdowns],
        "labels": [{"source": s, "group": g, "label": label} for s, g, label in report.labels],
        "records_behind": [{"kpi": k, "source": s, "group": g, "records": [
            {"source": r.source, "record_id": r.record_id, "name": r.name, "url": r.url}
            for r in links]} for k, s, g, links in report.behind],
        "observe_gates": [{"source": g.source, "gate": g.gate_id, "entries": g.entries,
                           "would_fail": g.would_fail, "would_fail_share": g.would_fail_share,
                           "records": g.records,
                           "top_checks": [{"check": what, "count": n} for what, n in g.top_checks]}
                          for g in report.shadow],
    }


def _period(period: Period) -> dict[str, str]:
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}


def render_json(report: KpiReport) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


CSV_HEADER = ("kpi", "title", "unit", "source", "group", "bucket", "value", "count")


def render_csv(report: KpiReport, weekly: bool = False) -> str:
    """One row per KPI per group for the period; `weekly` adds one row per ISO week.
    n/a is an empty value."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for v in report.values:
        if v.bucket != PERIOD and not weekly:
            continue
        d = KPI_BY_NAME[v.kpi]
        writer.writerow([csv_cell(cell) for cell in (
            v.kpi, d.title, d.unit, v.source, v.group, v.bucket, _number(v.value), v.count)])
    return buffer.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ tab or CR gets a leading
    apostrophe (OWASP's CSV-injection rule); plain numbers such as -4.5 stay numbers."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


SHEET_HEADER = ["KPI", "Source", "Group", "Period", "Value", "Unit", "Count", "As of"]


def rows_for_sheet(report: KpiReport, weekly: bool = False) -> list[list[str]]:
    """The KPI tab's cells, header first, all strings: write them with valueInputOption RAW."""
    period = report.period.label()
    rows = [list(SHEET_HEADER)]
    for v in report.values:
        if v.bucket != PERIOD and not weekly:
            continue
        d = KPI_BY_NAME[v.kpi]
        rows.append([d.title, v.source, v.group, period if v.bucket == PERIOD else v.bucket,
                     "n/a" if v.value is None else _number(v.value), d.unit, str(v.count),
                     report.as_of.isoformat()])
    return rows


# -- HTML scorecard --------------------------------------------------------------------------

def render_html(report: KpiReport, title: str = "Handoff Health Scorecard") -> str:
    """The scorecard page (`kpi.scorecard`, a Jinja2 template), with the report's own settings."""
    from .scorecard import render_scorecard  # Jinja2 loads only when a page is asked for

    return render_scorecard(report, report.settings, title)
