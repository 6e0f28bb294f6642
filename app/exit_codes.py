"""Baton's exit codes: what a supervisor (systemd, a container runtime, cron) acts on.

The README lists them; deploy/baton.service does not restart on the ones a person must fix.
"""
OK = 0
PROBLEMS = 1  # `check` found problems, a `test` example did not hold; `run --once` had a failing source; nothing to explain/preview
USAGE = 2  # a bad command line or configuration (config.toml, rules, secrets): a person fixes it
STATE_FILE = 65  # the state file cannot be used (not SQLite, truncated, damaged, empty, newer Baton)
STATE_NOT_WRITABLE = 73  # the state file, its journal or its folder is read-only
STATE_LOCKED = 75  # another Baton process writes this state


class UsageError(Exception):
    """A command line that cannot be carried out (a missing folder, ...): exit 2, one line."""


class Refused(Exception):
    """Nothing to work on (an empty or missing state, no such record): exit 1, one line."""
