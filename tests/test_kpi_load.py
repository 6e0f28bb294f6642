"""Inputs read from a real (SQLite) state store end up in the report."""
from datetime import UTC, datetime, timedelta

from baton.core.records import Record, TimeSource
from baton.core.kpi_settings import KpiSettings
from baton.kpi import Period, compute_kpis, load_inputs
from baton.store import CycleWrite, Evaluation, SlaTimer, StateStore
from baton.core.records import Transition

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)
LEADS, CONTENT = "salesforce:leads", "asana:content-calendar"


def test_a_report_from_the_store(state_location):  # on SQLite and on PostgreSQL
    store = StateStore.open(state_location)
    mql = Transition(LEADS, "L1", "Open - Not Contacted", "MQL", T0, TimeSource.HISTORY)
    touch = Transition(LEADS, "L1", "MQL", "Working - Contacted", T0 + 4 * M, TimeSource.HISTORY)
    later = Transition(LEADS, "L1", "Working - Contacted", "SQL", datetime(2025, 3, 1, tzinfo=UTC),
                       TimeSource.HISTORY)
    lead = Record(LEADS, "L1", "u", "Ada", "SQL", "005", {}, T0)
    store.commit_cycle(CycleWrite(
        LEADS, "c1", True, [lead], {}, [mql, touch, later],
        evaluations=[Evaluation(mql.key, LEADS, "L1", "mql-entry", "v1", False,
                                [{"check": "required", "field": "Company", "message": "Add it"}],
                                {})],
        timers=[SlaTimer("k", LEADS, "L1", "speed-to-lead", mql.key, T0, T0 + 5 * M,
                         met_at=T0 + 4 * M, closed_at=T0 + 4 * M)]), T0 + 10 * M)
    task = Record(CONTENT, "A1", "u", "Blog", "Live", "u1", {"due_on": "2025-01-10"}, T0)
    store.commit_cycle(CycleWrite(CONTENT, "c1", True, [task], {}, [
        Transition(CONTENT, "A1", "Ready for Web", "Live", T0, TimeSource.HISTORY)]), T0)

    until = datetime(2025, 2, 1, tzinfo=UTC)
    inputs = load_inputs(store, {LEADS: ["MQL", "Working - Contacted", "SQL"]}, KpiSettings(),
                         until=until)
    assert len(inputs.transitions) == 3  # March is after `until`
    [evaluation] = inputs.evaluations
    assert evaluation.at == T0 and evaluation.failures[0].message == "Add it"
    report = compute_kpis(inputs, Period.month(2025, 1), KpiSettings())
    assert report.value("speed_to_lead_median", source=LEADS).value == 4.0
    assert report.value("sla_compliance").value == 100.0
    assert report.value("first_pass_yield").value == 0.0
    assert report.value("mql_to_sql", source=LEADS).value == 0.0  # SQL came after the cut
    assert report.value("on_time_delivery", source=CONTENT).value == 100.0
