"""The Salesforce lookback window moves with the server's clock, and polls stream page by page.

A real runtime (SQLite state, the demo rules) on the emulator over HTTPS; the emulator's clock is
the sandbox clock, and its answers carry that clock in their `Date` header as a real instance's
do. Calls are counted by the emulator: query pages per sObject (`queried`) and routes (`calls`).
"""
from __future__ import annotations

from datetime import timedelta

from baton.sandbox.salesforce_seed import seed_scale

LEADS = "salesforce:leads"


def _small_pages(config):
    return config.model_copy(update={"salesforce": config.salesforce.model_copy(
        update={"page_size": 200})})


def _cycle(box, runner):
    box.salesforce.reset_calls()
    report = runner.run_source(LEADS)
    assert report is not None
    return report, dict(box.salesforce.queried), dict(box.salesforce.calls)


def test_after_a_mass_update_idle_cycles_cost_one_call_once_the_server_clock_passes_the_window(
        make_sandbox, runtime_on, demo_config):
    box = make_sandbox("salesforce")
    seed_scale(box.salesforce, 960)  # 1,000 leads with the demo's
    runtime, runner = runtime_on(box, _small_pages(demo_config))
    runner.run_source(LEADS)  # the baseline
    box.clock.advance(600)
    runner.run_source(LEADS)  # re-reads the baseline's last 300 s
    report, queried, _ = _cycle(box, runner)
    assert queried == {"Lead": 1} and report.records_seen == 0  # idle: one call

    # a data-cleanup job rewrites a tracked, configured field on every lead at one instant
    changed = box.salesforce.mass_update("Lead", {"Email": "cleaned@acme.example"})
    box.clock.advance(5)
    report, queried, calls = _cycle(box, runner)
    assert report.records_seen == changed and report.transitions == 0 and report.written == 0
    # every page once, and one history query by time window (Status and Owner rows: not the
    # 1,000 Email rows), not one per page or per 300 ids
    assert queried == {"Lead": -(-changed // 200), "LeadHistory": 1}
    some_lead = box.salesforce.records("Lead")[-1]["Id"]
    stored = runtime.store.records_by_id(LEADS, [some_lead])[some_lead]
    assert stored.fields["Email"] == "cleaned@acme.example"  # durable with its page

    # inside the window every lead is read again, and dropped as unchanged: no history read
    cycles = 0
    while True:
        box.clock.advance(60)
        report, queried, calls = _cycle(box, runner)
        cycles += 1
        if queried == {"Lead": 1}:
            break
        assert queried == {"Lead": -(-changed // 200)} and report.transitions == 0
        assert cycles < 7, "the window never lets go"
    assert cycles == 6  # 300 s of lookback past the cleanup, polled every 60 s
    for _ in range(3):
        box.clock.advance(60)
        report, queried, calls = _cycle(box, runner)
        assert queried == {"Lead": 1} and report.records_seen == 0
    assert not any(route.startswith(("composite", "sobject_")) for route in calls)


def test_a_late_commit_inside_the_window_is_still_seen_and_judged(make_sandbox, runtime_on):
    box = make_sandbox("salesforce")
    sf, clock = box.salesforce, box.clock
    lead = sf.create_record("Lead", {"FirstName": "Late", "LastName": "Commit", "Company": "Acme",
                                     "Email": "late@acme.example", "LeadSource": "Webinar",
                                     "Status": "Open - Not Contacted"})
    runtime, runner = runtime_on(box)
    runner.run_source(LEADS)  # the baseline
    clock.advance(600)
    polled = clock()
    runner.run_source(LEADS)  # the cursor is now the server's time at this poll
    # a transaction that began 200 s before that poll commits only after it
    clock.set(polled - timedelta(seconds=200))
    sf.update_record("Lead", lead, {"Status": "MQL"})
    clock.set(polled + timedelta(seconds=60))
    report = runner.run_source(LEADS)
    assert report is not None and report.transitions == 1
    [transition] = [t for t in runtime.store.transitions(LEADS) if t.record_id == lead]
    assert (transition.from_status, transition.to_status) == ("Open - Not Contacted", "MQL")
    assert transition.at == polled - timedelta(seconds=200)  # the history row's time
    assert runtime.store.evaluations(LEADS, lead)  # the MQL gate judged it


def test_a_page_that_fails_keeps_the_pages_before_it_and_not_the_cursor(
        make_sandbox, runtime_on, demo_config):
    box = make_sandbox("salesforce")
    seed_scale(box.salesforce, 560)  # 600 leads: 3 pages of 200
    runtime, runner = runtime_on(box, _small_pages(demo_config))
    runner.run_source(LEADS)
    box.clock.advance(600)
    cursor = runtime.store.source_state(LEADS).cursor
    box.salesforce.mass_update("Lead", {"Title": "Head of Cleanup"})
    box.clock.advance(5)
    box.salesforce.faults.add("query_more", times=3, status=503)  # page 2, every attempt

    def cleaned() -> int:
        return sum(r.fields.get("Title") == "Head of Cleanup"
                   for r in runtime.store.stored_records(LEADS))

    report = runner.run_source(LEADS)
    assert report is not None and report.records_seen == 200
    assert cleaned() == 200  # the first page is durable: 200 records, never more at once
    assert runtime.store.source_state(LEADS).cursor == cursor  # not every page is: it holds

    box.clock.advance(60)
    report, queried, _ = _cycle(box, runner)
    assert report.records_seen == 600 and queried["Lead"] == 3  # read again from the old cursor
    assert cleaned() == 600
    assert runtime.store.source_state(LEADS).cursor > cursor


def test_a_poll_streams_in_pages_and_its_cursor_is_known_only_at_the_end(
        make_sandbox, runtime_on, demo_config):
    box = make_sandbox("salesforce")
    seed_scale(box.salesforce, 560)
    runtime, runner = runtime_on(box, _small_pages(demo_config))
    runner.run_source(LEADS)
    cursor = runtime.store.source_state(LEADS).cursor
    box.salesforce.mass_update("Lead", {"Company": "Cleaned Inc"})
    box.clock.advance(30)
    stream = runtime.connectors[LEADS].stream_changes(cursor, box.clock())
    sizes = []
    for page in stream:
        sizes.append(len(page))
        assert stream.cursor is None and not stream.complete  # moves only after the last page
    assert sizes == [200, 200, 200]
    assert stream.complete and stream.cursor == box.clock().strftime("%Y-%m-%dT%H:%M:%S.000+0000")
