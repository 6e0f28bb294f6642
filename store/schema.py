"""Tables and named, versioned migrations. Portable SQL: SQLite now, PostgreSQL later.

A migration is appended, never edited: an existing state file is brought forward step by step,
each step in its own transaction.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DefaultClause,
    Boolean,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
    text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the store; connectors must return UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("applied_at", UTCDateTime(), nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("cursor", Text),
    Column("baseline_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("paused_until", UTCDateTime()),
    Column("pause_reason", Text),
)

# The last known state of every record: what the next poll is compared against.
records = Table(
    "records",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("record_id", String(200), primary_key=True),
    Column("name", Text, nullable=False),
    Column("status", Text),
    Column("status_since", UTCDateTime()),
    Column("owner", Text),
    Column("url", Text),
    Column("fingerprint", String(64), nullable=False),
    Column("fields_json", Text, nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
)

transitions = Table(
    "transitions",
    metadata,
    Column("key", String(40), primary_key=True),  # hash of (source, record, to, at)
    Column("source", String(200), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("time_source", String(20), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("backfilled", Boolean, nullable=False, default=False),
    # The record as Baton saw it for this transition (name, owner, every fetched field, and the
    # basis: "" in the status, else which values), JSON; NULL: not recorded (a backfill, or a
    # state from before migration 6). What `preview` replays an edited gate on.
    Column("values_json", Text),
    Index("ix_transitions_source_at", "source", "at"),
    Index("ix_transitions_record", "source", "record_id", "at"),
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("transition_key", String(40), nullable=False),
    Column("source", String(200), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("gate_id", String(200), nullable=False),
    Column("rule_version", String(40), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("failures_json", Text, nullable=False),
    Column("values_json", Text, nullable=False),
    Column("evaluated_at", UTCDateTime(), nullable=False),
    # Which values the gate saw: "" for the record as it is in the gated status, else a note
    # such as "values as of <time> from history" (added by migration 3).
    Column("values_basis", Text, nullable=False, server_default=""),
    # "enforce", or "observe" for a gate in shadow mode (it wrote nothing); migration 6
    Column("mode", String(20), nullable=False, server_default="enforce"),
    UniqueConstraint("transition_key", "gate_id", name="uq_evaluation"),
    Index("ix_evaluations_record", "source", "record_id"),
)

violations = Table(
    "violations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("gate_id", String(200), nullable=False),
    Column("transition_key", String(40), nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime()),
    Column("resolved_by", String(40)),  # the transition key of the passing re-entry
    UniqueConstraint("transition_key", "gate_id", name="uq_violation"),
    Index("ix_violations_open", "source", "record_id", "gate_id", "resolved_at"),
)

# The write-back ledger: the source of truth for "written exactly once".
ledger = Table(
    "ledger",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("source", String(200), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("gate_id", String(200), nullable=False),
    Column("transition_key", String(40), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("action_json", Text, nullable=False),
    Column("state", String(20), nullable=False),  # pending | done | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("remote_id", Text),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime()),
    Index("ix_ledger_pending", "source", "state"),
    Index("ix_ledger_transition", "transition_key", "gate_id"),
)

# SLA timers: started by a transition, met by a later one, escalated step by step.
sla_timers = Table(
    "sla_timers",
    metadata,
    Column("key", String(40), primary_key=True),  # hash of (sla id, starting transition key)
    Column("source", String(200), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("sla_id", String(200), nullable=False),
    Column("transition_key", String(40), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("deadline", UTCDateTime(), nullable=False),
    Column("met_at", UTCDateTime()),
    Column("closed_at", UTCDateTime()),  # met, or abandoned (the record left without meeting it)
    Column("breached", Boolean, nullable=False, default=False),
    Column("steps_fired", Integer, nullable=False, default=0),
    Index("ix_sla_open", "source", "closed_at"),
    Index("ix_sla_record", "source", "record_id"),
)

# Round-robin owners (`queue:<name>`): who each task's action went to. The rotation's position is
# the number of rows of the queue; a retried action (same key) keeps its member.
queue_assignments = Table(
    "queue_assignments",
    metadata,
    Column("action_key", String(40), primary_key=True),
    Column("queue", String(200), nullable=False),
    Column("member", String(200), nullable=False),
    Column("assigned_at", UTCDateTime(), nullable=False),
    Index("ix_queue_assignments_queue", "queue"),
)


Migration = tuple[int, str, Callable[[Connection], None]]

# PostgreSQL: the transaction-scoped advisory lock that serialises migrations of several instances.
MIGRATION_LOCK_KEY = 0x42A70_0001

owner_changes = Table(
    "owner_changes",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("record_id", String(200), primary_key=True),
    Column("at", UTCDateTime(), primary_key=True),
    Column("owner", String(200), primary_key=True),  # the owner from `at` on (an id)
    Column("previous", String(200), nullable=True),
)


def _create(*tables: Table) -> Callable[[Connection], None]:
    def apply(connection: Connection) -> None:
        for table in tables:
            table.create(connection, checkfirst=True)

    return apply


def _add_column(table: Table, name: str) -> Callable[[Connection], None]:
    """Add a column declared on `table` to a state file made before it (new files have it)."""
    def apply(connection: Connection) -> None:
        if name in {c["name"] for c in inspect(connection).get_columns(table.name)}:
            return
        column = table.c[name]
        ddl = column.type.compile(dialect=connection.dialect)
        server_default = column.server_default
        default = f" DEFAULT {server_default.arg!r}" if isinstance(server_default, DefaultClause) else ""
        null = "" if column.nullable else " NOT NULL"
        connection.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {ddl}{null}{default}"))

    return apply


def _both(*steps: Callable[[Connection], None]) -> Callable[[Connection], None]:
    def apply(connection: Connection) -> None:
        for step in steps:
            step(connection)

    return apply


MIGRATIONS: list[Migration] = [
    (1, "initial: cursors, records, transitions, evaluations, violations, ledger",
     _create(cursors, records, transitions, evaluations, violations, ledger)),
    (2, "sla timers", _create(sla_timers)),
    (3, "evaluations: values basis (history, or current values of a record that moved on)",
     _add_column(evaluations, "values_basis")),
    (4, "queue assignments: round-robin owners of queue tasks", _create(queue_assignments)),
    (5, "owner changes: who owned a record from when, from the tool's history",
     _create(owner_changes)),
    (6, "transition_values: the record's values at each transition; evaluation mode (shadow gates)",
     _both(_add_column(transitions, "values_json"), _add_column(evaluations, "mode"))),
]


def current_version(connection: Connection) -> int:
    schema_version.create(connection, checkfirst=True)
    found = connection.execute(select(schema_version.c.version).order_by(
        schema_version.c.version.desc()).limit(1)).scalar()
    return int(found or 0)
