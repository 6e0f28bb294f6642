"""KPI reports over the transition log: the Handoff Health Scorecard, the audit, the map.

Data flows one way: the caller reads the store (and the SLA timers) into `KpiInputs`;
`compute_kpis` is a pure function of those inputs; renderers turn the `KpiReport` into text,
JSON, CSV, HTML or rows for a Sheet tab. `definitions_markdown()` is the README's KPI table.
"""
from .audit import AuditRow, audit_sample, render_audit
from .compute import KPI_BY_NAME, KPIS, KpiDefinition, compute_kpis, definitions_markdown, nearest_rank
from .load import load_inputs
from .mermaid import GateEdge, handoff_map
from .model import (
    CheckFailure,
    GateEvaluation,
    KpiInputs,
    KpiReport,
    KpiValue,
    Period,
    RecordSnapshot,
    SlaOutcome,
    evaluations_from_rows,
    iso_week,
    parse_due,
    records_from_rows,
    sla_outcomes_from_timers,
)
from .render import render_csv, render_html, render_json, render_table, rows_for_sheet
from .settings import DeliverySettings, KpiSettings, LeadFunnelSettings

__all__ = [
    "KPIS", "KPI_BY_NAME", "AuditRow", "CheckFailure", "DeliverySettings", "GateEdge",
    "GateEvaluation", "KpiDefinition", "KpiInputs", "KpiReport", "KpiSettings", "KpiValue",
    "LeadFunnelSettings", "Period", "RecordSnapshot", "SlaOutcome", "audit_sample",
    "compute_kpis", "definitions_markdown", "evaluations_from_rows", "handoff_map", "iso_week",
    "nearest_rank", "parse_due", "records_from_rows", "render_audit", "render_csv",
    "load_inputs", "render_html", "render_json", "render_table", "rows_for_sheet", "sla_outcomes_from_timers",
]
