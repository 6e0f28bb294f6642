"""A private PostgreSQL database for the tests: made at the start of the session, dropped at its end.

Tests never touch shared data: each gets its own schema (`fresh_url`) in `baton_test_<random>`.
The server is the one `.ci/run` makes sure answers (127.0.0.1:5432, trust auth); without it the
PostgreSQL tests fail (they do not skip), so CI cannot pass on SQLite alone.
"""
from __future__ import annotations

import os
import secrets

import psycopg

HOST = os.environ.get("BATON_TEST_PGHOST", "127.0.0.1")
USER = os.environ.get("BATON_TEST_PGUSER", "postgres")
ADMIN = f"host={HOST} port=5432 user={USER} dbname=postgres connect_timeout=5"


class PgServer:
    def __init__(self) -> None:
        self.database = f"baton_test_{secrets.token_hex(4)}"
        with psycopg.connect(ADMIN, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.database}"')
        self.url = f"postgresql://{USER}@{HOST}:5432/{self.database}"

    def fresh_url(self) -> str:
        """A URL whose search_path is a new, empty schema: one test's own tables."""
        schema = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.conninfo(), autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
        return f"{self.url}?options=-csearch_path%3D{schema}"

    def conninfo(self) -> str:
        return f"host={HOST} port=5432 user={USER} dbname={self.database} connect_timeout=5"

    def drop(self) -> None:
        with psycopg.connect(ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
