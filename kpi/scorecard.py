"""The HTML scorecard: a view of the `KpiReport` rendered by a Jinja2 template with autoescaping.

One self-contained file (inline CSS, inline SVG drawn by Baton, no script, no external
reference) so it opens offline and can be mailed around. This module only decides what to show
(tiles and their red/amber/green status, the change against the period before, the charts'
geometry); `templates/scorecard.html.j2` decides how it looks. Every text from a user (gate
ids, statuses, check labels, owners, record names) is escaped by the template engine.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from baton.core.kpi_settings import KpiSettings

from . import charts
from .compute import KPI_BY_NAME, KPIS
from .extras import AGES
from .leads import FUNNEL_STAGES, band_labels
from .model import KpiReport, RecordLink
from .formatting import format_value
from .stats import ALL


@dataclass(frozen=True, slots=True)
class Tile:
    label: str
    value: str
    status: str  # "green", "amber", "red" or "none"
    status_text: str  # the status in words (colour is never the only signal)
    target: str
    change: str  # "▲ 4.0 pts vs previous", "" when either side is n/a
    detail: str
    count: int
    spark: charts.LineChart


TILES = (  # (label, kpi, on the lead source?)
    ("First-pass yield", "first_pass_yield", False),
    ("Rework rounds", "rework_rounds", False),
    ("Speed-to-lead (median)", "speed_to_lead_median", True),
    ("Touched within target", "speed_to_lead_within_target", True),
    ("Lead acceptance", "lead_acceptance_rate", True),
    ("SLA compliance", "sla_compliance", False),
    ("On-time delivery", "on_time_delivery", False),
)
TRENDS = (  # one chart per unit: comparable values share a scale
    ("Compliance and yield (weekly, %)", ("first_pass_yield", "sla_compliance",
                                          "speed_to_lead_within_target", "on_time_delivery")),
    ("Speed-to-lead (weekly, minutes)", ("speed_to_lead_median", "speed_to_lead_p90")),
    ("Rework (weekly, backward moves per record)", ("rework_rounds",)),
)


def rag(value: float | None, kpi: str, settings: KpiSettings) -> tuple[str, str, str]:
    """(status, words, target text) of a value against its `[kpi.targets]` entry."""
    target = settings.targets.get(kpi)
    definition = KPI_BY_NAME[kpi]
    if target is None or definition.higher_is_better is None:
        return "none", "no target", ""
    shown = f"target {'≥' if definition.higher_is_better else '≤'} " \
            f"{format_value(target.target, definition.unit)}"
    if value is None:
        return "none", "no data", shown
    gap = (target.target - value) if definition.higher_is_better else (value - target.target)
    if gap <= 0:
        return "green", "on target", shown
    if gap <= target.amber:
        return "amber", "near target", shown
    return "red", "off target", shown


def _change(report: KpiReport, kpi: str, source: str | None, now: float | None) -> str:
    before = report.previous_value(kpi, ALL, source)
    if now is None or before is None or before.value is None:
        return ""
    delta = now - before.value
    unit = KPI_BY_NAME[kpi].unit
    arrow = "▲" if delta > 0 else ("▼" if delta < 0 else "=")
    amount = (f"{abs(delta):.1f} pts" if unit == "%" else
              format_value(abs(delta), unit))
    return f"{arrow} {amount} vs previous period"


def _tile(report: KpiReport, settings: KpiSettings, label: str, kpi: str, lead: bool) -> Tile:
    source = settings.lead.source if lead else ""
    found = report.value(kpi, ALL, source)
    value = found.value if found else None
    unit = KPI_BY_NAME[kpi].unit
    status, words, target = rag(value, kpi, settings)
    spark = charts.line_chart(label, unit, report.weeks,
                              [(label, report.series(kpi, ALL, source))], format_value,
                              width=220, height=70)
    return Tile(label, format_value(value, unit), status, words, target,
                _change(report, kpi, source, value), KPI_BY_NAME[kpi].definition,
                found.count if found else 0, spark)


def view(report: KpiReport, settings: KpiSettings, title: str) -> dict[str, Any]:
    """Everything the template shows, in the order it shows it."""
    lead = settings.lead.source
    markers = [(c.week, c.rule_version) for c in report.rule_changes]
    trends = []
    for chart_title, kpis in TRENDS:
        sources = {k: (lead if KPI_BY_NAME[k].scope == "lead funnel" else "") for k in kpis}
        series = [(KPI_BY_NAME[k].title, report.series(k, ALL, sources[k])) for k in kpis]
        trends.append(charts.line_chart(chart_title, KPI_BY_NAME[kpis[0]].unit, report.weeks,
                                        series, format_value, markers))
    funnel_counts = [(stage, report.value("funnel", stage, lead)) for stage in FUNNEL_STAGES]
    first = funnel_counts[0][1].value if funnel_counts[0][1] and funnel_counts[0][1].value else 0
    funnel = charts.bars([(stage, v.value or 0 if v else 0,
                           f"{(v.value or 0) if v else 0:.0f}"
                           + (f" ({100 * (v.value or 0) / first:.1f}%)" if first and v else ""), ())
                          for stage, v in funnel_counts])
    bands = charts.bars([(band, (v.value or 0) if v else 0, f"{(v.value or 0) if v else 0:.0f}", ())
                         for band in band_labels(settings.speed_to_lead_bands)
                         for v in [report.value("speed_to_lead_bands", band, lead)]])
    return {
        "title": title, "report": report, "tiles": [_tile(report, settings, label, kpi, on_lead)
                                                    for label, kpi, on_lead in TILES],
        "trends": trends, "funnel": funnel, "bands": bands, "lead_source": lead,
        "lead_split": [(KPI_BY_NAME[k].title, _shown(report, k, lead))
                       for k in ("speed_to_lead_p90", "routing_delay_median", "routing_delay_p90",
                                 "rep_delay_median", "rep_delay_p90", "mql_to_sql",
                                 "sql_to_opportunity")],
        "burndown": charts.burndown_chart([(w.week, w.open_by_age, w.opened, w.resolved)
                                           for w in report.burndown]),
        "burndown_rows": report.burndown, "ages": [label for label, _ in AGES],
        "gates": _gates(report), "workflows": _workflows(report), "slas": _slas(report),
        "breakdowns": _breakdowns(report), "definitions": KPIS,
        "markers": report.rule_changes,
    }


def _shown(report: KpiReport, kpi: str, source: str | None = None, group: str = ALL) -> str:
    found = report.value(kpi, group, source)
    return format_value(found.value if found else None, KPI_BY_NAME[kpi].unit)


def _links(records: tuple[RecordLink, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((r.name or r.record_id, r.url if r.url.startswith("https://") else "")
                 for r in records)


def _gates(report: KpiReport) -> list[dict[str, Any]]:
    found = []
    for source, gate in report.groups("gate_entries"):
        if not source:
            continue
        checks = sorted(((v, report.value("check_failure_share", v.group, source))
                         for v in report.values if v.kpi == "check_failures" and v.bucket == "period"
                         and v.source == source and v.group.startswith(gate + ": ")),
                        key=lambda pair: (-(pair[0].value or 0), pair[0].group))
        missing = charts.bars([(
            f"{report.label(source, v.group)} [{v.group[len(gate) + 2:]}]", v.value or 0,
            f"{v.value or 0:.0f} · {format_value(s.value if s else None, '%')} of entries",
            _links(report.records_behind("check_failures", source, v.group)))
            for v, s in checks])
        found.append({"source": source, "gate": gate,
                      "entries": _shown(report, "gate_entries", source, gate),
                      "first_pass": _shown(report, "first_pass_yield", source, gate),
                      "rework": _shown(report, "gate_rework", source, gate),
                      "failed_first": _links(report.records_behind("first_pass_yield", source, gate)),
                      "missing": missing})
    return found


def _workflows(report: KpiReport) -> list[dict[str, Any]]:
    order = dict(report.workflows)
    sources = sorted({s for s, _ in report.groups("time_in_stage_median")}
                     | {s for s, _ in report.groups("rework_rounds") if s}
                     | {s for s, _ in report.groups("on_time_delivery") if s})
    found = []
    for source in sources:
        position = {status: i for i, status in enumerate(order.get(source, ()))}
        statuses = sorted((g for s, g in report.groups("time_in_stage_median") if s == source),
                          key=lambda g: (position.get(g, len(position)), g))
        found.append({"source": source,
                      "kpis": [(KPI_BY_NAME[k].title, _shown(report, k, source))
                               for k in ("rework_rounds", "reworked_share", "on_time_delivery")
                               if report.value(k, ALL, source)],
                      "late": _links(report.records_behind("on_time_delivery", source, ALL)),
                      "stages": [(status, _shown(report, "time_in_stage_median", source, status),
                                  _shown(report, "time_in_stage_p90", source, status),
                                  getattr(report.value("time_in_stage_median", status, source),
                                          "count", 0)) for status in statuses]})
    return found


def _slas(report: KpiReport) -> list[dict[str, Any]]:
    return [{"sla": sla, "source": source,
             "compliance": _shown(report, "sla_compliance", source, sla),
             "timers": getattr(report.value("sla_compliance", sla, source), "count", 0),
             "breached": _links(report.records_behind("sla_compliance", source, sla))}
            for source, sla in report.groups("sla_compliance") if source]


def _breakdowns(report: KpiReport) -> list[dict[str, Any]]:
    kpis = list(dict.fromkeys(b.kpi for b in report.breakdowns))
    found = []
    for dimension in dict.fromkeys(b.dimension for b in report.breakdowns):
        rows: dict[str, dict[str, str]] = {}
        for b in report.breakdowns:
            if b.dimension == dimension:
                rows.setdefault(b.segment, {})[b.kpi] = format_value(b.value, KPI_BY_NAME[b.kpi].unit)
        found.append({"dimension": dimension, "columns": [KPI_BY_NAME[k].title for k in kpis],
                      "rows": [(segment, [cells.get(k, "–") for k in kpis])
                               for segment, cells in rows.items()]})
    return found


def _escape(value: Any) -> Any:
    """Everything printed is escaped with the standard library's rules (quotes included)."""
    if isinstance(value, Markup):
        return value
    return Markup(escape(str(value), quote=True))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("baton.kpi", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      finalize=_escape)
    env.filters["fmt"] = format_value
    return env


def render_scorecard(report: KpiReport, settings: KpiSettings | None = None,
                     title: str = "Handoff Health Scorecard") -> str:
    page = environment().get_template("scorecard.html.j2")
    return page.render(**view(report, settings or KpiSettings(), title)).lstrip()
