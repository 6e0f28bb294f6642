"""The lead funnel's observations: conversions per lead, and speed-to-lead on the SLA's entries.

Two kinds of "entry" live here, on purpose:

* **Funnel** KPIs (acceptance, MQL → SQL, SQL → Opportunity, the funnel counts) follow each lead
  from its first known entry into MQL.
* **Speed-to-lead** KPIs count the entries the speed-to-lead SLA counts: a lead's first MQL entry
  that started an SLA timer; where no timer started on any MQL entry of the source, the first
  MQL entry its gates passed (an SLA with `after_gate` starts there, not on an entry that
  bounced to remediation); where no gate judged any, the first MQL entry. A lead fixed four
  hours later and touched two minutes after the passing re-entry is a 2-minute lead here, as it
  is in SLA compliance. The split: **routing delay** is
  entry until a person owns the lead (from owner history: 0 when a person owned it already),
  **rep delay** is from then (or the entry, whichever is later) until the first touch.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .context import Context, minutes, start_known
from .model import OwnerChange, utc
from .stats import ALL, Observation


@dataclass(frozen=True, slots=True)
class _Lead:
    record_id: str
    mql_at: datetime | None  # first known entry into MQL
    touch_at: datetime | None  # first entry into an accepted status after it
    accepted: bool | None  # first decision after MQL: True accepted, False rejected, None pending
    reached_sql: bool
    sql_at: datetime | None  # first known entry into SQL
    reached_opportunity_after_sql: bool
    reached_opportunity: bool = False


def _leads(ctx: Context) -> list[_Lead]:
    lead = ctx.settings.lead
    accepted = set(lead.accepted) | {lead.sql, lead.opportunity}
    found, unknown = [], 0
    for (source, record_id), log in sorted(ctx.by_record.items()):
        if source != lead.source:
            continue
        mql = next((t for t in log if t.to_status == lead.mql), None)
        if mql is not None and not start_known(mql):
            unknown += utc(mql.at) in ctx.period
            mql = None
        mql_at = utc(mql.at) if mql else None
        after = [t for t in log if mql_at is not None and utc(t.at) > mql_at]
        touch = next((t for t in after if t.to_status in lead.accepted), None)
        decision = next((t.to_status in accepted for t in after
                         if t.to_status in accepted or t.to_status in lead.rejected), None)
        sql = next((t for t in log if t.to_status == lead.sql and start_known(t)), None)
        sql_at = utc(sql.at) if sql else None
        found.append(_Lead(
            record_id, mql_at, utc(touch.at) if touch else None, decision,
            any(t.to_status in (lead.sql, lead.opportunity) for t in after),
            sql_at,
            sql_at is not None and any(t.to_status == lead.opportunity and utc(t.at) > sql_at
                                       for t in log),
            any(t.to_status == lead.opportunity for t in after)))
    ctx.note("lead.unknown", unknown,
             "lead funnel: leads first seen already at MQL (entry time unknown), excluded: {n}")
    return found


def observe_acceptance(ctx: Context) -> list[Observation]:
    source = ctx.settings.lead.source
    return [Observation(source, ALL, lead.mql_at, 1.0 if lead.accepted else 0.0, lead.record_id)
            for lead in ctx.memo(_leads) if lead.mql_at and lead.accepted is not None]


def observe_mql_to_sql(ctx: Context) -> list[Observation]:
    source = ctx.settings.lead.source
    return [Observation(source, ALL, lead.mql_at, 1.0 if lead.reached_sql else 0.0, lead.record_id)
            for lead in ctx.memo(_leads) if lead.mql_at]


def observe_sql_to_opportunity(ctx: Context) -> list[Observation]:
    source = ctx.settings.lead.source
    return [Observation(source, ALL, lead.sql_at,
                        1.0 if lead.reached_opportunity_after_sql else 0.0, lead.record_id)
            for lead in ctx.memo(_leads) if lead.sql_at]


FUNNEL_STAGES = ("MQL", "SQL", "Opportunity")


def observe_funnel(ctx: Context) -> list[Observation]:
    """The leads that entered MQL in the bucket, and how many of them reached SQL and
    Opportunity since (a cohort funnel)."""
    source = ctx.settings.lead.source
    found: list[Observation] = []
    for lead in ctx.memo(_leads):
        if lead.mql_at is None:
            continue
        reached = (True, lead.reached_sql, lead.reached_opportunity)
        found.extend(Observation(source, stage, lead.mql_at, 1.0, lead.record_id)
                     for stage, hit in zip(FUNNEL_STAGES, reached, strict=True) if hit)
    return found


# -- speed-to-lead on the SLA's entries ------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _SlaEntry:
    record_id: str
    entered_at: datetime
    touch_at: datetime | None
    owned_at: datetime | None  # when a person owned the lead (<= entry: owned at entry)
    owner_known: bool  # whether there was any owner history for the lead


def _sla_entries(ctx: Context) -> list[_SlaEntry]:
    lead = ctx.settings.lead
    verdicts: dict[str, list[bool]] = defaultdict(list)
    for e in ctx.inputs.evaluations:
        if e.source == lead.source and e.transition_key:
            verdicts[e.transition_key].append(e.passed)
    owners = _owner_history(ctx.inputs.owner_changes or (), lead.source)
    timer_keys = {o.transition_key for o in ctx.inputs.sla_outcomes
                  if o.source == lead.source and o.transition_key}
    mql_keys = {t.key for (source, _), log in ctx.by_record.items() if source == lead.source
                for t in log if t.to_status == lead.mql}
    timed = not timer_keys.isdisjoint(mql_keys)  # SLA timers started on MQL entries: use them
    guarded = not mql_keys.isdisjoint(verdicts)
    found, never_passed, unjudged = [], 0, 0
    for (source, record_id), log in sorted(ctx.by_record.items()):
        if source != lead.source:
            continue
        entries = [t for t in log if t.to_status == lead.mql and start_known(t)]
        if not entries:
            continue
        if timed:
            counted = next((t for t in entries if t.key in timer_keys), None)
        else:
            counted = next((t for t in entries if (all(verdicts[t.key]) if t.key in verdicts
                                                   else not guarded)), None)
        if counted is None:
            first = utc(entries[0].at)
            if first in ctx.period:
                if timed or any(t.key in verdicts for t in entries):
                    never_passed += 1
                else:
                    unjudged += 1
            continue
        at = utc(counted.at)
        touch = next((utc(t.at) for t in log if utc(t.at) > at and t.to_status in lead.accepted),
                     None)
        history = owners.get(record_id)
        owned_at = _person_from(history, at) if history else None
        found.append(_SlaEntry(record_id, at, touch, owned_at, bool(history)))
    ctx.note("speed_to_lead.never_passed", never_passed,
             "speed-to-lead: leads whose MQL entries started no SLA clock (the gate never "
             "passed them), left out: {n}")
    ctx.note("speed_to_lead.unjudged", unjudged,
             "speed-to-lead: leads whose MQL entry no gate judged, left out: {n}")
    return found


def _owner_history(changes: Iterable[OwnerChange], source: str) -> dict[str, list[OwnerChange]]:
    by_record: dict[str, list[OwnerChange]] = defaultdict(list)
    for change in changes:
        if change.source == source:
            by_record[change.record_id].append(change)
    for history in by_record.values():
        history.sort(key=lambda c: utc(c.at))
    return by_record


def _person_from(history: list[OwnerChange], entered: datetime) -> datetime | None:
    """When a person owned the lead, counting from its entry: the entry itself when a person
    owned it then, else the first change to a person after it."""
    times = [utc(c.at) for c in history]
    at_entry = bisect_right(times, entered) - 1
    if at_entry >= 0 and history[at_entry].person:
        return entered
    return next((utc(c.at) for c in history[at_entry + 1:] if c.person), None)


def observe_speed_to_lead(ctx: Context) -> list[Observation]:
    source = ctx.settings.lead.source
    return [Observation(source, ALL, e.entered_at, minutes(e.touch_at - e.entered_at),
                        e.record_id)
            for e in ctx.memo(_sla_entries) if e.touch_at]


def observe_within_target(ctx: Context) -> list[Observation]:
    source = ctx.settings.lead.source
    target = timedelta(minutes=ctx.settings.lead.speed_to_lead_target_minutes)
    found = []
    for e in ctx.memo(_sla_entries):
        if e.touch_at is not None:
            hit = e.touch_at - e.entered_at <= target
        elif ctx.as_of - e.entered_at > target:
            hit = False  # never touched and the window has passed: a miss
        else:
            continue  # the window is still open
        found.append(Observation(source, ALL, e.entered_at, 1.0 if hit else 0.0, e.record_id))
    return found


def band_labels(edges: list[float]) -> list[str]:
    """[5, 15, 60] -> ['0–5 min', '5–15 min', '15–60 min', '60+ min']."""
    shown = [f"{edge:g}" for edge in edges]
    return ([f"{a}–{b} min" for a, b in zip(["0", *shown], shown, strict=False)]
            + [f"{shown[-1]}+ min"] if shown else ["all"])


def observe_speed_bands(ctx: Context) -> list[Observation]:
    """Each touched SLA entry in its band; a band's upper edge belongs to it (5:00 is 0–5)."""
    source = ctx.settings.lead.source
    edges = ctx.settings.speed_to_lead_bands
    labels = band_labels(edges)
    found = []
    for o in ctx.memo(observe_speed_to_lead):
        index = next((i for i, edge in enumerate(edges) if o.value <= edge), len(edges))
        found.append(Observation(source, labels[index], o.at, 1.0, o.unit))
    return found


def _split(ctx: Context) -> tuple[list[Observation], list[Observation]]:
    source = ctx.settings.lead.source
    routing, rep = [], []
    unknown = unrouted = 0
    for e in ctx.memo(_sla_entries):
        if not e.owner_known:
            unknown += e.entered_at in ctx.period
            continue
        if e.owned_at is None:
            unrouted += e.entered_at in ctx.period
            continue
        routing.append(Observation(source, ALL, e.entered_at,
                                   minutes(e.owned_at - e.entered_at), e.record_id))
        if e.touch_at is not None:
            rep.append(Observation(source, ALL, e.entered_at,
                                   minutes(max(e.touch_at - e.owned_at, timedelta())), e.record_id))
    if ctx.inputs.owner_changes is None:
        ctx.note("speed_to_lead.owner_history", unknown,
                 "routing and rep delay: the state store keeps no owner history (only each "
                 "lead's current owner), so when a person took the lead is unknown; leads "
                 "left out: {n}")
    else:
        ctx.note("speed_to_lead.owner_unknown", unknown,
                 "routing and rep delay: leads without owner history, left out: {n}")
    ctx.note("speed_to_lead.unrouted", unrouted,
             "routing delay: leads no person owns yet, left out: {n}")
    return routing, rep


def observe_routing_delay(ctx: Context) -> list[Observation]:
    return ctx.memo(_split)[0]


def observe_rep_delay(ctx: Context) -> list[Observation]:
    return ctx.memo(_split)[1]
