"""`baton migrate-state`: copy a whole state (SQLite) into another (PostgreSQL), then verify it.

Every table the migrations made is copied row for row (records, transitions, evaluations,
violations, the write-back ledger, cursors, SLA timers, and whatever a later migration adds),
in one transaction on the target: a copy that fails half-way leaves the target as it was. The
target must be empty (its migrations run first, so both sides hold the same schema version);
a copy is never merged into a state that already holds data. Row counts are compared per table
after the commit; a difference raises `StateFileError`. Identity counters (evaluations and
violations ids) are moved past the copied ids, so the next insert on PostgreSQL cannot collide.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy import text as sql_text

from baton.core.errors import StateFileError
from baton.store import schema
from baton.store.database import describe
from baton.store.state import StateStore

_BATCH = 1000


def copied_tables() -> list[Table]:
    """Every table but the schema version (the target's own migrations wrote that)."""
    return [t for t in schema.metadata.sorted_tables if t is not schema.schema_version]


def counts(store: StateStore) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {t.name: int(connection.execute(select(func.count()).select_from(t)).scalar() or 0)
                for t in copied_tables()}


def copy_state(source: StateStore, target: StateStore) -> dict[str, int]:
    """Copy `source` into the empty `target`; the verified row count of each table."""
    if source.migrate() != target.migrate():
        raise StateFileError("the two states are at different schema versions; run this Baton "
                             "on the source state once first")
    held = {name: n for name, n in counts(target).items() if n}
    if held:
        raise StateFileError(
            f"the target state {describe(target.location)} already holds data "
            f"({', '.join(f'{n} {name}' for name, n in held.items())}); migrate-state copies "
            "into an empty database only")
    expected = counts(source)
    with source.engine.connect() as reading, target.engine.begin() as writing:
        for table in copied_tables():
            for batch in _batches(reading, table):
                writing.execute(table.insert(), batch)
        if target.engine.dialect.name == "postgresql":
            for table in copied_tables():
                for column in table.primary_key.columns:
                    if column.autoincrement is True:
                        writing.execute(sql_text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                            f"'{column.name}'), COALESCE((SELECT MAX({column.name}) FROM "
                            f"{table.name}), 0) + 1, false)"))
    found = counts(target)
    if found != expected:
        wrong = {name: (expected[name], found.get(name)) for name in expected
                 if expected[name] != found.get(name)}
        raise StateFileError(f"the copy does not match its source (table: source rows, copied "
                             f"rows): {wrong}")
    return found


def _batches(connection: Any, table: Table) -> Iterator[list[dict[str, Any]]]:
    order = list(table.primary_key.columns)
    result = connection.execute(select(table).order_by(*order))
    while rows := result.fetchmany(_BATCH):
        yield [dict(row._mapping) for row in rows]
