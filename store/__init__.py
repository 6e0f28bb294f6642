"""All SQL: migrations, records, transitions, the write-back ledger, cursors."""
from baton.store.models import (
    CycleWrite, Evaluation, KnownRecord, LedgerEntry, OpenViolation, SlaTimer,
)
from baton.core.records import Transition
from baton.store.state import StateStore

__all__ = ["CycleWrite", "Evaluation", "KnownRecord", "LedgerEntry", "OpenViolation",
           "SlaTimer", "StateStore", "Transition"]
