"""The KPI engine against hand-computed transition logs."""
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from baton.core.records import TimeSource
from baton.core.kpi_settings import KpiSettings, LeadFunnelSettings
from baton.kpi import (
    KPIS, CheckFailure, GateEvaluation, KpiInputs, Period, RecordSnapshot, SlaOutcome, compute_kpis, definitions_markdown, evaluations_from_rows, iso_week, nearest_rank, parse_due, records_from_rows, sla_outcomes_from_timers,
)
from baton.store.models import SlaTimer
from baton.core.records import Transition

JAN = Period.month(2025, 1)
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)  # a Monday, 2025-W02
H = timedelta(hours=1)
M = timedelta(minutes=1)

CONTENT = "asana:content-calendar"
LEADS = "salesforce:leads"
CONTENT_FLOW = ["Backlog", "Drafting", "Ready for Design", "In Design", "Ready for Web", "Live"]
LEAD_FLOW = ["Open - Not Contacted", "MQL", "Data Remediation", "Working - Contacted", "SQL",
             "Unqualified"]
WORKFLOWS = {CONTENT: CONTENT_FLOW, LEADS: LEAD_FLOW}


def move(record, frm, to, at, source=CONTENT, how=TimeSource.HISTORY):
    return Transition(source, record, frm, to, at, how)


def path(record, statuses, start, step, source=CONTENT):
    """A record moving through statuses, one hop every `step` (first hop from statuses[0])."""
    return [move(record, a, b, start + i * step, source)
            for i, (a, b) in enumerate(zip(statuses, statuses[1:]))]


def report(transitions=(), evaluations=(), slas=(), records=(), period=JAN, settings=None,
           as_of=None):
    inputs = KpiInputs(list(transitions), list(evaluations), list(slas), WORKFLOWS,
                       list(records), as_of)
    return compute_kpis(inputs, period, settings or KpiSettings())


def value(rep, kpi, group="all", source=None, bucket="period"):
    found = rep.value(kpi, group, source, bucket)
    assert found is not None, (kpi, group, source, bucket)
    return found.value


def evaluation(record, passed, at, gate="content-to-design", failures=()):
    return GateEvaluation(CONTENT, record, gate, passed, at,
                          tuple(CheckFailure(f"{f}.required", f, f"Add the {f}") for f in failures))


# -- percentiles -------------------------------------------------------------------------------

@pytest.mark.parametrize(("values", "p", "expected"), [
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9),
    ([4, 1, 3, 2], 50, 2),  # the lower middle value: always a value that happened
    ([7], 90, 7),
    ([1, 2, 3], 100, 3),
    ([], 50, None),
])
def test_nearest_rank(values, p, expected):
    assert nearest_rank(values, p) == expected


# -- gates -----------------------------------------------------------------------------------

def test_first_pass_yield_counts_only_the_first_attempt():
    evaluations = [
        evaluation("A", False, T0, failures=["visual brief"]),  # fails, then passes on re-entry
        evaluation("A", True, T0 + 2 * H),
        evaluation("B", True, T0 + H),
        evaluation("C", False, datetime(2024, 12, 20, tzinfo=UTC)),  # first attempt last month
        evaluation("C", True, T0 + 3 * H),  # its re-entry this month is not a first attempt
    ]
    rep = report(evaluations=evaluations)
    assert value(rep, "first_pass_yield", "content-to-design") == 50.0
    assert rep.value("first_pass_yield", "content-to-design").count == 2
    assert value(rep, "gate_entries", "content-to-design") == 4  # every entry in the period
    assert value(rep, "first_pass_yield") == 50.0  # the pooled "all" group
    # by check id since issue 14 (it grouped by the rendered message, which holds the bad value)
    assert value(rep, "check_failures", "content-to-design: visual brief.required") == 1
    assert any("re-entries" in note and note.endswith(": 2") for note in rep.notes)
    december = report(evaluations=evaluations, period=Period.month(2024, 12))
    assert value(december, "first_pass_yield", "content-to-design") == 0.0


def test_first_pass_yield_per_week_follows_the_first_attempt():
    evaluations = [evaluation("A", False, T0), evaluation("A", True, T0 + 7 * 24 * H),
                   evaluation("B", True, T0 + 7 * 24 * H)]
    rep = report(evaluations=evaluations)
    assert value(rep, "first_pass_yield", bucket="2025-W02") == 0.0
    assert value(rep, "first_pass_yield", bucket="2025-W03") == 100.0  # B only; A re-entered
    assert value(rep, "gate_entries", bucket="2025-W03") == 2


def test_two_gates_are_separate_groups():
    evaluations = [evaluation("A", True, T0, gate="g1"), evaluation("A", False, T0, gate="g2")]
    rep = report(evaluations=evaluations)
    assert value(rep, "first_pass_yield", "g1") == 100.0
    assert value(rep, "first_pass_yield", "g2") == 0.0


# -- time in stage ---------------------------------------------------------------------------

def test_time_in_stage_median_and_p90_exclude_open_stays():
    transitions = [
        move("R1", "Drafting", "Ready for Design", T0),
        move("R1", "Ready for Design", "In Design", T0 + 3 * H),
        move("R2", "Drafting", "Ready for Design", T0),
        move("R2", "Ready for Design", "In Design", T0 + 1 * H),
        move("R3", "Drafting", "Ready for Design", T0),
        move("R3", "Ready for Design", "In Design", T0 + 5 * H),
        move("R4", "Drafting", "Ready for Design", T0),  # still there at the period end
    ]
    rep = report(transitions)
    assert value(rep, "time_in_stage_median", "Ready for Design", CONTENT) == 3.0
    # linear interpolation since issue 14 (nearest rank gave 5.0): 3 + 0.8 × (5 − 3)
    assert value(rep, "time_in_stage_p90", "Ready for Design", CONTENT) == 4.6
    assert rep.value("time_in_stage_median", "Ready for Design", CONTENT).count == 3
    # the open stays (R4 in Ready for Design, R1-R3 in In Design) are left out, and said so
    assert "time in stage: stays still open at the period end, excluded: 4" in rep.notes


def test_a_stay_that_started_last_period_counts_whole_when_it_ends():
    transitions = [move("R1", "Drafting", "Ready for Design", datetime(2024, 12, 31, 22, tzinfo=UTC)),
                   move("R1", "Ready for Design", "In Design", datetime(2025, 1, 1, 4, tzinfo=UTC))]
    rep = report(transitions)
    assert value(rep, "time_in_stage_median", "Ready for Design", CONTENT) == 6.0
    december = report(transitions, period=Period.month(2024, 12))
    assert december.value("time_in_stage_median", "Ready for Design", CONTENT) is None


def test_missing_history_is_not_a_stay_start():
    transitions = [
        # first sighting by poll: Baton does not know when R1 entered Drafting
        move("R1", None, "Drafting", T0, how=TimeSource.POLL),
        move("R1", "Drafting", "Ready for Design", T0 + 2 * H, how=TimeSource.POLL),
        move("R1", "Ready for Design", "In Design", T0 + 3 * H, how=TimeSource.POLL),
        # a first sighting dated by the tool's history (creation) is a real start
        move("R2", None, "Drafting", T0, how=TimeSource.HISTORY),
        move("R2", "Drafting", "Ready for Design", T0 + 4 * H),
    ]
    rep = report(transitions)
    drafting = rep.value("time_in_stage_median", "Drafting", CONTENT)
    assert (drafting.value, drafting.count) == (4.0, 1)  # R2 only
    assert value(rep, "time_in_stage_median", "Ready for Design", CONTENT) == 1.0  # a known move
    assert any("did not see" in note and note.endswith(": 1") for note in rep.notes)


def test_a_gap_in_the_history_ends_no_stay():
    transitions = [move("R1", "Backlog", "Drafting", T0),
                   move("R1", "In Design", "Ready for Web", T0 + 5 * H)]  # hops in between lost
    rep = report(transitions)
    assert rep.value("time_in_stage_median", "Drafting", CONTENT) is None
    assert "time in stage: stays with a gap in the history, excluded: 1" in rep.notes


# -- rework ----------------------------------------------------------------------------------

def test_rework_rounds_count_backward_moves_by_workflow_order():
    transitions = [
        # R1: two bounces back from design
        *path("R1", ["Drafting", "Ready for Design", "Drafting", "Ready for Design", "In Design",
                     "Ready for Design"], T0, H),
        # R2: Drafting -> On Hold (not in the workflow, ignored) -> Backlog: one backward move
        move("R2", "Backlog", "Drafting", T0),
        move("R2", "Drafting", "On Hold", T0 + H),
        move("R2", "On Hold", "Backlog", T0 + 2 * H),
        # R3: straight through
        *path("R3", ["Backlog", "Drafting", "Ready for Design"], T0, H),
    ]
    rep = report(transitions)
    assert value(rep, "rework_rounds", source=CONTENT) == 1.0  # (2 + 1 + 0) / 3
    assert rep.value("rework_rounds", source=CONTENT).count == 3
    assert value(rep, "reworked_share", source=CONTENT) == pytest.approx(66.6667)


def test_a_first_sighting_is_not_a_move_but_sets_the_position():
    transitions = [move("R1", None, "Live", T0, how=TimeSource.POLL),
                   move("R1", "Live", "Ready for Web", T0 + H)]
    rep = report(transitions)
    assert value(rep, "rework_rounds", source=CONTENT) == 1.0
    only_sighting = report([move("R2", None, "Ready for Web", T0, how=TimeSource.POLL)])
    assert value(only_sighting, "rework_rounds", source=CONTENT) == 0.0


def test_sources_without_a_workflow_have_no_rework():
    rep = report([move("X1", "B", "A", T0, source="sheets:other")])
    assert rep.value("rework_rounds", source="sheets:other") is None
    assert value(rep, "rework_rounds") is None


# -- on-time delivery ------------------------------------------------------------------------

def test_on_time_delivery_against_the_due_date():
    transitions = [
        move("R1", "Ready for Web", "Live", datetime(2025, 1, 10, 23, tzinfo=UTC)),  # due day
        move("R2", "Ready for Web", "Live", datetime(2025, 1, 11, 0, 30, tzinfo=UTC)),  # late
        move("R3", "Drafting", "Ready for Design", T0),  # never delivered: late once due
        move("R4", "Ready for Web", "Live", T0),  # no due date
        move("R5", "Ready for Web", "Live", T0),  # due next month
    ]
    records = [
        RecordSnapshot(CONTENT, "R1", due=parse_due("2025-01-10")),
        RecordSnapshot(CONTENT, "R2", due=parse_due("2025-01-10")),
        RecordSnapshot(CONTENT, "R3", due=parse_due(date(2025, 1, 15))),
        RecordSnapshot(CONTENT, "R4"),
        RecordSnapshot(CONTENT, "R5", due=parse_due("2025-02-03")),
    ]
    rep = report(transitions, records=records)
    assert value(rep, "on_time_delivery", source=CONTENT) == pytest.approx(33.3333)
    assert rep.value("on_time_delivery", source=CONTENT).count == 3
    assert any("without a due date" in note and note.endswith(": 1") for note in rep.notes)
    # before R3's due date has passed it is not late yet
    early = report(transitions, records=records, as_of=datetime(2025, 1, 12, tzinfo=UTC))
    assert value(early, "on_time_delivery", source=CONTENT) == 50.0
    assert records[0].due == datetime(2025, 1, 10, 23, 59, 59, 999999, tzinfo=UTC)
    assert early.value("on_time_delivery", source=CONTENT).count == 2


def test_delivered_before_first_seen_counts_only_when_seen_in_time():
    transitions = [move("R1", None, "Live", datetime(2025, 1, 5, tzinfo=UTC), how=TimeSource.POLL),
                   move("R2", None, "Live", datetime(2025, 1, 20, tzinfo=UTC), how=TimeSource.POLL)]
    records = [RecordSnapshot(CONTENT, "R1", due=parse_due("2025-01-10")),
               RecordSnapshot(CONTENT, "R2", due=parse_due("2025-01-10"))]
    rep = report(transitions, records=records)
    assert value(rep, "on_time_delivery", source=CONTENT) == 100.0  # R1 was Live by then
    assert rep.value("on_time_delivery", source=CONTENT).count == 1  # R2: can't tell


# -- SLA compliance --------------------------------------------------------------------------

def sla(record, met_after=None, breached=False, started=T0, within=5 * M, cancelled=False):
    return SlaOutcome(LEADS, record, "speed-to-lead", started, started + within,
                      started + met_after if met_after is not None else None, breached, cancelled)


def test_sla_compliance_excludes_running_timers():
    outcomes = [
        sla("L1", met_after=2 * M),
        sla("L2", breached=True),
        sla("L3", met_after=7 * M, breached=True),  # met late
        sla("L4", started=datetime(2025, 1, 31, 23, 58, tzinfo=UTC)),  # still running
        sla("L5", cancelled=True),
    ]
    rep = report(slas=outcomes)
    assert value(rep, "sla_compliance", "speed-to-lead", LEADS) == pytest.approx(33.3333)
    assert rep.value("sla_compliance", "speed-to-lead", LEADS).count == 3
    assert value(rep, "sla_compliance") == pytest.approx(33.3333)
    assert "SLA compliance: timers started in the period still running, excluded: 1" in rep.notes


def test_an_overdue_timer_is_a_breach_even_unflagged():
    rep = report(slas=[sla("L1"), sla("L2", met_after=6 * M)])  # neither flagged by the producer
    assert value(rep, "sla_compliance") == 0.0
    assert rep.value("sla_compliance").count == 2


def test_sla_outcomes_from_the_stores_timers():
    timers = [
        SlaTimer("k1", LEADS, "L1", "stl", "t1", T0, T0 + 5 * M, met_at=T0 + M, closed_at=T0 + M),
        SlaTimer("k2", LEADS, "L2", "stl", "t2", T0, T0 + 5 * M, breached=True),
        SlaTimer("k3", LEADS, "L3", "stl", "t3", T0, T0 + 5 * M, closed_at=T0 + M),  # cancelled
        SlaTimer("k4", LEADS, "L4", "stl", "t4", T0, T0 + 5 * M),
    ]
    outcomes = sla_outcomes_from_timers(timers)
    assert [o.state for o in outcomes] == ["met", "breached", "cancelled", "running"]
    assert outcomes[0].transition_key == "t1"


# -- the lead funnel -------------------------------------------------------------------------

def lead(record, mql_at, *later, first=TimeSource.HISTORY):
    """A lead: Open -> MQL at mql_at, then (status, delay after MQL) hops."""
    out = [Transition(LEADS, record, "Open - Not Contacted", "MQL", mql_at, first)]
    previous = "MQL"
    for status, delay in later:
        out.append(Transition(LEADS, record, previous, status, mql_at + delay, TimeSource.HISTORY))
        previous = status
    return out


def test_speed_to_lead_at_4m59s_and_5m01s():
    transitions = [
        *lead("L1", T0, ("Working - Contacted", 4 * M + timedelta(seconds=59))),
        *lead("L2", T0, ("Working - Contacted", 5 * M + timedelta(seconds=1))),
    ]
    rep = report(transitions)
    # issue 14: the median of two is their mean (nearest rank gave 4:59), p90 interpolates
    assert value(rep, "speed_to_lead_median", source=LEADS) == pytest.approx(5.0, abs=1e-4)
    assert value(rep, "speed_to_lead_p90", source=LEADS) == pytest.approx(300.8 / 60, abs=1e-4)
    assert value(rep, "speed_to_lead_within_target", source=LEADS) == 50.0


def test_exactly_five_minutes_is_within_target():
    rep = report(lead("L1", T0, ("Working - Contacted", 5 * M)))
    assert value(rep, "speed_to_lead_within_target", source=LEADS) == 100.0


def test_untouched_leads_miss_the_target_once_it_has_passed():
    as_of = T0 + 10 * M
    transitions = [
        *lead("L1", T0, ("Working - Contacted", 2 * M)),
        *lead("L2", T0),  # never touched, its 5 minutes are over: a miss
        *lead("L3", as_of - 2 * M),  # MQL two minutes ago: still in its window, left out
        *lead("L4", T0, ("Unqualified", M)),  # rejected without a touch: a miss too
    ]
    rep = report(transitions, as_of=as_of)
    within = rep.value("speed_to_lead_within_target", source=LEADS)
    assert (within.value, within.count) == (pytest.approx(33.3333), 3)
    median = rep.value("speed_to_lead_median", source=LEADS)
    assert (median.value, median.count) == (2.0, 1)  # over the touched leads only


def test_lead_acceptance_and_conversions():
    transitions = [
        *lead("L1", T0, ("Working - Contacted", M), ("SQL", H)),
        *lead("L2", T0, ("Working - Contacted", M), ("Unqualified", H)),  # worked, then disqualified
        *lead("L3", T0, ("Unqualified", M)),  # rejected outright
        *lead("L4", T0),  # no decision yet
        *lead("L5", T0, ("Data Remediation", M), ("MQL", 2 * M), ("SQL", 3 * M)),  # SQL = accepted
    ]
    rep = report(transitions)
    acceptance = rep.value("lead_acceptance_rate", source=LEADS)
    assert (acceptance.value, acceptance.count) == (75.0, 4)
    conversion = rep.value("mql_to_sql", source=LEADS)
    assert (conversion.value, conversion.count) == (40.0, 5)
    opportunity = rep.value("sql_to_opportunity", source=LEADS)
    assert (opportunity.value, opportunity.count) == (0.0, 2)  # two SQLs, none converted
    assert value(rep, "rework_rounds", source=LEADS) == pytest.approx(1 / 5)  # L5 went back


def test_sql_to_opportunity_is_na_without_sqls_and_counts_conversions():
    rep = report(lead("L1", T0, ("Working - Contacted", M)))
    assert rep.value("sql_to_opportunity", source=LEADS).value is None
    converted = report(lead("L1", T0, ("SQL", M), ("Converted", H)))
    assert value(converted, "sql_to_opportunity", source=LEADS) == 100.0


def test_a_lead_first_seen_at_mql_is_left_out_of_the_funnel():
    transitions = [Transition(LEADS, "L1", None, "MQL", T0, TimeSource.POLL),
                   Transition(LEADS, "L1", "MQL", "Working - Contacted", T0 + M, TimeSource.POLL)]
    rep = report(transitions)
    assert rep.value("speed_to_lead_median", source=LEADS).value is None
    assert rep.value("mql_to_sql", source=LEADS).count == 0
    assert "lead funnel: leads first seen already at MQL (entry time unknown), excluded: 1" in rep.notes


def test_funnel_statuses_come_from_settings():
    settings = KpiSettings(lead=LeadFunnelSettings(source="sf:l", mql="Marketing Qualified",
                                                   accepted=["Contacted"], sql="Sales Qualified"))
    transitions = [Transition("sf:l", "L1", "New", "Marketing Qualified", T0, TimeSource.HISTORY),
                   Transition("sf:l", "L1", "Marketing Qualified", "Contacted", T0 + 3 * M,
                              TimeSource.HISTORY)]
    rep = report(transitions, settings=settings)
    assert value(rep, "speed_to_lead_median", source="sf:l") == 3.0


# -- periods, weeks, time zones --------------------------------------------------------------

def test_an_empty_period_has_no_numbers_and_no_errors():
    rep = report()
    for kpi in ("first_pass_yield", "rework_rounds", "on_time_delivery", "sla_compliance"):
        assert rep.value(kpi).value is None
    assert rep.value("gate_entries").value == 0
    for kpi in ("speed_to_lead_median", "speed_to_lead_p90", "speed_to_lead_within_target",
                "lead_acceptance_rate", "mql_to_sql", "sql_to_opportunity"):
        found = rep.value(kpi, source=LEADS)
        assert (found.value, found.count) == (None, 0)
    assert rep.weeks == ("2025-W01", "2025-W02", "2025-W03", "2025-W04", "2025-W05")
    assert len(rep.series("first_pass_yield")) == 5


def test_weeks_across_a_year_boundary():
    period = Period(datetime(2024, 12, 20, tzinfo=UTC), datetime(2025, 1, 10, tzinfo=UTC))
    assert period.weeks() == ["2024-W51", "2024-W52", "2025-W01", "2025-W02"]
    evaluations = [evaluation("A", True, datetime(2024, 12, 29, 23, 59, tzinfo=UTC)),  # Sunday
                   evaluation("B", False, datetime(2024, 12, 30, 0, 0, tzinfo=UTC)),  # 2025-W01
                   evaluation("C", False, datetime(2025, 1, 1, tzinfo=UTC))]
    rep = report(evaluations=evaluations, period=period)
    assert [(v.bucket, v.value) for v in rep.series("first_pass_yield")] == [
        ("2024-W51", None), ("2024-W52", 100.0), ("2025-W01", 0.0), ("2025-W02", None)]


def test_daylight_saving_changes_nothing():
    berlin = ZoneInfo("Europe/Berlin")  # clocks go forward on 2025-03-30
    entered = datetime(2025, 3, 29, 12, 0, tzinfo=berlin)
    left = datetime(2025, 3, 30, 12, 0, tzinfo=berlin)  # 23 real hours later
    rep = report([move("R1", "Drafting", "Ready for Design", entered),
                  move("R1", "Ready for Design", "In Design", left)], period=Period.month(2025, 3))
    assert value(rep, "time_in_stage_median", "Ready for Design", CONTENT) == 23.0
    # Monday 00:30 in Berlin is still Sunday in UTC: the week is the UTC one
    assert iso_week(datetime(2025, 3, 31, 0, 30, tzinfo=berlin)) == "2025-W13"


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        Period(datetime(2025, 1, 1), datetime(2025, 2, 1))
    with pytest.raises(ValueError):
        Period(datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))


def test_period_helpers():
    assert Period.month(2024, 12).end == datetime(2025, 1, 1, tzinfo=UTC)
    assert Period.last_month(datetime(2025, 1, 15, tzinfo=UTC)) == Period.month(2024, 12)
    assert datetime(2025, 1, 31, 23, 59, tzinfo=UTC) in JAN
    assert datetime(2025, 2, 1, tzinfo=UTC) not in JAN


def test_transitions_after_as_of_are_ignored():
    transitions = lead("L1", T0, ("Working - Contacted", 3 * M))
    rep = report(transitions, as_of=T0 + 2 * M)
    assert rep.value("speed_to_lead_median", source=LEADS).value is None
    assert rep.as_of == T0 + 2 * M


def test_progress_is_reported_once_per_kpi():
    calls = []
    compute_kpis(KpiInputs(), JAN, KpiSettings(), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, len(KPIS)) for i in range(1, len(KPIS) + 1)]


# -- inputs from the store -------------------------------------------------------------------

def test_evaluations_from_store_rows_take_the_transition_time():
    t = move("A", "Drafting", "Ready for Design", T0)
    rows = [
        {"transition_key": t.key, "source": CONTENT, "record_id": "A", "gate_id": "g",
         "rule_version": "v1", "passed": 0, "values_json": "{}", "evaluated_at": T0 + 5 * M,
         "failures_json": '[{"check": "required", "field": "Visual brief", "message": "Attach it"}]'},
        {"transition_key": "unknown", "source": CONTENT, "record_id": "B", "gate_id": "g",
         "rule_version": "v1", "passed": 1, "values_json": "{}", "failures_json": "not json",
         "evaluated_at": datetime(2025, 1, 7, 10, 0)},  # naive from SQLite: UTC
    ]
    first, second = evaluations_from_rows(rows, [t])
    assert first.at == T0 and not first.passed
    assert first.failures == (CheckFailure("required", "Visual brief", "Attach it"),)
    assert second.at == datetime(2025, 1, 7, 10, 0, tzinfo=UTC) and second.failures == ()


def test_records_from_store_rows_read_the_due_field():
    rows = [{"record_id": "1", "name": "Blog", "owner": "u1", "fields": {"due_on": "2025-01-10"}},
            {"record_id": "2", "name": "Ad", "owner": None, "fields": {"due_on": "soon"}},
            {"record_id": "3", "name": "Page", "owner": None,
             "fields": {"due_on": "2025-01-10T12:00:00Z"}}]
    snapshots = records_from_rows(CONTENT, rows, "due_on")
    assert [s.due for s in snapshots] == [
        datetime(2025, 1, 10, 23, 59, 59, 999999, tzinfo=UTC), None,
        datetime(2025, 1, 10, 12, tzinfo=UTC)]
    assert snapshots[0].owner == "u1"


# -- settings and definitions ----------------------------------------------------------------

def test_settings_defaults_and_strictness():
    settings = KpiSettings()
    assert settings.lead.source == LEADS and settings.lead.opportunity == "Converted"
    assert settings.delivery[CONTENT].due_field == "due_on"
    with pytest.raises(ValidationError):
        KpiSettings.model_validate({"lead": {"typo": 1}})
    with pytest.raises(ValidationError, match="both accepted and rejected"):
        LeadFunnelSettings(accepted=["X"], rejected=["X"])
    with pytest.raises(ValidationError):
        settings.audit_sample = 3  # frozen


def test_definitions_markdown_is_deterministic_and_complete():
    text = definitions_markdown()
    assert text == definitions_markdown()
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len(lines) == 2 + len(KPIS)
    assert "interpolated linearly" in text and "n/a" in text  # issue 14: was nearest-rank
    for definition in KPIS:
        assert f"`{definition.name}`" in text
    assert len({d.name for d in KPIS}) == len(KPIS)
