"""`baton reset-state`: move the state aside (never delete it) so the next run takes a new baseline.

For a state file that `baton run` refuses (damaged, empty, from a newer Baton) or a deliberate
fresh start. It holds the writer lock, so it cannot pull the state from under a running Baton.
The journal files move with it under matching names, so the moved copy still opens in SQLite.
"""
from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from baton.app import exit_codes
from baton.app.state import state_location, writing
from baton.core.config import Secrets, load_config
from baton.core.errors import ConfigError, StateNotWritable
from baton.store import StateStore
from baton.store.copy import copy_state
from baton.store.database import PASSWORD_SECRET, describe, is_postgresql

JOURNALS = ("-wal", "-shm")


def command_reset_state(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    location = state_location(config)
    if not isinstance(location, Path):
        raise ConfigError(f"baton.state is a database URL ({config.baton.state}); reset-state "
                          "moves a SQLite file aside and cannot reset a database")
    with writing(config):
        moved = move_aside(location, datetime.now(UTC))
    if moved is None:
        print(f"No state file at {location}: nothing to move; the next `baton run` takes a baseline.")
    else:
        print(f"Moved {location} to {moved} (kept, not deleted). The next `baton run` takes a new "
              "baseline: it records every record's current status and writes nothing back for it.")
    return exit_codes.OK


def move_aside(state: Path, now: datetime) -> Path | None:
    """Rename the state and its journal to `<name>.moved-<UTC time>`; None if there is none."""
    if not state.exists() and not any(_journal(state, j).exists() for j in JOURNALS):
        return None
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    target = state.with_name(f"{state.name}.moved-{stamp}")
    count = 1
    while target.exists() or any(_journal(target, j).exists() for j in JOURNALS):
        count += 1
        target = state.with_name(f"{state.name}.moved-{stamp}-{count}")
    try:
        # the journal first: a -wal left beside a new state file would be replayed into it
        for suffix in JOURNALS:
            if _journal(state, suffix).exists():
                _journal(state, suffix).rename(_journal(target, suffix))
        if state.exists():
            state.rename(target)
    except OSError as error:
        raise StateNotWritable(f"cannot move {state} aside: {error.strerror}") from None
    return target


def _journal(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def command_migrate_state(args: argparse.Namespace) -> int:
    """Copy this config's SQLite state into an empty PostgreSQL database and verify the counts.
    It holds the SQLite state's writer lock, so no `baton run` changes it during the copy."""
    config = load_config(args.config)
    location = state_location(config)
    if not isinstance(location, Path):
        raise ConfigError(f"baton.state is already a database URL ({describe(location)}); "
                          "migrate-state copies a SQLite state file into PostgreSQL")
    if not is_postgresql(args.to):
        raise ConfigError(f"--to must be a postgresql:// URL, not {describe(args.to)}")
    if not location.exists():
        raise ConfigError(f"there is no state file at {location} to copy")
    secrets = Secrets(config.resolve(config.baton.secrets_file)
                      if config.baton.secrets_file else None)
    with writing(config):
        source = StateStore.open(location)
        target = StateStore.open(args.to, secrets.get(PASSWORD_SECRET))
        try:
            copied = copy_state(source, target)
        finally:
            source.engine.dispose()
            target.engine.dispose()
    print(f"Copied {location} into {describe(args.to)}; rows verified per table:")
    for table, rows in copied.items():
        print(f"  {table}: {rows}")
    print(f'Point config.toml at it (state = "{describe(args.to)}", the password in '
          f"{PASSWORD_SECRET}); the SQLite file is left as it was.")
    return exit_codes.OK
