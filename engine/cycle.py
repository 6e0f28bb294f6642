"""One source cycle: poll → transitions → gates → ledger → write-backs. The daemon only calls this.

Exactly-once rests on the order of durable steps:
1. the planned actions enter the ledger as `pending` in the same transaction as the transitions,
   the new record states and the cursor;
2. before a write goes out its ledger row counts an attempt;
3. a pending row with attempts > 0 may have reached the tool before a crash: the connector is
   asked to find it by its idempotency marker before anything is written again.
A crash before (1) re-polls the same changes from the old cursor; the transition keys are stable,
so the replay plans the same ledger keys. A poll streams page by page: a record whose status did
not move is stored with its page, before (1); replayed, it is an unchanged version and dropped.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog

from baton.core.actions import (EDITS_RECORD, SUPERSEDED, Action, ActionKind, ActionResult,
                                Capabilities)
from baton.connectors.base import Connector
from baton.core.records import FieldChange, Record
from baton.core.errors import SourceError
from baton.connectors.webhook import WebhookNotifier
from baton.core.faults import crashpoint
from baton.engine import digest
from baton.engine.entries import (MOVED_ON, Entry, fresh_entries, passed_through,
                                  with_values_at_entry)
from baton.engine.planner import LEDGER_REF, describe, ledger_ref, plan_failure, plan_resolution
from baton.engine.sla import catch_up, escalate, start_and_meet
from baton.engine.own_moves import own_history
from baton.engine.transitions import Observed, detect
from baton.engine.lookups import held_entries
from baton.rules import NO_LOOKUPS, Lookups, RuleSet, evaluate_gate
from baton.rules.model import OBSERVE
from baton.store import CycleWrite, Evaluation, LedgerEntry, OpenViolation, StateStore
from baton.store.rows import HELD

log = structlog.get_logger()


@dataclass
class CycleReport:
    source: str
    baseline: bool = False
    records_seen: int = 0
    transitions: int = 0
    evaluations: int = 0
    violations: int = 0
    planned: list[str] = field(default_factory=list)
    written: int = 0
    recovered: int = 0
    failed: int = 0
    sla_breaches: int = 0


def run_cycle(source_id: str, connector: Connector, store: StateStore, rules: RuleSet,
              now: datetime, *, dry_run: bool = False,
              notifier: WebhookNotifier | None = None,
              lookups: Lookups = NO_LOOKUPS) -> CycleReport:
    """`lookups`: the other sources' snapshots, for cross-tool checks (engine.lookups)."""
    report = CycleReport(source_id)
    pending = [] if dry_run else store.pending_actions(source_id)
    # A bounce left pending waits for this poll: if a person moved the record meanwhile, it is
    # not yanked back.
    bounces = [e for e in pending if e.action.kind is ActionKind.MOVE_STATUS]
    _flush_pending(source_id, [e for e in pending if e not in bounces], connector, notifier,
                   store, now, report)
    state = store.source_state(source_id)
    if not state.has_baseline:
        report.baseline = True
        if not dry_run:
            report.records_seen = _record_baseline(source_id, connector, store, now)
        log.info("source.baseline", source=source_id, records=report.records_seen)
        return report
    stream = connector.stream_changes(state.cursor, now)
    watched = {e.action.record_id for e in bounces}
    statuses: dict[str, str | None] = {}
    observed: list[Observed] = []
    owner_changes: list[FieldChange] = []
    for page in stream:
        report.records_seen += len(page)
        statuses.update({r.id: r.status for r in page if r.id in watched})
        seen, owners = _observe_page(source_id, page, connector, store, stream.status_hints, now)
        if dry_run:
            observed += seen
            owner_changes += owners
            continue
        # A record whose status did not move is made durable with its page (a mass update of
        # 50,000 leads is never held at once); one that moved waits for the gates below.
        quiet = [o for o in seen if not o.transitions]
        observed += [o for o in seen if o.transitions]
        if quiet or owners:
            store.commit_cycle(CycleWrite(
                source_id, None, advance_cursor=False, records=[o.record for o in quiet],
                status_since={o.record.id: o.status_since for o in quiet if o.status_since},
                owner_changes=owners), now)
        del page, seen, quiet  # not held while the connector reads the next page
    observed = list({o.record.id: o for o in observed}.values())  # a row on two pages: the last
    if bounces:
        bounces = _drop_superseded(bounces, statuses, store, now, report)
        _flush_pending(source_id, bounces, connector, notifier, store, now, report)

    fresh = _new_transitions(observed, store)
    entries = _entries(source_id, observed, fresh, rules, connector)
    held = held_entries(source_id, rules, store, [o.record for o in observed])

    write = CycleWrite(source_id, stream.cursor, advance_cursor=stream.complete,
                       records=[o.record for o in observed],
                       status_since={o.record.id: o.status_since for o in observed if o.status_since})
    write.transitions = [t for o in observed for t in o.transitions if t.key in fresh]
    write.owner_changes = owner_changes
    write.transition_values = {e.transition.key: (e.record, e.basis or (
        "" if e.still_there else MOVED_ON)) for e in entries}  # what preview replays on
    _evaluate(source_id, [*entries, *(e for e, _ in held)], rules, store, write,
              connector.capabilities, now, lookups, {(e.transition.key, g) for e, g in held})
    _advance_slas(source_id, rules, store, write, now, report)
    report.transitions = len(write.transitions)
    report.evaluations = len(write.evaluations)
    report.violations = len(write.opened)
    report.planned = describe([a for a, _ in write.actions])

    if dry_run:
        return report
    if (write.records or write.transitions or write.timers or write.actions
            or write.owner_changes or write.advance_cursor):
        crashpoint("before_commit")
        store.commit_cycle(write, now)
        crashpoint("after_commit")
    _write(connector, notifier, store, [a for a, _ in write.actions], now, report)
    return report


def _record_baseline(source_id: str, connector: Connector, store: StateStore, now: datetime) -> int:
    """The first sight of a source: remember every record, comment on none of them.

    Page by page where the connector can; the cursor is written last, so a baseline cut short
    is simply taken again."""
    stream = connector.stream_baseline(now)
    seen = 0
    for page in stream:
        seen += len(page)
        store.commit_cycle(CycleWrite(source_id, None, advance_cursor=False, records=list(page),
                                      status_since={r.id: r.modified_at for r in page}), now)
        del page  # not held while the connector reads the next page
    if stream.complete:
        store.commit_cycle(CycleWrite(source_id, stream.cursor, advance_cursor=True, baseline=True), now)
    return seen


def _observe_page(source_id: str, page: Sequence[Record], connector: Connector,
                  store: StateStore, hints: frozenset[str] | None,
                  now: datetime) -> tuple[list[Observed], list[FieldChange]]:
    """One page of a poll: a record whose version the store already has is dropped before any
    further work; the others are matched against the tool's history (read for this page's
    records that may have moved) and become observations."""
    known = store.known_records(source_id, [r.id for r in page])
    candidates = [r for r in page
                  if r.id not in known or not r.fingerprint or r.fingerprint != known[r.id].fingerprint]
    if not candidates:
        return [], []
    wanted = _history_wanted(candidates, known, hints)
    history = connector.status_history(wanted, _earliest_since(candidates, known)) if wanted else {}
    owners = connector.owner_history(wanted) if wanted else {}  # from that same read
    if not connector.capabilities.keeps_history:
        history = own_history(source_id, candidates, known, store, now)
    return (detect(candidates, known, history, now),
            [c for changes in owners.values() for c in changes])


def _history_wanted(records: Sequence[Record], known: dict,
                    hints: frozenset[str] | None) -> list[str]:
    """Known records whose history may hold a move: all of them, or where the tool's feed gives
    hints, the hinted ones and those whose status is not the one the store knows."""
    return [r.id for r in records if r.id in known and (
        hints is None or r.id in hints or r.status != known[r.id].status)]


def _earliest_since(records: Sequence[Record], known: dict) -> datetime | None:
    times = [known[r.id].status_since for r in records if r.id in known and known[r.id].status_since]
    return min(times) if times else None


def _new_transitions(observed: Sequence[Observed], store: StateStore) -> set[str]:
    keys = [t.key for o in observed for t in o.transitions]
    return set(keys) - store.existing_transition_keys(keys)


def _entries(source_id: str, observed: Sequence[Observed], fresh: set[str], rules: RuleSet,
             connector: Connector) -> list[Entry]:
    """Every fresh entry; a gated status the record already left is judged on the values of
    that time where the tool's field history has them (engine.entries)."""
    entries = fresh_entries(observed, fresh, lambda t: bool(
        rules.gates_entering(source_id, t.to_status, t.from_status)))
    ids, since = passed_through(entries)
    if not ids or since is None:
        return entries
    return with_values_at_entry(entries, connector.field_history(ids, since))


def _evaluate(source_id: str, entries: Sequence[Entry], rules: RuleSet, store: StateStore,
              write: CycleWrite, capabilities: Capabilities, now: datetime,
              lookups: Lookups = NO_LOOKUPS,
              rejudged: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset()) -> None:
    """Gates run for every entry into their status, oldest first, also one the record has
    already left (A→B→C between two polls: B's gate runs); only an entry the record is still in
    may bounce it. A gate waiting on a stale lookup source is recorded as held and writes
    nothing; `rejudged` (transition key, gate) are such held verdicts, judged again."""
    open_violations = store.open_violations(source_id, list(dict.fromkeys(e.record.id for e in entries)))
    evaluations, opened, resolved, actions = [], [], [], []
    failed: list[digest.Failed] = []
    digests: dict[str, tuple[str, str, str, str]] = {}  # a digest a resolution here may close
    for entry in sorted(entries, key=lambda e: e.transition.at):
        record, transition = entry.record, entry.transition
        again = {g for k, g in rejudged if k == transition.key}
        for gate in rules.gates_entering(source_id, transition.to_status, transition.from_status):
            if again and gate.id not in again:
                continue  # this entry's other gates were decided when it was fresh
            result = evaluate_gate(gate, record, lookups=lookups)
            if result.held:
                log.info("gate.held", source=source_id, record=record.id, gate=gate.id)
                if not again:  # a held verdict already recorded stays as it is
                    evaluations.append(Evaluation(
                        transition.key, source_id, record.id, gate.id, rules.version, False,
                        [{"check": f.check_id, "field": f.field, "message": f.message}
                         for f in result.failures],
                        result.values_seen, HELD + "; ".join(result.messages), gate.mode))
                continue
            evaluations.append(Evaluation(
                transition.key, source_id, record.id, gate.id, rules.version, result.passed,
                [{"check": f.check_id, "field": f.field, "message": f.message} for f in result.failures],
                result.values_seen, entry.basis, gate.mode))
            if gate.observed:  # shadow mode: recorded above, and nothing else (no violation, no write)
                log.info("gate.observed", source=source_id, record=record.id, gate=gate.id,
                         passed=result.passed, failures=len(result.failures))
                continue
            previous = open_violations.pop((record.id, gate.id), None)
            if previous is not None:
                digests.update(dict.fromkeys(digest.digests_of(previous.written),
                                             (source_id, record.id, gate.id, transition.key)))
            if result.passed:
                log.info("gate.passed", source=source_id, record=record.id, gate=gate.id,
                         basis=entry.basis or None)
                if previous is not None:
                    resolved.append((record.id, gate.id, transition.key))
                    actions += [(a, transition.key) for a in plan_resolution(
                        record, gate, transition.key, previous, capabilities)]
                continue
            log.info("gate.violation", source=source_id, record=record.id, gate=gate.id,
                     failures=len(result.failures), rule_version=rules.version,
                     basis=entry.basis or None)
            if previous is not None:
                resolved.append((record.id, gate.id, transition.key))  # superseded by this one
            opened.append((record.id, gate.id, transition.key))
            planned = plan_failure(record, gate, result, transition.key, previous, capabilities,
                                   still_there=entry.still_there)
            failed.append(digest.Failed(record, gate, result, transition.key, planned))
            # A later entry of this cycle answers what this one is about to write.
            open_violations[(record.id, gate.id)] = OpenViolation(
                source_id, record.id, gate.id, transition.key, now,
                [(a.key, a.kind.value, ledger_ref(a.key)) for a in planned])
    actions += digest.with_digests(failed, capabilities)
    if digests:
        actions += digest.closings(digests, store.digest_members(source_id, list(digests)),
                                   {(r, g) for r, g, _ in resolved})
    write.evaluations, write.opened, write.resolved, write.actions = evaluations, opened, resolved, actions


def _advance_slas(source_id: str, rules: RuleSet, store: StateStore, write: CycleWrite,
                  now: datetime, report: CycleReport) -> None:
    """Start, meet and escalate SLA timers; runs every cycle, also when nothing changed."""
    slas = [s for s in rules.slas if s.source == source_id]
    if not slas:
        return
    open_timers = store.open_timers(source_id)
    failed = {(e.transition_key, e.gate_id) for e in write.evaluations
              if not e.passed and e.mode != OBSERVE}  # a shadow gate holds up no SLA
    live = [t for t in write.transitions if not t.backfilled]
    started = {t.key: t for t in start_and_meet(slas, live, open_timers, failed)}
    still_open = [t for t in ({t.key: t for t in open_timers} | started).values() if t.closed_at is None]
    if not started and not still_open:
        return
    closed = [t for t in started.values() if t.closed_at is not None]
    records = store.records_by_id(source_id, [t.record_id for t in [*still_open, *closed]])
    records.update({r.id: r for r in write.records})
    late, late_actions = catch_up(slas, closed, records)
    escalated, actions = escalate(slas, still_open, records, now)
    write.timers = list((started | {t.key: t for t in [*late, *escalated]}).values())
    read = {t.key: t.steps_fired for t in open_timers}
    write.timer_claims = {t.key: read[t.key] for t in write.timers if t.key in read}
    write.actions = [*write.actions, *late_actions, *actions]
    report.sla_breaches = len({a.key for a, _ in [*late_actions, *actions]})


def _drop_superseded(bounces: list[LedgerEntry], statuses: dict[str, str | None],
                     store: StateStore, now: datetime, report: CycleReport) -> list[LedgerEntry]:
    """Pending bounces whose record has since left the gated status (a person moved it, or the
    bounce itself landed before a crash) are done; the others still go out."""
    still_due, done = [], []
    for entry in bounces:
        action = entry.action
        current = statuses.get(action.record_id)
        expected = action.expected_status
        if current is not None and expected is not None and current != expected:
            done.append(ActionResult(action.key, True, remote_id=f"{SUPERSEDED}{current}"))
            log.info("writeback.superseded", source=action.source, record=action.record_id,
                     status=current, bounce_to=action.value)
        else:
            still_due.append(entry)
    if done:
        store.finish_actions(done, now)
        report.recovered += len(done)
    return still_due


def _flush_pending(source_id: str, pending: Sequence[LedgerEntry], connector: Connector,
                   notifier: WebhookNotifier | None, store: StateStore, now: datetime,
                   report: CycleReport) -> None:
    """Finish what an earlier cycle (or a crashed process) left pending in the ledger."""
    if not pending:
        return
    # A chat post cannot be looked up: one that may have gone out is not sent again.
    found = {e.action.key: "webhook:unconfirmed" for e in pending
             if e.attempts > 0 and e.action.kind is ActionKind.NOTIFY}
    maybe_written = [e.action for e in pending if e.attempts > 0 and e.action.key not in found]
    if maybe_written:
        found.update(connector.find_written(maybe_written))
    if found:
        store.finish_actions([ActionResult(k, True, remote_id=r) for k, r in found.items()], now)
        report.recovered += len(found)
        log.info("ledger.recovered", source=source_id, actions=len(found))
    _write(connector, notifier, store, [e.action for e in pending if e.action.key not in found],
           now, report)


def _write(connector: Connector, notifier: WebhookNotifier | None, store: StateStore,
           actions: Sequence[Action], now: datetime, report: CycleReport) -> None:
    """Write, then write what answers a write of this same cycle (a task failed and fixed
    between two polls is created, then closed), once the remote id it answers is known."""
    answers = [a for a in actions if (a.target or "").startswith(LEDGER_REF)]
    _write_batch(connector, notifier, store, [a for a in actions if a not in answers], now, report)
    if answers:
        _write_batch(connector, notifier, store, _with_targets(answers, store, now, report),
                     now, report)


def _with_targets(answers: Sequence[Action], store: StateStore, now: datetime,
                  report: CycleReport) -> list[Action]:
    """Answers whose target is now written get its remote id; one whose target failed for good
    fails too; one whose target is still pending waits for a later cycle."""
    rows = store.ledger_rows([(a.target or "").removeprefix(LEDGER_REF) for a in answers])
    ready, dead = [], []
    for action in answers:
        row = rows.get((action.target or "").removeprefix(LEDGER_REF))
        if row is not None and row.state == "done" and row.remote_id:
            ready.append(replace(action, target=row.remote_id))
        elif row is None or row.state == "failed":
            dead.append(ActionResult(action.key, False, error="what it answers was never written"))
    if dead:
        store.finish_actions(dead, now)
        report.failed += len(dead)
    return ready


def _write_batch(connector: Connector, notifier: WebhookNotifier | None, store: StateStore,
                 actions: Sequence[Action], now: datetime, report: CycleReport) -> None:
    if not actions:
        return
    store.mark_attempt([a.key for a in actions])
    crashpoint("after_attempt")
    to_tool = [a for a in actions if a.kind not in (ActionKind.NOTIFY, ActionKind.DIGEST_ITEM)]
    to_chat = [a for a in actions if a.kind is ActionKind.NOTIFY]
    # a record's place in a digest is marked, not sent: the digest (its target) is written
    marked = [ActionResult(a.key, True, remote_id=a.target) for a in actions
              if a.kind is ActionKind.DIGEST_ITEM]
    try:
        results = list(connector.write_back(to_tool)) if to_tool else []
    except SourceError:
        raise  # the tool is down or refusing: the actions stay pending, attempts counted
    except Exception as error:  # a bug must not turn one action into a crash loop
        log.exception("writeback.crashed", source=report.source, actions=len(to_tool))
        results = [ActionResult(a.key, False, error=f"{type(error).__name__}: {error}")
                   for a in to_tool]
    crashpoint("after_write")
    if to_chat:
        results += notifier.send(to_chat) if notifier else [
            ActionResult(a.key, False, error="no webhook notifier configured") for a in to_chat]
    succeeded = {r.key for r in results if r.ok}
    edited = [a.record_id for a in to_tool if a.kind in EDITS_RECORD and a.key in succeeded]
    store.finish_actions([*results, *marked], now, changed={report.source: edited})
    for result in results:
        if result.ok:
            report.written += 1
        else:
            report.failed += 1
            log.warning("writeback.failed", source=report.source, action=result.key,
                        error=result.error, retryable=result.retryable)
