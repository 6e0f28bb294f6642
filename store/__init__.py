"""All SQL: migrations, records, transitions, the write-back ledger, cursors."""
from store.models import CycleWrite, Evaluation, KnownRecord, LedgerEntry, OpenViolation, SlaTimer, Transition
from store.state import StateStore

__all__ = ["CycleWrite", "Evaluation", "KnownRecord", "LedgerEntry", "OpenViolation",
           "SlaTimer", "StateStore", "Transition"]
