"""The state store: every SQL statement Baton runs lives in this module.

SQLite (WAL) is the embedded default; the same statements run on PostgreSQL, where every write
is fenced by the instance's lease (`leases`). A little longer than 400 lines: the statements
stay together so that none escapes the fence.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, and_, create_engine, event, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from baton.core.actions import SUPERSEDED, ActionKind, ActionResult
from baton.core.errors import StateFileError, StateNotWritable
from baton.core.records import FieldChange, Record, StatusChange, TimeSource
from baton.core.faults import crashpoint
from baton.store import database, schema, sqlite_file
from baton.store.leases import LeaseLost
from baton.store.action_codec import action_from_dict, action_to_dict
from baton.store.models import CycleWrite, KnownRecord, LedgerEntry, OpenViolation, SlaTimer
from baton.store.rows import (HELD, EvaluationRow, LedgerRow, SourceState, StoredRecord,
                              TransitionValues, values_at)
from baton.core.records import Transition

_CHUNK = 500  # ids per IN (...) list, records per upsert
T = TypeVar("T")
SQLITE_CACHE_KIB = 512


class ClaimLost(LeaseLost):
    """Another writer claimed what this cycle was about to advance (an SLA timer's steps)."""


class StateStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.fence: Any = None  # a PostgreSQL lease (`leases.PgLease`); default: the process's
        self.location = engine.url.database if engine.dialect.name == "sqlite" else \
            engine.url.set(drivername="postgresql").render_as_string(hide_password=True)
        self.migrate()

    @classmethod
    def open(cls, location: str | Path, password: str | None = None) -> StateStore:
        """A path opens a SQLite file (WAL), checked first (`sqlite_file`); a URL
        (postgresql://…) opens that database with psycopg 3 (`database`; the password, if
        any, given apart from the URL). A state Baton cannot use raises a `StateError`."""
        text = str(location)
        if database.is_postgresql(text):
            engine = database.postgresql_engine(text, password)
            try:
                return cls(engine)
            except DBAPIError as error:
                engine.dispose()
                raise database.unusable(text, error) from None
        if "://" not in text:
            if text != ":memory:":
                sqlite_file.prepare(Path(text))
            text = f"sqlite:///{text}"
        engine = create_engine(text)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        try:
            return cls(engine)
        except DBAPIError as error:
            engine.dispose()
            what = f"state {text.removeprefix('sqlite:///')}: {error.orig}"
            if "readonly" in str(error.orig):
                raise StateNotWritable(f"{what}; make it writable for the user Baton runs as") from None
            raise StateFileError(f"{what}; {sqlite_file.ADVICE}") from None

    def migrate(self) -> int:
        if self.engine.dialect.name == "postgresql":
            # Several instances may start at once: one transaction, serialised by a
            # transaction-scoped advisory lock (safe behind PgBouncer), DDL included.
            with self.engine.begin() as connection:
                database.lock_migrations(connection, schema.MIGRATION_LOCK_KEY)
                return self._migrate(connection, schema.current_version(connection))
        with self.engine.begin() as connection:
            version = schema.current_version(connection)
        return self._migrate(None, version)

    def _migrate(self, shared: Any, version: int) -> int:
        known = schema.MIGRATIONS[-1][0]
        if version > known:
            raise StateFileError(
                f"state {self.location} was written by a newer Baton (schema version {version}; "
                f"this build knows up to {known}): run that version, or restore a backup this "
                "version wrote")
        for number, name, apply in schema.MIGRATIONS:
            if number <= version:
                continue
            with database.transaction(self.engine, shared) as connection:
                apply(connection)
                connection.execute(insert(schema.schema_version).values(
                    version=number, name=name, applied_at=_now()))
            version = number
        return version

    # -- sources -----------------------------------------------------------------------------

    def source_state(self, source: str) -> SourceState:
        """Cursor, baseline time and pause of a source; a source never seen has no baseline."""
        c = schema.cursors.c
        with self.engine.connect() as connection:
            row = connection.execute(select(c.cursor, c.baseline_at, c.paused_until, c.updated_at)
                                     .where(c.source == source)).first()
        return (SourceState(row.cursor, row.baseline_at, row.paused_until, row.updated_at)
                if row else SourceState())

    def last_cycle_at(self, source: str) -> datetime | None:
        """When a cycle of the source last committed its cursor (`baton status` on SQLite)."""
        c = schema.cursors.c
        with self.engine.connect() as connection:
            return connection.execute(select(c.updated_at).where(c.source == source)).scalar()

    def pause(self, source: str, until: datetime | None, reason: str = "") -> None:
        c = schema.cursors.c
        with self.engine.begin() as connection:
            self._fenced(connection)
            connection.execute(update(schema.cursors).where(c.source == source)
                               .values(paused_until=until, pause_reason=reason or None))

    # -- records and transitions -------------------------------------------------------------

    def known_records(self, source: str, ids: Sequence[str]) -> dict[str, KnownRecord]:
        c = schema.records.c
        found: dict[str, KnownRecord] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(ids):
                rows = connection.execute(
                    select(c.record_id, c.status, c.status_since, c.fingerprint)
                    .where(c.source == source, c.record_id.in_(chunk)))
                for row in rows:
                    found[row[0]] = KnownRecord(row[0], row[1], row[2], row[3])
        return found

    def existing_transition_keys(self, keys: Sequence[str]) -> set[str]:
        c = schema.transitions.c
        found: set[str] = set()
        with self.engine.connect() as connection:
            for chunk in _chunks(keys):
                found.update(connection.execute(select(c.key).where(c.key.in_(chunk))).scalars())
        return found

    def commit_cycle(self, write: CycleWrite, now: datetime) -> None:
        """Make a cycle durable in one transaction; the cursor moves last."""
        with self.engine.begin() as connection:
            self._fenced(connection)
            self._upsert_records(connection, write, now)
            if write.transitions:
                connection.execute(
                    self._insert_ignore(schema.transitions, ["key"]),
                    [_transition_row(t, now, write.transition_values.get(t.key))
                     for t in write.transitions])
            if write.evaluations:
                # One verdict per (transition, gate); a held one (rows.HELD) gives way to the
                # decision taken once the lookup's source is fresh again.
                statement = self._dialect_insert(schema.evaluations)
                decided = ("rule_version", "passed", "failures_json", "values_json",
                           "values_basis", "evaluated_at")
                connection.execute(statement.on_conflict_do_update(
                    index_elements=["transition_key", "gate_id"],
                    set_={k: statement.excluded[k] for k in decided},
                    where=schema.evaluations.c.values_basis.like(HELD + "%")), [
                    {"transition_key": e.transition_key, "source": e.source, "record_id": e.record_id,
                     "gate_id": e.gate_id, "rule_version": e.rule_version, "passed": e.passed,
                     "failures_json": _dumps(e.failures), "values_json": _dumps(e.values),
                     "values_basis": e.basis, "mode": e.mode, "evaluated_at": now}
                    for e in write.evaluations])
            if write.opened:
                connection.execute(self._insert_ignore(schema.violations, ["transition_key", "gate_id"]), [
                    {"source": write.source, "record_id": r, "gate_id": g, "transition_key": t,
                     "opened_at": now} for r, g, t in write.opened])
            v, t = schema.violations.c, schema.transitions.c
            for record_id, gate_id, by_key in write.resolved:
                # Only violations opened by an earlier entry (or one not recorded): one cycle may hold several entries
                # of one record into one gate (fail, fixed, pass), and a failure supersedes the
                # violations before it, not itself.
                resolving_at = select(t.at).where(t.key == by_key).scalar_subquery()
                not_earlier = select(t.key).where(t.source == write.source,
                                                  t.record_id == record_id, t.at >= resolving_at)
                connection.execute(update(schema.violations).where(
                    v.source == write.source, v.record_id == record_id, v.gate_id == gate_id,
                    v.resolved_at.is_(None), v.transition_key != by_key,
                    v.transition_key.not_in(not_earlier))
                    .values(resolved_at=now, resolved_by=by_key))
            if write.owner_changes:
                connection.execute(self._insert_ignore(
                    schema.owner_changes, ["source", "record_id", "at", "owner"]), [
                    {"source": write.source, "record_id": c.record_id, "at": c.at,
                     "owner": str(c.new), "previous": None if c.old is None else str(c.old)}
                    for c in write.owner_changes if c.new])
            if write.actions:
                connection.execute(self._insert_ignore(schema.ledger, ["key"]), [
                    {"key": a.key, "source": a.source, "record_id": a.record_id,
                     "gate_id": a.gate_id, "transition_key": t, "kind": a.kind.value,
                     "action_json": _dumps(action_to_dict(a)), "state": "pending", "attempts": 0,
                     "created_at": now} for a, t in write.actions])
            if write.timer_claims:
                self._claim_timers(connection, write.timer_claims)
            if write.timers:
                statement = self._dialect_insert(schema.sla_timers)
                connection.execute(statement.on_conflict_do_update(
                    index_elements=[schema.sla_timers.c.key],
                    set_={k: statement.excluded[k] for k in (
                        "deadline", "met_at", "closed_at", "breached", "steps_fired")}),
                    [_timer_row(t) for t in write.timers])
            crashpoint("in_commit")
            if write.advance_cursor or write.baseline:
                self._set_cursor(connection, write.source, write.cursor, now)

    def _claim_timers(self, connection: Any, claims: Mapping[str, int]) -> None:
        """The SLA timers this commit advances, claimed: on PostgreSQL locked `FOR UPDATE SKIP
        LOCKED` (a timer another transaction is advancing is skipped, not waited for), and
        each must still have the steps this cycle read; else the whole commit is refused, so
        no step is planned twice. On SQLite the single writer's lock is the equivalent."""
        c = schema.sla_timers.c
        found: dict[str, int] = {}
        for chunk in _chunks(list(claims)):
            query = select(c.key, c.steps_fired).where(c.key.in_(chunk))
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            found.update({row[0]: int(row[1]) for row in connection.execute(query)})
        taken = sorted(k for k, fired in claims.items() if found.get(k) != fired)
        if taken:
            raise ClaimLost(f"SLA timer {taken[0]} (and {len(taken) - 1} more) was advanced by "
                            "another writer since this cycle read it; the cycle is refused and "
                            "runs again from what is stored", None)

    def _upsert_records(self, connection: Any, write: CycleWrite, now: datetime) -> None:
        # _CHUNK rows at a time: a page's rows, their JSON and the driver's copy of them are
        # not all held at once
        for chunk in _chunks(write.records):
            rows = [self._record_row(write, record, now) for record in chunk]
            for with_since in (True, False):
                batch = [r for r in rows if ("status_since" in r) == with_since]
                if batch:
                    connection.execute(self._record_upsert(with_since), batch)

    @staticmethod
    def _record_row(write: CycleWrite, record: Record, now: datetime) -> dict[str, Any]:
        row = {
            "source": write.source, "record_id": record.id, "name": record.name,
            "status": record.status, "owner": record.owner, "url": record.url,
            "fingerprint": record.fingerprint or "", "fields_json": _dumps(record.fields),
            "seen_at": now,
        }
        if record.id in write.status_since:
            row["status_since"] = write.status_since[record.id]
        return row

    def _record_upsert(self, with_since: bool) -> Any:
        statement = self._dialect_insert(schema.records)
        updates = {k: statement.excluded[k] for k in (
            "name", "status", "owner", "url", "fingerprint", "fields_json", "seen_at")}
        if with_since:
            updates["status_since"] = statement.excluded.status_since
        c = schema.records.c
        return statement.on_conflict_do_update(index_elements=[c.source, c.record_id], set_=updates)

    def _set_cursor(self, connection: Any, source: str, cursor: str | None, now: datetime) -> None:
        statement = self._dialect_insert(schema.cursors).values(
            source=source, cursor=cursor, baseline_at=now, updated_at=now)
        connection.execute(statement.on_conflict_do_update(
            index_elements=[schema.cursors.c.source],
            set_={"cursor": statement.excluded.cursor, "updated_at": statement.excluded.updated_at}))

    # -- the write-back ledger ---------------------------------------------------------------

    def pending_actions(self, source: str) -> list[LedgerEntry]:
        c = schema.ledger.c
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(c.action_json, c.transition_key, c.state, c.attempts, c.remote_id)
                .where(c.source == source, c.state == "pending").order_by(c.created_at, c.key))
            return [LedgerEntry(action_from_dict(json.loads(r[0])), r[1], r[2], r[3], r[4]) for r in rows]

    def mark_attempt(self, keys: Sequence[str]) -> None:
        """Recorded before a write goes out: attempts > 0 means 'may have been written'."""
        c = schema.ledger.c
        with self.engine.begin() as connection:
            self._fenced(connection)
            for chunk in _chunks(keys):
                connection.execute(update(schema.ledger).where(c.key.in_(chunk))
                                   .values(attempts=c.attempts + 1))

    def finish_actions(self, results: Iterable[ActionResult], now: datetime,
                       max_attempts: int = 5, *,
                       changed: Mapping[str, Sequence[str]] | None = None) -> None:
        """`changed`: records (ids by source) that Baton's own writes just edited. The version
        stored for them is the one read before the write, so it is forgotten: a record put back
        before the next poll exactly as that version (a sheet row has no stamp, and Baton's note
        column is not part of its version) is still read as changed."""
        c = schema.ledger.c
        with self.engine.begin() as connection:
            self._fenced(connection)
            r = schema.records.c
            for source, ids in (changed or {}).items():
                for chunk in _chunks(ids):
                    connection.execute(update(schema.records).where(
                        r.source == source, r.record_id.in_(chunk)).values(fingerprint=""))
            for result in results:
                if result.ok:
                    values: dict[str, Any] = {"state": "done", "remote_id": result.remote_id,
                                              "done_at": now, "last_error": None}
                    connection.execute(update(schema.ledger).where(c.key == result.key).values(**values))
                else:
                    # A retryable failure stays pending; a permanent one (or too many tries) fails.
                    connection.execute(update(schema.ledger).where(c.key == result.key).values(
                        last_error=(result.error or "")[:2000],
                        state=_failed_state(result.retryable, c.attempts, max_attempts)))

    def own_moves(self, source: str, record_ids: Sequence[str]) -> dict[str, list[StatusChange]]:
        """The bounces Baton wrote to these records, oldest first, each timed by the cycle that
        wrote it (a bounce found already moved on is not one: nothing was written)."""
        c = schema.ledger.c
        found: dict[str, list[StatusChange]] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(record_ids):
                rows = connection.execute(
                    select(c.record_id, c.action_json, c.done_at, c.remote_id)
                    .where(c.source == source, c.state == "done",
                           c.kind == ActionKind.MOVE_STATUS.value, c.record_id.in_(chunk))
                    .order_by(c.done_at, c.key))
                for record_id, action_json, done_at, remote_id in rows:
                    if done_at is None or str(remote_id or "").startswith(SUPERSEDED):
                        continue
                    action = action_from_dict(json.loads(action_json))
                    found.setdefault(record_id, []).append(StatusChange(
                        record_id, action.expected_status, str(action.value), done_at,
                        TimeSource.WRITE))
        return found

    def open_violations(self, source: str, record_ids: Sequence[str]) -> dict[tuple[str, str], OpenViolation]:
        """Unresolved violations of these records, with what each wrote (two queries a chunk)."""
        v, lg = schema.violations.c, schema.ledger.c
        found: dict[tuple[str, str], OpenViolation] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(record_ids):
                rows = connection.execute(
                    select(v.record_id, v.gate_id, v.transition_key, v.opened_at)
                    .where(v.source == source, v.record_id.in_(chunk), v.resolved_at.is_(None))).all()
                written: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
                for key, kind, remote_id, transition_key, gate_id in connection.execute(
                        select(lg.key, lg.kind, lg.remote_id, lg.transition_key, lg.gate_id).where(
                            lg.transition_key.in_({row[2] for row in rows}), lg.state == "done",
                            lg.remote_id.is_not(None)).order_by(lg.created_at, lg.key)):
                    written.setdefault((transition_key, gate_id), []).append((key, kind, remote_id))
                for record_id, gate_id, transition_key, opened_at in rows:
                    found[(record_id, gate_id)] = OpenViolation(
                        source, record_id, gate_id, transition_key, opened_at,
                        written.get((transition_key, gate_id), []))
        return found

    def ledger_rows(self, keys: Sequence[str]) -> dict[str, LedgerEntry]:
        """Ledger rows by key (what a write of this cycle answers: its remote id, once known)."""
        c = schema.ledger.c
        found: dict[str, LedgerEntry] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(list(dict.fromkeys(keys))):
                for r in connection.execute(
                        select(c.key, c.action_json, c.transition_key, c.state, c.attempts,
                               c.remote_id).where(c.key.in_(chunk))):
                    found[r[0]] = LedgerEntry(action_from_dict(json.loads(r[1])), r[2], r[3],
                                              r[4], r[5])
        return found

    def digest_members(self, source: str, digests: Sequence[str]) -> dict[str, set[tuple[str, str]]]:
        """The violations each digest (by remote id) told of that are still open: (record, gate)."""
        lg, v = schema.ledger.c, schema.violations.c
        found: dict[str, set[tuple[str, str]]] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(list(dict.fromkeys(digests))):
                rows = connection.execute(
                    select(lg.remote_id, v.record_id, v.gate_id)
                    .join(schema.violations, and_(v.transition_key == lg.transition_key,
                                                  v.gate_id == lg.gate_id))
                    .where(lg.source == source, lg.kind == "digest_item", lg.state == "done",
                           lg.remote_id.in_(chunk), v.resolved_at.is_(None)))
                for remote_id, record_id, gate_id in rows:
                    found.setdefault(remote_id, set()).add((record_id, gate_id))
        return found

    # -- SLA timers ----------------------------------------------------------------------------

    def open_timers(self, source: str) -> list[SlaTimer]:
        c = schema.sla_timers.c
        with self.engine.connect() as connection:
            rows = connection.execute(select(schema.sla_timers).where(
                c.source == source, c.closed_at.is_(None)).order_by(c.started_at, c.key))
            return [SlaTimer(**dict(r._mapping)) for r in rows]

    def timers(self, source: str | None = None) -> list[SlaTimer]:
        c = schema.sla_timers.c
        query = select(schema.sla_timers).order_by(c.started_at, c.key)
        if source:
            query = query.where(c.source == source)
        with self.engine.connect() as connection:
            return [SlaTimer(**dict(r._mapping)) for r in connection.execute(query)]

    def owner_changes(self, source: str) -> list[FieldChange]:
        """A source's owner changes from the tools' history, oldest first (old, new: ids)."""
        c = schema.owner_changes.c
        query = select(schema.owner_changes).where(c.source == source).order_by(
            c.record_id, c.at)
        with self.engine.connect() as connection:
            return [FieldChange(r.record_id, "OwnerId", r.previous, r.owner, r.at)
                    for r in connection.execute(query)]

    def records_by_id(self, source: str, ids: Sequence[str]) -> dict[str, Record]:
        """Stored snapshots as Records (for messages about records that did not change)."""
        c = schema.records.c
        found: dict[str, Record] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(ids):
                for row in connection.execute(select(schema.records).where(
                        c.source == source, c.record_id.in_(chunk))):
                    found[row.record_id] = StoredRecord.from_row(row).as_record()
        return found

    # -- reading for reports, explain and preview --------------------------------------------

    def transitions(self, source: str | None = None, since: datetime | None = None,
                    until: datetime | None = None) -> Iterator[Transition]:
        c = schema.transitions.c
        conditions = []
        if source:
            conditions.append(c.source == source)
        if since:
            conditions.append(c.at >= since)
        if until:
            conditions.append(c.at < until)
        query = select(c.source, c.record_id, c.from_status, c.to_status, c.at, c.time_source,
                       c.backfilled).where(and_(True, *conditions)).order_by(c.at, c.key)
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                yield Transition(row[0], row[1], row[2], row[3], row[4], TimeSource(row[5]), row[6])

    def transition_values(self, source: str, since: datetime | None = None
                          ) -> Iterator[tuple[Transition, TransitionValues | None]]:
        """Transitions with the record's values recorded at each (None: not recorded)."""
        c = schema.transitions.c
        query = select(c.source, c.record_id, c.from_status, c.to_status, c.at, c.time_source,
                       c.backfilled, c.values_json).where(c.source == source)
        if since:
            query = query.where(c.at >= since)
        with self.engine.connect() as connection:
            for row in connection.execute(query.order_by(c.at, c.key)):
                yield (Transition(row[0], row[1], row[2], row[3], row[4], TimeSource(row[5]), row[6]),
                       TransitionValues.from_json(row[7]))

    def evaluations(self, source: str | None = None, record_id: str | None = None) -> list[EvaluationRow]:
        c = schema.evaluations.c
        query = select(schema.evaluations)
        if source:
            query = query.where(c.source == source)
        if record_id:
            query = query.where(c.record_id == record_id)
        with self.engine.connect() as connection:
            return [EvaluationRow.from_row(r)
                    for r in connection.execute(query.order_by(c.evaluated_at, c.id))]

    def held_evaluations(self, source: str) -> list[EvaluationRow]:
        """Verdicts still waiting for a fresh lookup source (rows.HELD), oldest first."""
        c = schema.evaluations.c
        query = select(schema.evaluations).where(c.source == source,
                                                 c.values_basis.like(HELD + "%"))
        with self.engine.connect() as connection:
            return [EvaluationRow.from_row(r)
                    for r in connection.execute(query.order_by(c.evaluated_at, c.id))]

    def transitions_by_key(self, keys: Sequence[str]) -> dict[str, Transition]:
        c = schema.transitions.c
        found: dict[str, Transition] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(keys):
                for row in connection.execute(select(schema.transitions).where(c.key.in_(chunk))):
                    found[row.key] = Transition(row.source, row.record_id, row.from_status,
                                                row.to_status, row.at, TimeSource(row.time_source),
                                                row.backfilled)
        return found

    def ledger_entries(self, record_id: str | None = None) -> list[LedgerRow]:
        c = schema.ledger.c
        query = select(schema.ledger)
        if record_id:
            query = query.where(c.record_id == record_id)
        with self.engine.connect() as connection:
            return [LedgerRow.from_row(r)
                    for r in connection.execute(query.order_by(c.created_at, c.key))]

    def stored_records(self, source: str, record_id: str | None = None,
                       seen_after: datetime | None = None) -> Iterator[StoredRecord]:
        """A source's snapshot; `seen_after`: only the records stored after that time (what a
        cross-tool lookup index must read again, engine.lookups)."""
        c = schema.records.c
        query = select(schema.records).where(c.source == source)
        if record_id:
            query = query.where(c.record_id == record_id)
        if seen_after is not None:
            query = query.where(c.seen_at > seen_after)
        with self.engine.connect() as connection:
            for row in connection.execute(query.order_by(c.record_id)):
                yield StoredRecord.from_row(row)

    def find_records(self, record_id: str) -> list[StoredRecord]:
        """A record by id in any source (for `baton explain`)."""
        c = schema.records.c
        with self.engine.connect() as connection:
            sources = connection.execute(select(c.source).where(c.record_id == record_id)).scalars().all()
        return [r for s in sources for r in self.stored_records(s, record_id)]

    def count(self, table: str) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(
                schema.metadata.tables[table])).scalar() or 0)

    # -- dialect helpers ---------------------------------------------------------------------

    def _fenced(self, connection: Any) -> None:
        """PostgreSQL: refuse the write (LeaseLost) unless this instance still holds its lease."""
        fence = self.fence or database.active_fence()
        if fence is not None and self.engine.dialect.name == "postgresql":
            fence.check(connection)

    def _dialect_insert(self, table: Any) -> Any:
        # the dialect's own module, imported when used: a SQLite deployment never loads the
        # PostgreSQL dialect (~2 MB of RSS), nor the other way round
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql
            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite
        return sqlite.insert(table)

    def _insert_ignore(self, table: Any, conflict: list[str]) -> Any:
        return self._dialect_insert(table).on_conflict_do_nothing(index_elements=conflict)


def _failed_state(retryable: bool, attempts: Any, max_attempts: int) -> Any:
    from sqlalchemy import case

    if not retryable:
        return "failed"
    return case((attempts >= max_attempts, "failed"), else_="pending")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # SQLite's default page cache is 2 MiB per connection, and the pool keeps one connection per
    # thread; Baton reads by key and the OS caches the file anyway: 512 KiB each (`benchmarks.lookback`).
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _transition_row(t: Transition, now: datetime,
                    seen: tuple[Record, str] | None = None) -> dict[str, Any]:
    return {"key": t.key, "source": t.source, "record_id": t.record_id,
            "from_status": t.from_status, "to_status": t.to_status, "at": t.at,
            "time_source": t.time_source.value, "recorded_at": now, "backfilled": t.backfilled,
            "values_json": None if seen is None else _dumps(values_at(*seen))}


def _timer_row(t: SlaTimer) -> dict[str, Any]:
    return {"key": t.key, "source": t.source, "record_id": t.record_id, "sla_id": t.sla_id,
            "transition_key": t.transition_key, "started_at": t.started_at, "deadline": t.deadline,
            "met_at": t.met_at, "closed_at": t.closed_at, "breached": t.breached,
            "steps_fired": t.steps_fired}


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)


def _chunks(items: Iterable[T]) -> Iterator[list[T]]:
    items = list(items)
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _now() -> datetime:
    return datetime.now(UTC)
