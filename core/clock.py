"""Time helpers: Baton works in tz-aware UTC everywhere and converts only at the edges."""
from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
