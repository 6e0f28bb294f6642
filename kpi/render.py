"""Renderers for a `KpiReport`: terminal table, JSON, CSV, the HTML scorecard, Sheet rows.

The HTML scorecard is one self-contained file (inline CSS, inline SVG charts drawn here, no
script, no external reference) so it opens offline and can be mailed around. Every value that
came from a user (gate ids, statuses, check messages, source ids) is escaped.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from html import escape
from typing import Any

from .compute import KPI_BY_NAME, KPIS
from .model import KpiReport, KpiValue
from .stats import ALL, PERIOD

# -- shared formatting -----------------------------------------------------------------------


def format_value(value: float | None, unit: str) -> str:
    """How a value reads to a person: '87.5%', '3.2 min', '1.25', 'n/a'."""
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "min":
        return f"{value:.1f} min"
    if unit == "h":
        return f"{value:.1f} h"
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.2f}"


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
    if report.notes:
        out.append("Notes")
        out.extend(f"  - {note}" for note in report.notes)
    return "\n".join(out).rstrip() + "\n"


# -- JSON, CSV, Sheet rows -------------------------------------------------------------------

def report_dict(report: KpiReport) -> dict[str, Any]:
    return {
        "period": {"start": report.period.start.isoformat(), "end": report.period.end.isoformat()},
        "as_of": report.as_of.isoformat(),
        "weeks": list(report.weeks),
        "kpis": [{"name": d.name, "title": d.title, "unit": d.unit, "per": d.scope,
                  "definition": d.definition} for d in KPIS],
        "values": [{"kpi": v.kpi, "source": v.source, "group": v.group, "bucket": v.bucket,
                    "value": v.value, "count": v.count} for v in report.values],
        "notes": list(report.notes),
        "workflows": {source: list(statuses) for source, statuses in report.workflows},
    }


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

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2933;
background:#f5f7fa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px}h3{font-size:15px;margin:20px 0 6px}
.sub{color:#52606d;margin:0 0 20px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px}
.tile{background:#fff;border:1px solid #d9e2ec;border-radius:8px;padding:12px 14px}
.tile .label{color:#52606d;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.tile .value{font-size:28px;font-weight:600;margin:2px 0}
.tile .detail{color:#52606d;font-size:12px;min-height:18px}
table{border-collapse:collapse;background:#fff;border:1px solid #d9e2ec;margin:4px 0 8px;
min-width:420px}
th,td{padding:5px 10px;border-bottom:1px solid #e4e7eb;text-align:left;vertical-align:middle}
th{background:#f0f4f8;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.na{color:#9aa5b1}.notes li{color:#52606d}
svg .bar{fill:#3e7cb1}svg .none{fill:#cbd2d9}svg text{font-size:9px;fill:#7b8794}
"""


def _chart(series: Sequence[KpiValue], unit: str, width: int = 180, height: int = 44) -> str:
    """A bar chart of weekly values as inline SVG; weeks without data are grey ticks."""
    if not series:
        return ""
    known = [v.value for v in series if v.value is not None]
    top = 100.0 if unit == "%" else max([*known, 0.0]) or 1.0
    slot = width / len(series)
    bar = max(2.0, slot * 0.7)
    parts = [f'<svg width="{width}" height="{height + 12}" '
             f'viewBox="0 0 {width} {height + 12}" role="img" aria-label="weekly trend">']
    for i, v in enumerate(series):
        x = i * slot + (slot - bar) / 2
        label = escape(f"{v.bucket}: {format_value(v.value, unit)} (n={v.count})")
        if v.value is None:
            parts.append(f'<rect class="none" x="{x:.1f}" y="{height - 2}" width="{bar:.1f}" '
                         f'height="2"><title>{label}</title></rect>')
            continue
        h = max(1.0, height * min(v.value, top) / top)
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{height - h:.1f}" width="{bar:.1f}" '
                     f'height="{h:.1f}"><title>{label}</title></rect>')
    parts.append(f'<text x="0" y="{height + 10}">{escape(series[0].bucket)}</text>')
    if len(series) > 1:
        parts.append(f'<text x="{width}" y="{height + 10}" text-anchor="end">'
                     f'{escape(series[-1].bucket)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _fmt(report: KpiReport, kpi: str, group: str = ALL, source: str | None = None) -> str:
    value = report.value(kpi, group, source)
    return format_value(value.value if value else None, KPI_BY_NAME[kpi].unit)


def _tile(report: KpiReport, label: str, kpi: str, source: str | None, detail: str) -> str:
    value = report.value(kpi, ALL, source)
    shown = format_value(value.value if value else None, KPI_BY_NAME[kpi].unit)
    css = "value na" if value is None or value.value is None else "value"
    count = f"n={value.count}" if value else "n=0"
    chart = _chart(report.series(kpi, ALL, source), KPI_BY_NAME[kpi].unit)
    return (f'<div class="tile"><div class="label">{escape(label)}</div>'
            f'<div class="{css}">{escape(shown)}</div>'
            f'<div class="detail">{escape(detail)} · {escape(count)}</div>{chart}</div>')


def _row(report: KpiReport, kpi: str, source: str, group: str) -> str:
    d = KPI_BY_NAME[kpi]
    value = report.value(kpi, group, source)
    shown = format_value(value.value if value else None, d.unit)
    css = "num na" if value is None or value.value is None else "num"
    return (f"<tr><td>{escape(d.title)}</td><td class=\"{css}\">{escape(shown)}</td>"
            f"<td class=\"num\">{value.count if value else 0}</td>"
            f"<td>{_chart(report.series(kpi, group, source), d.unit, 140, 28)}</td></tr>")


def render_html(report: KpiReport, title: str = "Handoff Health Scorecard") -> str:
    lead_source = next((s for s, g in report.groups("speed_to_lead_median")), None)
    tiles = [
        _tile(report, "First-pass yield", "first_pass_yield", "",
              "brief compliance at the first attempt"),
        _tile(report, "Rework rounds", "rework_rounds", "",
              f"per record · {_fmt(report, 'reworked_share', source='')} reworked"),
        _tile(report, "Speed-to-lead (median)", "speed_to_lead_median", lead_source,
              f"p90 {_fmt(report, 'speed_to_lead_p90', source=lead_source)} · "
              f"{_fmt(report, 'speed_to_lead_within_target', source=lead_source)} within target"),
        _tile(report, "Lead acceptance", "lead_acceptance_rate", lead_source,
              f"MQL→SQL {_fmt(report, 'mql_to_sql', source=lead_source)} · "
              f"SQL→Opp {_fmt(report, 'sql_to_opportunity', source=lead_source)}"),
        _tile(report, "SLA compliance", "sla_compliance", "", "met / (met + breached)"),
        _tile(report, "On-time delivery", "on_time_delivery", "", "done by the due date"),
    ]
    body = [f"<h1>{escape(title)}</h1>",
            f'<p class="sub">{escape(report.period.label())} · weeks {escape(", ".join(report.weeks[:1]))}'
            f'{escape(" – " + report.weeks[-1] if len(report.weeks) > 1 else "")} · as of '
            f'{escape(report.as_of.strftime("%Y-%m-%d %H:%M"))} UTC</p>',
            '<section class="tiles">', *tiles, "</section>"]

    body.append("<h2>Gates</h2>")
    gates = [(s, g) for s, g in report.groups("gate_entries") if g != ALL or s]
    if not gates:
        body.append('<p class="na">No gate entries in this period.</p>')
    failures = [v for v in _period_values(report) if v.kpi == "check_failures"]
    for source, gate in gates:
        body.append(f"<h3>{escape(gate)} <small class=\"na\">{escape(source)}</small></h3>")
        body.append("<table><tr><th>KPI</th><th>Value</th><th>n</th><th>Weekly</th></tr>")
        body.append(_row(report, "gate_entries", source, gate))
        body.append(_row(report, "first_pass_yield", source, gate))
        body.append("</table>")
        missing = sorted((v for v in failures if v.source == source
                          and v.group.startswith(gate + ": ")),
                         key=lambda v: (-(v.value or 0), v.group))
        if missing:
            body.append("<table><tr><th>Missing at handoff</th><th>Entries</th></tr>")
            body.extend(f"<tr><td>{escape(v.group[len(gate) + 2:])}</td>"
                        f"<td class=\"num\">{v.count}</td></tr>" for v in missing)
            body.append("</table>")

    body.append("<h2>Workflows</h2>")
    order = dict(report.workflows)
    sources = sorted({s for s, _ in report.groups("time_in_stage_median")}
                     | {s for s, g in report.groups("rework_rounds") if s}
                     | {s for s, g in report.groups("on_time_delivery") if s})
    if not sources:
        body.append('<p class="na">No status changes in this period.</p>')
    for source in sources:
        body.append(f"<h3>{escape(source)}</h3>")
        body.append("<table><tr><th>KPI</th><th>Value</th><th>n</th><th>Weekly</th></tr>")
        for kpi in ("rework_rounds", "reworked_share", "on_time_delivery"):
            if report.value(kpi, ALL, source):
                body.append(_row(report, kpi, source, ALL))
        body.append("</table>")
        statuses = [g for s, g in report.groups("time_in_stage_median") if s == source]
        position = {status: i for i, status in enumerate(order.get(source, ()))}
        statuses.sort(key=lambda g: (position.get(g, len(position)), g))
        if statuses:
            body.append("<table><tr><th>Time in stage</th><th>Median</th><th>p90</th>"
                        "<th>Stays</th></tr>")
            for status in statuses:
                median = report.value("time_in_stage_median", status, source)
                body.append(f"<tr><td>{escape(status)}</td>"
                            f"<td class=\"num\">{escape(_fmt(report, 'time_in_stage_median', status, source))}</td>"
                            f"<td class=\"num\">{escape(_fmt(report, 'time_in_stage_p90', status, source))}</td>"
                            f"<td class=\"num\">{median.count if median else 0}</td></tr>")
            body.append("</table>")

    slas = [(s, g) for s, g in report.groups("sla_compliance") if s]
    if slas:
        body.append("<h2>SLAs</h2><table><tr><th>SLA</th><th>Source</th><th>Compliance</th>"
                    "<th>Timers</th></tr>")
        for source, sla in slas:
            value = report.value("sla_compliance", sla, source)
            body.append(f"<tr><td>{escape(sla)}</td><td>{escape(source)}</td>"
                        f"<td class=\"num\">{escape(_fmt(report, 'sla_compliance', sla, source))}</td>"
                        f"<td class=\"num\">{value.count if value else 0}</td></tr>")
        body.append("</table>")

    if report.notes:
        body.append('<h2>Notes</h2><ul class="notes">')
        body.extend(f"<li>{escape(note)}</li>" for note in report.notes)
        body.append("</ul>")

    body.append("<h2>Definitions</h2><table><tr><th>KPI</th><th>Unit</th><th>Definition</th></tr>")
    body.extend(f"<tr><td>{escape(d.title)}</td><td>{escape(d.unit)}</td>"
                f"<td>{escape(d.definition)}</td></tr>" for d in KPIS)
    body.append("</table>")

    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>\n")
