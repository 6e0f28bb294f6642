"""Which database a state location names, and the SQLAlchemy engine for it.

A path is a SQLite file (WAL); `postgresql://…` (or `postgres://…`) is a PostgreSQL database,
driven by psycopg 3. The password never sits in config.toml: it comes from the environment or the
secrets file (`BATON_STATE_PASSWORD`, or libpq's own `PGPASSWORD` / `~/.pgpass`), and a URL is
only ever shown with its password hidden (`describe`).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from baton.core.errors import StateFileError

PASSWORD_SECRET = "BATON_STATE_PASSWORD"
_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def is_url(location: object) -> bool:
    return "://" in str(location)


def is_postgresql(location: object) -> bool:
    text = str(location)
    return any(text.startswith(f"{scheme}://") for scheme in _SCHEMES)


def postgresql_url(location: str, password: str | None = None) -> URL:
    """The URL as SQLAlchemy takes it: the psycopg 3 driver, the password filled in if given."""
    url = make_url(location.replace("postgres://", "postgresql://", 1))
    url = url.set(drivername="postgresql+psycopg")
    if password and not url.password:
        url = url.set(password=password)
    return url


def describe(location: object) -> str:
    """A location fit for a log line or a message: a URL's password is hidden."""
    text = str(location)
    if not is_url(text):
        return text
    try:
        return make_url(text).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown without anything after '@'
        return text.split("@")[-1]


def postgresql_engine(location: str, password: str | None = None, **options: Any) -> Engine:
    """A pooled engine on a PostgreSQL state. Connections are checked before use (a restarted
    server or a dropped connection is noticed before a write, not in the middle of one), and
    every session runs in UTC with a statement timeout, so a stuck lock cannot hang a cycle."""
    url = postgresql_url(location, password)
    given = url.query.get("options")  # e.g. a search_path, kept before Baton's own settings
    options_text = " ".join([*([given] if isinstance(given, str) else list(given or ())),
                             "-c timezone=UTC -c statement_timeout=30000",
                             # a frozen holder (SIGSTOP) cannot keep a lease row locked
                             "-c idle_in_transaction_session_timeout=10000"])
    connect_args = {"connect_timeout": 5, "options": options_text}
    settings: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5,
                                **options}
    return create_engine(url.difference_update_query(["options"]), connect_args=connect_args,
                         **settings)


def unusable(location: str, error: Exception) -> StateFileError:
    """The one-line refusal of a PostgreSQL state that does not answer or cannot be written."""
    reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
    return StateFileError(f"state {describe(location)}: cannot use the PostgreSQL database "
                          f"({reason}); check that it answers and that the user may create tables")


def lock_migrations(connection: Connection, key: int) -> None:
    """Several instances may start at once: their migrations are serialised by an advisory lock
    held for the migrating transaction only (so it cannot strand behind PgBouncer)."""
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


@contextmanager
def transaction(engine: Engine, shared: Connection | None) -> Iterator[Connection]:
    """A transaction of its own, or the one the caller already holds."""
    if shared is not None:
        yield shared
        return
    with engine.begin() as connection:
        yield connection


_active_fence: Any = None


def set_active_fence(fence: Any) -> None:
    """The lease (`leases.PgLease`) this process writes under; None when it holds none."""
    global _active_fence
    _active_fence = fence


def active_fence() -> Any:
    return _active_fence
