"""KPI reports over the transition log: the Handoff Health Scorecard, the audit, the map.

Data flows one way: the caller reads the store (and the SLA timers) into `KpiInputs`;
`compute_kpis` is a pure function of those inputs; renderers turn the `KpiReport` into text,
JSON, CSV, HTML or rows for a Sheet tab. `definitions_markdown()` is the README's KPI table.
"""
# Loaded on first use: the daemon does not need the report machinery.
_HOME = {
    "AuditRow": "audit",
    "CheckFailure": "model",
    "GateEdge": "mermaid",
    "GateEvaluation": "model",
    "KPIS": "compute",
    "KPI_BY_NAME": "compute",
    "KpiDefinition": "compute",
    "KpiInputs": "model",
    "KpiReport": "model",
    "KpiValue": "model",
    "OwnerChange": "model",
    "interpolated": "stats",
    "render_scorecard": "scorecard",
    "Period": "model",
    "RecordSnapshot": "model",
    "SlaOutcome": "model",
    "audit_sample": "audit",
    "compute_kpis": "compute",
    "definitions_markdown": "compute",
    "evaluations_from_rows": "model",
    "handoff_map": "mermaid",
    "iso_week": "model",
    "load_inputs": "load",
    "nearest_rank": "stats",
    "parse_due": "model",
    "records_from_rows": "model",
    "render_audit": "audit",
    "render_csv": "render",
    "render_html": "render",
    "render_json": "render",
    "render_table": "render",
    "rows_for_sheet": "render",
    "sla_outcomes_from_timers": "model",
}


def __getattr__(name: str) -> object:
    if name not in _HOME:
        raise AttributeError(f"module 'baton.kpi' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"baton.kpi.{_HOME[name]}"), name)


__all__ = [
    "KPIS", "KPI_BY_NAME", "AuditRow", "CheckFailure", "GateEdge",
    "GateEvaluation", "KpiDefinition", "KpiInputs", "KpiReport", "KpiValue", "Period", "RecordSnapshot", "SlaOutcome", "audit_sample",
    "compute_kpis", "definitions_markdown", "evaluations_from_rows", "handoff_map", "iso_week",
    "nearest_rank", "parse_due", "records_from_rows", "render_audit", "render_csv",
    "OwnerChange", "interpolated", "render_scorecard",
    "load_inputs", "render_html", "render_json", "render_table", "rows_for_sheet", "sla_outcomes_from_timers",
]
