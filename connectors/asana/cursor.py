"""The Asana cursor Baton stores: `{"v":1,"sync":...,"reconciled_at":...,"cycle":n,"reconciles":k}`,
and Asana's timestamp text.

`sync` is the events feed's sync token; `reconciled_at` the start of the last poll that listed
tasks (the next `modified_since` starts there, less an overlap); `cycle` and `reconciles` count
polls, to reconcile every `reconcile_every` cycles and sweep the whole project every
`FULL_SWEEP_EVERY`-th reconciliation.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import structlog

log = structlog.get_logger()

RECONCILE_OVERLAP = timedelta(minutes=5)  # clock skew and late commits
FULL_SWEEP_EVERY = 6  # every 6th reconciliation lists the whole project


@dataclass
class AsanaCursor:
    sync: str
    reconciled_at: str  # ISO UTC: the start of the last poll that listed tasks
    cycle: int = 0
    reconciles: int = 0
    v: int = 1

    @classmethod
    def load(cls, text: str | None) -> AsanaCursor | None:
        if not text:
            return None
        try:
            raw = json.loads(text)
            cursor = cls(**{k: raw[k] for k in ("sync", "reconciled_at", "cycle", "reconciles")})
            if not isinstance(cursor.sync, str) or not isinstance(cursor.reconciled_at, str) or \
                    not isinstance(cursor.cycle, int) or not isinstance(cursor.reconciles, int):
                raise TypeError("a field of the wrong type")
            parse_time(cursor.reconciled_at)
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("asana.cursor_unreadable")
            return None
        return cursor

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    def reconcile_since(self) -> str:
        """`modified_since` for a listing that backs up the events: the last one, less an overlap."""
        return iso(parse_time(self.reconciled_at) - RECONCILE_OVERLAP)


def iso(when: datetime) -> str:
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
