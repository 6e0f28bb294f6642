"""Transition detection: history first, then modification time, then poll time (marked so)."""
from datetime import UTC, datetime, timedelta

from baton.core.records import Record, StatusChange, TimeSource
from baton.engine.transitions import detect
from baton.store.models import KnownRecord

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


def lead(status, modified=T0 + timedelta(minutes=30), fingerprint="", source=TimeSource.MODIFIED):
    return Record("sf", "00Q1", "u", "Ada", status, "005", {}, modified, fingerprint, source)


def known(status, since=T0, fingerprint=""):
    return {"00Q1": KnownRecord("00Q1", status, since, fingerprint)}


def test_hops_between_polls_come_from_history_with_their_timestamps():
    history = {"00Q1": [
        StatusChange("00Q1", "MQL", "Working - Contacted", T0 + timedelta(minutes=7)),
        StatusChange("00Q1", "Open - Not Contacted", "MQL", T0 + timedelta(minutes=2)),
    ]}
    [seen] = detect([lead("Working - Contacted")], known("Open - Not Contacted"), history, NOW)
    assert [(t.from_status, t.to_status, t.at, t.time_source) for t in seen.transitions] == [
        ("Open - Not Contacted", "MQL", T0 + timedelta(minutes=2), TimeSource.HISTORY),
        ("MQL", "Working - Contacted", T0 + timedelta(minutes=7), TimeSource.HISTORY),
    ]
    assert seen.status_since == T0 + timedelta(minutes=7)


def test_history_already_known_is_not_repeated():
    history = {"00Q1": [StatusChange("00Q1", "Open", "MQL", T0 - timedelta(minutes=5))]}
    [seen] = detect([lead("MQL")], known("MQL"), history, NOW)
    assert seen.transitions == ()


def test_without_history_the_modification_time_is_used():
    [seen] = detect([lead("MQL")], known("Open"), {}, NOW)
    [t] = seen.transitions
    assert (t.from_status, t.to_status, t.at, t.time_source) == ("Open", "MQL", T0 + timedelta(minutes=30), TimeSource.MODIFIED)


def test_history_that_does_not_reach_the_current_status_is_not_trusted():
    history = {"00Q1": [StatusChange("00Q1", "Open", "MQL", T0 + timedelta(minutes=1))]}
    [seen] = detect([lead("SQL")], known("Open"), history, NOW)
    [t] = seen.transitions
    assert (t.from_status, t.to_status, t.time_source) == ("Open", "SQL", TimeSource.MODIFIED)


def test_a_stale_modification_time_falls_back_to_the_poll_time():
    [seen] = detect([lead("MQL", modified=T0 - timedelta(days=1))], known("Open"), {}, NOW)
    assert (seen.transitions[0].at, seen.transitions[0].time_source) == (NOW, TimeSource.POLL)


def test_an_unchanged_snapshot_row_is_skipped_and_a_new_record_enters_its_status():
    assert detect([lead("Draft", fingerprint="abc")], known("Draft", fingerprint="abc"), {}, NOW) == []
    [seen] = detect([lead("Ready for QA", source=TimeSource.POLL, modified=NOW)], {}, {}, NOW)
    [t] = seen.transitions
    assert (t.from_status, t.to_status, t.time_source) == (None, "Ready for QA", TimeSource.POLL)


def test_transition_key_ignores_from_status_so_two_sightings_are_one():
    history = {"00Q1": [StatusChange("00Q1", None, "MQL", T0 + timedelta(minutes=2))]}
    [a] = detect([lead("MQL")], known("Open"), history, NOW)
    [b] = detect([lead("MQL")], known("Open - Not Contacted"), history, NOW)
    assert a.transitions[0].key == b.transitions[0].key


def test_the_known_entry_told_again_by_a_later_stamped_story_is_not_a_second_transition():
    # known: MQL since T0 (an Asana move dated from its event); the story of that move comes
    # back stamped two seconds later: the same entry, not a re-entry
    history = {"00Q1": [StatusChange("00Q1", "Open", "MQL", T0 + timedelta(seconds=2))]}
    [seen] = detect([lead("MQL")], known("MQL"), history, NOW)
    assert seen.transitions == ()
    # ...also when a real hop follows it: only the real hop is new
    history["00Q1"].append(StatusChange("00Q1", "MQL", "SQL", T0 + timedelta(minutes=9)))
    [seen] = detect([lead("SQL")], known("MQL"), history, NOW)
    assert [(t.from_status, t.to_status, t.at) for t in seen.transitions] == [
        ("MQL", "SQL", T0 + timedelta(minutes=9))]
