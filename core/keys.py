"""Stable identities: of a transition, of a ledger entry, and the marker a write carries."""
from __future__ import annotations

import hashlib

IDEMPOTENCY_TAG = "baton:"


def stable_key(*parts: object) -> str:
    """A short, stable hash of the parts: the identity of a transition or a ledger entry."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


def idempotency_marker(key: str) -> str:
    """The marker a connector embeds in what it writes, so a crash can be repaired by finding it."""
    return f"[{IDEMPOTENCY_TAG}{key}]"
