"""`baton report`, `baton audit` and `baton map`: reading the store, the config and the rules."""
from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from baton.core.config import Config
from baton.kpi.audit import audit_sample, render_audit
from baton.kpi.compute import compute_kpis
from baton.kpi.load import load_inputs
from baton.kpi.mermaid import GateEdge, handoff_map
from baton.kpi.model import KpiReport, Period
from baton.kpi.render import render_csv, render_html, render_json, render_table
from baton.rules import RuleSet
from baton.rules.business_hours import parse_duration
from baton.store import StateStore

RENDERERS: dict[str, Callable[[KpiReport], str]] = {
    "table": render_table, "json": render_json, "csv": render_csv, "html": render_html,
}


def parse_moment(text: str, now: datetime) -> datetime:
    """'90d' / '12h' (ago), '2026-11-01' or an ISO datetime -> an aware UTC datetime."""
    value = text.strip()
    if value and value[0].isdigit() and value[-1] in "smhdw" and "-" not in value:
        return now - parse_duration(value)
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected '30d', 'YYYY-MM-DD' or an ISO datetime, found {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_report(config: Config, store: StateStore, since: datetime, until: datetime,
                 now: datetime, progress: bool = False) -> KpiReport:
    workflows = {s.id: list(s.workflow) for s in config.source}
    inputs = load_inputs(store, workflows, config.kpi, until=until, as_of=min(now, until))

    def show(done: int, total: int) -> None:
        print(f"\rcomputing KPIs {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    return compute_kpis(inputs, Period(since, until), config.kpi, progress=show if progress else None)


def report(config: Config, store: StateStore, *, since: str, until: str | None,
           now: datetime) -> KpiReport:
    """The report for `--since/--until` (until: now, this second included)."""
    start = parse_moment(since, now)
    end = parse_moment(until, now) if until else now + timedelta(seconds=1)
    return build_report(config, store, start, end, now, progress=sys.stderr.isatty())


def audit(config: Config, store: StateStore, *, sample: int, seed: int | None, now: datetime,
          since: str | None = None) -> str:
    period = Period(parse_moment(since, now), now) if since else Period.last_month(now)
    workflows = {s.id: list(s.workflow) for s in config.source}
    inputs = load_inputs(store, workflows, config.kpi, until=period.end, as_of=now)
    rows = audit_sample(inputs.evaluations, inputs.transitions, inputs.sla_outcomes, sample,
                        _audit_seed(seed, config, period), period, records=inputs.records)
    return render_audit(rows, period)


def _audit_seed(seed: int | None, config: Config, period: Period) -> int:
    """The flag, else the config, else one derived from the period: a month's audit is repeatable."""
    if seed is not None:
        return seed
    if config.kpi.audit_seed is not None:
        return config.kpi.audit_seed
    return zlib.crc32(period.label().encode())


def mermaid_map(config: Config, rules: RuleSet) -> str:
    workflows = {s.id: list(s.workflow) for s in config.source}
    # a gate in shadow mode is drawn with its mode, and without a bounce (it moves nothing)
    edges = [GateEdge(f"{g.id} (observe)" if g.observed else g.id, g.source, g.enters,
                      tuple(sorted(g.from_statuses)), tuple(_describe_check(c) for c in g.checks),
                      None if g.observed else g.on_fail.move_to)
             for g in rules.gates]
    return handoff_map(workflows, edges)


def _describe_check(check: object) -> str:
    field = getattr(check, "field", None) or "record"
    kind = getattr(check, "kind", "check")
    return f"{field}: {kind}"
