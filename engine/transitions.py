"""Turn a poll (records + the tool's history) into transitions, against the last known state."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from baton.core.records import Record, StatusChange, TimeSource
from baton.store.models import KnownRecord
from baton.core.records import Transition


@dataclass(frozen=True, slots=True)
class Observed:
    """What a poll tells about one record: its transitions (oldest first) and when its status began."""

    record: Record
    transitions: tuple[Transition, ...]
    status_since: datetime | None


def detect(
    records: Sequence[Record],
    known: Mapping[str, KnownRecord],
    history: Mapping[str, Sequence[StatusChange]],
    now: datetime,
) -> list[Observed]:
    """Transitions per changed record.

    History wins where it explains the current status (A→B→C between two polls gives two
    transitions with the tool's timestamps). Otherwise one transition from the last known status,
    timed by the record's modification time (or the poll time, marked so).
    """
    observed = []
    for record in records:
        previous = known.get(record.id)
        if previous is not None and previous.fingerprint and previous.fingerprint == record.fingerprint:
            continue  # a snapshot source returned an unchanged row
        observed.append(_observe(record, previous, history.get(record.id, ()), now))
    return observed


def _observe(record: Record, previous: KnownRecord | None, changes: Sequence[StatusChange],
             now: datetime) -> Observed:
    last_status = previous.status if previous else None
    since = previous.status_since if previous else None
    # History has whole seconds: a change in the same second as the known status is new unless
    # it is the very change that set the known status.
    hops = sorted((c for c in changes if since is None or c.at > since
                   or (c.at == since and c.to_status != last_status)), key=lambda c: c.at)
    # A first hop INTO the status already known cannot be a new change (the record would have
    # had to leave it first): it is the known entry told again, later stamped (an Asana move
    # dated from its event, then read from a story stamped a moment after). Never counted twice.
    while hops and last_status is not None and hops[0].to_status == last_status:
        hops.pop(0)
    if hops and record.status is not None and hops[-1].to_status == record.status:
        transitions = []
        from_status = last_status
        for hop in hops:
            transitions.append(Transition(record.source, record.id, hop.from_status or from_status,
                                          hop.to_status, hop.at, hop.time_source))
            from_status = hop.to_status
        return Observed(record, tuple(transitions), hops[-1].at)
    if record.status is None or record.status == last_status:
        return Observed(record, (), since)
    at, source = fallback_time(record, since, now)
    transition = Transition(record.source, record.id, last_status, record.status, at, source)
    return Observed(record, (transition,), at)


def fallback_time(record: Record, since: datetime | None, now: datetime) -> tuple[datetime, TimeSource]:
    at, source = record.modified_at, record.modified_source
    # A modification time older than the status we already know cannot time a newer change.
    if at is None or (since is not None and at <= since) or at > now:
        return now, TimeSource.POLL
    return at, source
