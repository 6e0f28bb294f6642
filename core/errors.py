"""Exceptions, grouped by what the caller does next.

    BatonError
    ├── ConfigError            the admin fixes config.toml / a secret; the source does not start
    ├── StateError             the state store cannot be used as it is; nothing starts
    │   ├── StateFileError     not SQLite, truncated, corrupt, empty, or from a newer Baton
    │   ├── StateNotWritable   a read-only state file or folder
    │   └── StateLocked        another process writes this state (`holder` says which)
    └── SourceError            skip this source this cycle; the others go on
        ├── TransientError     retried with backoff (429, 5xx, timeouts, truncated bodies)
        │   └── RateLimited    the tool asked us to wait `retry_after` seconds
        ├── AuthError          re-authenticate once, then give up for this cycle
        ├── QuotaExhausted     pause the source until `resume_at` (Salesforce daily allocation)
        └── PayloadError       the tool answered something we cannot read; logged, skipped
"""
from __future__ import annotations

from datetime import datetime


class BatonError(Exception):
    """Base of every error Baton raises on purpose."""


class ConfigError(BatonError):
    """Configuration or credentials are wrong; a person has to fix them."""


class StateError(BatonError):
    """The state store cannot be used as it is; a person decides (restore, reset, stop the other)."""


class StateFileError(StateError):
    """The state file is not a usable Baton state: restore it or take a new baseline on purpose."""


class StateNotWritable(StateError):
    """The state file, its journal or its folder cannot be written by this user."""


class StateLocked(StateError):
    """Another process holds the state's writer lock."""

    def __init__(self, message: str, holder: object = None) -> None:
        super().__init__(message)
        self.holder = holder


class SourceError(BatonError):
    """This source failed this cycle."""


class TransientError(SourceError):
    """Worth retrying after a wait."""


class RateLimited(TransientError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(SourceError):
    """The session expired or was refused."""


class QuotaExhausted(SourceError):
    def __init__(self, message: str, resume_at: datetime) -> None:
        super().__init__(message)
        self.resume_at = resume_at


class PayloadError(SourceError):
    """An answer we cannot interpret."""
