"""Shared fixtures: the sandbox (real emulators on 127.0.0.1 HTTPS) and a Baton runtime on it."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from baton.connectors.retry import RetryPolicy
from baton.core.config import load_config
from baton.sandbox.environment import Sandbox, SandboxClock

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_structlog():
    """A test that configures logging (the demo, the CLI) must not filter the next test's logs."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def pg_server():
    """A database of this test session's own on the PostgreSQL server, dropped at the end."""
    from tests.pg_helpers import PgServer

    server = PgServer()
    yield server
    server.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def state_location(request, tmp_path):
    """Where a test's state lives: a SQLite file, or a fresh schema on PostgreSQL."""
    if request.param == "sqlite":
        return tmp_path / "state.db"
    return request.getfixturevalue("pg_server").fresh_url()


@pytest.fixture
def demo_config():
    return load_config(ROOT / "config.toml")


@pytest.fixture
def make_sandbox(tmp_path):
    started = []

    def make(*tools: str, frozen: bool = True) -> Sandbox:
        box = Sandbox(tmp_path / f"sandbox{len(started)}", clock=SandboxClock(
            START if frozen else None, frozen=frozen), tools=tools or ("salesforce", "asana", "sheets"))
        started.append(box.start())
        return box

    yield make
    for box in started:
        box.stop()


@pytest.fixture
def runtime_state(tmp_path):
    """The state `runtime_on` uses; a module that overrides it with `state_location` runs its
    tests on SQLite and on PostgreSQL."""
    return tmp_path / "state.db"


@pytest.fixture
def runtime_on(demo_config, runtime_state):
    """A Baton runtime (store, rules, real connectors) pointed at a started sandbox."""
    from baton.app.runtime import open_runtime

    def make(box: Sandbox, config=None):
        configured, secrets = box.configure(config or demo_config, runtime_state)
        # Real retries, without the waiting: a fault storm in a test ends in milliseconds.
        runtime = open_runtime(configured, secrets, retry=RetryPolicy(attempts=3, sleep=lambda s: None))
        return runtime, runtime.runner(clock=box.clock.now)

    return make
